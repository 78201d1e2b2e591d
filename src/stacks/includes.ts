/**
 * `!include <path> [query]` in stack manifests: YAML, JSON and HCL files become data, anything else text, with an
 * optional jq query; files outside the repository are refused unless the configuration allows them.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { StrataConfig } from '../config/types.ts';
import { HCL_EXTENSIONS, parseHclSync } from '../data/hcl.ts';
import { runJqSync } from '../data/jq.ts';
import { type EngineLimits, LimitError, readFileBounded } from '../data/limits.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { IncludeRef, parseYaml } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { isRemote, lineOf, splitIncludeArgs } from './manifest-paths.ts';

/** What the include resolver needs from the reader. */
export interface IncludeHost {
  config: StrataConfig;
  limits: EngineLimits;
  stacksBase: string;
  /** Included targets must be inside the repository. */
  confine: boolean;
  /** Imported manifests must be inside it too (the controller): changes the hint. */
  confineImports: boolean;
  display(path: string): string;
  source(path: string): string;
}

export class IncludeResolver {
  readonly #host: IncludeHost;
  #roots: string[] | undefined;

  constructor(host: IncludeHost) {
    this.#host = host;
  }

  resolveIncludes(value: unknown, file: string): unknown {
    if (value instanceof IncludeRef) return this.#include(value, file);
    if (Array.isArray(value)) return value.map((item) => this.resolveIncludes(item, file));
    if (isPlainMap(value)) {
      const out: PlainMap = {};
      for (const key of Object.keys(value)) out[key] = this.resolveIncludes(value[key], file);
      return out;
    }
    return value;
  }

  /**
   * `!include <path> [query]`: `./`/`../` relative to the manifest, other paths relative to base_path. YAML, JSON and
   * HCL (`.tf`, `.tfvars`, `.hcl`) files become data, anything else text; the query is a jq expression.
   */
  #include(ref: IncludeRef, file: string): unknown {
    const { target, query } = splitIncludeArgs(ref.args);
    const where = `${this.#host.display(file)}: !include${ref.raw ? '.raw' : ''} ${ref.args}`;
    const at = { file, line: lineOf(this.#host.source(file), target) };
    if (isRemote(target)) {
      throw new StrataError(`${where}: remote includes are not supported by strata`, {
        location: at,
        hint: 'download the file into the repository (or vendor it) and include it by its path',
      });
    }
    const base = target.startsWith('./') || target.startsWith('../') ? dirname(file) : this.#host.config.basePath;
    const path = resolve(base, target.replace(/^~(?=\/)/, process.env.HOME ?? '~'));
    if (!existsSync(path)) {
      throw new StrataError(`!include ${target} in ${this.#host.display(file)}: file not found`, {
        location: at,
        hint: `looked for ${path}; paths starting with ./ or ../ are relative to the manifest, others to base_path`,
      });
    }
    if (this.#host.confine) this.confine(path, where, at);
    let text: string;
    try {
      text = readFileBounded(path, this.#host.limits.maxFileBytes, `the file ${path} (${where})`);
    } catch (error) {
      if (error instanceof LimitError) throw withLocation(error, at);
      throw new StrataError(`${where}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`, {
        location: at,
      });
    }
    let value: unknown = text;
    if (!ref.raw) {
      const ext = extname(path).toLowerCase();
      if (ext === '.json') {
        try {
          value = JSON.parse(text);
        } catch (error) {
          throw new StrataError(`!include ${target} in ${this.#host.display(file)}: invalid JSON in ${path}`, {
            location: at,
            details: (error as Error).message,
          });
        }
      } else if (ext === '.yaml' || ext === '.yml') value = parseYaml(text, path, this.#host.limits);
      else if (HCL_EXTENSIONS.includes(ext)) value = parseHclSync(text, path);
    }
    return query ? runJqSync(value, query, where) : value;
  }

  /**
   * Refuses a file whose real path (symlinks followed) is outside the repository: base_path, or the stacks folder
   * when that is a link to elsewhere.
   */
  confine(path: string, where: string, at: { file: string; line?: number }): void {
    this.#roots ??= [
      ...new Set([this.#host.config.basePath, this.#host.stacksBase].filter(existsSync).map((p) => realpathSync(p))),
    ];
    const real = realpathSync(path);
    const inside = this.#roots.some((root) => {
      const rel = relative(root, real);
      return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
    });
    if (inside) return;
    throw new StrataError(`${where}: ${real} is outside the repository`, {
      location: at,
      hint: this.#host.confineImports
        ? 'the controller reads only files inside the repository'
        : 'copy the file into the repository, or set limits.include_outside_repository: true in atmos.yaml / strata.yaml (CLI runs only)',
    });
  }
}

/** A limit error raised while reading, placed at the manifest that asked for the file. */
export function withLocation(error: LimitError, location: { file: string; line?: number }): LimitError {
  return new LimitError(error.message, { location, hint: error.hint, details: error.details });
}
