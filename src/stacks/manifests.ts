/**
 * Reading stack manifests and assembling each top-level manifest with its imports (Atmos's
 * processYAMLConfigFileWithContext): imports in order, each import merged first, the importing file last;
 * `overrides` scoped to the file that declares them and the files it imports.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { globSync } from 'tinyglobby';
import type { StrataConfig } from '../config/types.ts';
import { HCL_EXTENSIONS, parseHclSync } from '../data/hcl.ts';
import { runJqSync, unquoteExpression } from '../data/jq.ts';
import { DEFAULT_LIMITS, type EngineLimits, LimitError, readFileBounded } from '../data/limits.ts';
import { isPlainMap, type ListMergeStrategy, mergeLayers, type PlainMap } from '../data/merge.ts';
import { FUNCTION_TAGS, IncludeRef, parseYaml } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { type FuncMap, hasTemplate, renderTemplate } from '../template/index.ts';
import { closestNames } from '../util/suggest.ts';
import { applyLocals, type FileLocals, mayDeclareLocals } from './locals.ts';

export const STACK_EXTENSIONS = ['.yaml', '.yml', '.yaml.tmpl', '.yml.tmpl'];
const GLOB_CHARS = /[*?[{]/;
const FUNCTION_TAG_PATTERN = new RegExp(`!(${FUNCTION_TAGS.map((t) => t.replaceAll('.', '\\.')).join('|')})\\b`);

export interface ParsedManifest {
  path: string;
  data: PlainMap;
}

export interface ImportSpec {
  path: string;
  context: PlainMap;
  skipTemplatesProcessing: boolean;
  ignoreMissingTemplateValues: boolean;
  skipIfMissing: boolean;
}

/** Overrides per component kind; `*` holds the global `overrides` section. */
type OverridesByKind = Record<string, PlainMap>;

interface ProcessContext {
  context: PlainMap;
  inline: OverridesByKind;
  imported: OverridesByKind;
  chain: string[];
  ignoreMissing: boolean;
  skipTemplates: boolean;
}

/** A file in merge order (lowest precedence first) with its import depth (0 = the manifest itself). */
export interface MergedFile {
  path: string;
  depth: number;
}

export interface AssembledManifest {
  /** The top-level manifest, merged with all its imports. */
  data: PlainMap;
  /** Every file that contributed, in merge order: imports before importers (for provenance). */
  files: MergedFile[];
  /** Every file imported (directly or not), as paths relative to the stacks folder without extension. */
  imports: string[];
}

interface ProcessedFile {
  merged: PlainMap;
  files: MergedFile[];
  exported: OverridesByKind;
  imports: string[];
}

export function stripStackExtension(path: string): string {
  for (const ext of ['.yaml.tmpl', '.yml.tmpl', '.yaml', '.yml'])
    if (path.endsWith(ext)) return path.slice(0, -ext.length);
  return path;
}

/**
 * Top-level manifests: included_paths minus excluded_paths, relative to the stacks folder. A repository that defines
 * no stacks (no stacks folder, or no included_paths: Atmos's workflow-only and command-only examples) has none; the
 * reason is returned so commands can say why they list nothing.
 */
export function listStackManifests(config: StrataConfig): { files: string[]; notice?: string } {
  const base = config.stacks.basePath;
  if (!existsSync(base)) {
    return {
      files: [],
      notice: `no stacks: the stacks folder ${base} does not exist (stacks.base_path and base_path in atmos.yaml, or ATMOS_BASE_PATH / --base-path)`,
    };
  }
  const patterns = config.stacks.includedPaths.flatMap(expandExtensions);
  if (patterns.length === 0) {
    return { files: [], notice: "no stacks: stacks.included_paths is empty (e.g. included_paths: ['deploy/**/*'])" };
  }
  const files = globSync(patterns, { cwd: base, ignore: config.stacks.excludedPaths, onlyFiles: true, dot: false });
  return { files: files.filter((f) => STACK_EXTENSIONS.some((ext) => f.endsWith(ext))).sort() };
}

/** The top-level manifests' paths (see listStackManifests). */
export function findStackManifests(config: StrataConfig): string[] {
  return listStackManifests(config).files;
}

function expandExtensions(pattern: string): string[] {
  if (STACK_EXTENSIONS.some((ext) => pattern.endsWith(ext)) || /\.(ya?ml)\*?$/.test(pattern)) return [pattern];
  if (pattern.endsWith('*')) return STACK_EXTENSIONS.map((ext) => `${pattern}${ext}`);
  return STACK_EXTENSIONS.map((ext) => `${pattern}${ext}`);
}

/** What the reader may read and spend (the engine derives it from its context and the config's `limits:`). */
export interface ReaderOptions {
  limits?: EngineLimits;
  /** `!include` targets must be inside the repository (base_path or the stacks folder). */
  confineIncludes?: boolean;
  /** Imported manifests must be inside the repository too (the controller). */
  confineImports?: boolean;
  /** Template functions over the builtins (the controller's refusal of `env`). */
  templateFuncs?: FuncMap;
}

export class ManifestReader {
  readonly #config: StrataConfig;
  readonly #options: ReaderOptions;
  readonly limits: EngineLimits;
  #roots: string[] | undefined;
  readonly #strategy: ListMergeStrategy;
  readonly #sources = new Map<string, string>();
  readonly #parsed = new Map<string, PlainMap>();
  readonly #processed = new Map<string, ProcessedFile>();
  readonly #locals = new Map<string, FileLocals>();
  #allFiles: string[] | undefined;
  /** Whether any file read so far holds `!unset`/`!append` or a YAML function: lets the engine skip whole walks. */
  sawMarkers = false;
  sawFunctions = false;

  constructor(config: StrataConfig, options: ReaderOptions = {}) {
    this.#config = config;
    this.#options = options;
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.#strategy = config.listMergeStrategy;
  }

  get stacksBase(): string {
    return this.#config.stacks.basePath;
  }

  readonly #keys = new Map<string, string>();
  readonly #resolved = new Map<string, string | undefined>();

  /** The manifest key Atmos uses: path relative to the stacks folder, without extension, with forward slashes. */
  key(path: string): string {
    let key = this.#keys.get(path);
    if (key === undefined) {
      key = stripStackExtension(relative(this.stacksBase, path)).split(sep).join('/');
      this.#keys.set(path, key);
    }
    return key;
  }

  source(path: string): string {
    let text = this.#sources.get(path);
    if (text === undefined) {
      try {
        text = readFileBounded(path, this.limits.maxFileBytes, `stack manifest ${this.display(path)}`);
      } catch (error) {
        if (error instanceof LimitError) throw withLocation(error, { file: path });
        throw new StrataError(
          `cannot read stack manifest ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
      this.#sources.set(path, text);
    }
    return text;
  }

  /** Parses a manifest once (by path) unless its text is rendered with a context first. */
  parse(path: string, rendered?: string): PlainMap {
    if (rendered === undefined) {
      const cached = this.#parsed.get(path);
      if (cached) return cached;
    }
    const text = rendered ?? this.source(path);
    if (!this.sawMarkers && /!(unset|append)\b/.test(text)) this.sawMarkers = true;
    if (!this.sawFunctions && FUNCTION_TAG_PATTERN.test(text)) this.sawFunctions = true;
    const parsed = parseYaml(text, path, this.limits) ?? {};
    if (!isPlainMap(parsed)) {
      throw new StrataError(`stack manifest ${this.display(path)} must be a YAML map at the top level`, {
        location: { file: path, line: 1 },
      });
    }
    let data = text.includes('!include') ? (this.#resolveIncludes(parsed, path) as PlainMap) : parsed;
    if (mayDeclareLocals(text)) {
      const applied = applyLocals(data, this.display(path), this.#config.templates.delimiters);
      data = applied.data;
      this.#locals.set(path, applied.locals);
    }
    if (rendered === undefined) this.#parsed.set(path, data);
    return data;
  }

  /** A manifest's own resolved locals (file-scoped: its imports' locals are not included). */
  localsOf(path: string): FileLocals {
    this.parse(path);
    return this.#locals.get(path) ?? { locals: {}, kinds: {} };
  }

  display(path: string): string {
    return relative(this.#config.basePath, path) || path;
  }

  /** Assembles a top-level manifest with all its imports. */
  assemble(path: string): AssembledManifest {
    let result: ProcessedFile;
    try {
      result = this.#process(path, {
        context: {},
        inline: {},
        imported: {},
        chain: [],
        ignoreMissing: false,
        skipTemplates: false,
      });
    } catch (error) {
      // A chain within limits.max_chain_depth whose files are themselves deep can still exhaust the stack.
      if (error instanceof RangeError) throw this.#chainTooLong([path], error.message);
      throw error;
    }
    return { data: result.merged, files: result.files, imports: [...new Set(result.imports)].sort() };
  }

  #process(path: string, ctx: ProcessContext): ProcessedFile {
    const cacheable =
      Object.keys(ctx.context).length === 0 && isEmptyOverrides(ctx.inline) && isEmptyOverrides(ctx.imported);
    // The import's flags change how a .tmpl file (and, for ignoreMissing, its imports) is read: part of the key.
    const cacheKey = `${ctx.skipTemplates ? 1 : 0}${ctx.ignoreMissing ? 1 : 0}${path}`;
    if (cacheable) {
      const cached = this.#processed.get(cacheKey);
      if (cached) return cached;
    }
    const chain = [...ctx.chain, path];
    if (chain.length > this.limits.maxChainDepth) throw this.#chainTooLong(chain);
    const data = this.#load(path, ctx);
    const own = ownOverrides(data);
    const inlineForChildren = mergeOverrides(own, ctx.inline);
    let accumulated = ctx.imported;
    const layers: PlainMap[] = [];
    const files: MergedFile[] = [];
    const imports: string[] = [];
    const importedSoFar: PlainMap[] = [];
    for (const spec of this.#importSpecs(data, path)) {
      const resolvedSpec = this.#renderImportPath(spec, path, importedSoFar, data);
      for (const file of this.#resolveImport(resolvedSpec, path, chain)) {
        const context = { ...resolvedSpec.context, ...ctx.context };
        const child = this.#process(file, {
          context,
          inline: inlineForChildren,
          imported: accumulated,
          chain,
          ignoreMissing: resolvedSpec.ignoreMissingTemplateValues || ctx.ignoreMissing,
          skipTemplates: resolvedSpec.skipTemplatesProcessing,
        });
        layers.push(child.merged);
        for (const f of child.files) files.push({ path: f.path, depth: f.depth + 1 });
        importedSoFar.push(child.merged);
        imports.push(this.key(file), ...child.imports);
        accumulated = mergeOverrides(accumulated, child.exported);
      }
    }
    const finalOverrides = mergeOverrides(accumulated, inlineForChildren);
    layers.push(applyOverrides(withoutImport(data), finalOverrides));
    files.push({ path, depth: 0 });
    const result: ProcessedFile = {
      merged: mergeLayers(layers, this.#strategy),
      files,
      exported: mergeOverrides(accumulated, own),
      imports,
    };
    if (cacheable) this.#processed.set(cacheKey, result);
    return result;
  }

  #chainTooLong(chain: string[], reason?: string): LimitError {
    const names = chain.map((f) => this.display(f));
    const shown = names.length > 6 ? [...names.slice(0, 3), `… ${names.length - 6} more …`, ...names.slice(-3)] : names;
    const what = reason
      ? `imports of ${names[0]} nest too deeply to assemble (${reason})`
      : `import chain longer than ${this.limits.maxChainDepth} files (limits.max_chain_depth)`;
    return new LimitError(what, {
      location: { file: chain[chain.length - 2] ?? chain[0] },
      details: `Import chain: ${shown.join(' -> ')}`,
      hint: 'import the shared files from fewer levels, or raise limits.max_chain_depth in atmos.yaml / strata.yaml',
    });
  }

  /** Reads a manifest, rendering it first when Atmos would: a `.tmpl` file or an import with a context. */
  #load(path: string, ctx: ProcessContext): PlainMap {
    const templated = (path.endsWith('.tmpl') || Object.keys(ctx.context).length > 0) && !ctx.skipTemplates;
    if (!templated) return this.parse(path);
    const text = this.source(path);
    if (!hasTemplate(text, this.#config.templates.delimiters)) return this.parse(path);
    const rendered = renderTemplate(text, ctx.context, {
      name: this.display(path),
      delimiters: this.#config.templates.delimiters,
      missingkey: ctx.ignoreMissing || this.#config.templates.ignoreMissingTemplateValues ? 'default' : 'error',
      limits: this.limits,
      funcs: this.#options.templateFuncs,
    });
    return this.parse(path, rendered);
  }

  #importSpecs(data: PlainMap, path: string): ImportSpec[] {
    const raw = data.import;
    if (raw === undefined || raw === null) return [];
    const entries = Array.isArray(raw) ? raw : [raw];
    return entries.map((entry, index) => {
      if (typeof entry === 'string') {
        return {
          path: entry,
          context: {},
          skipTemplatesProcessing: false,
          ignoreMissingTemplateValues: false,
          skipIfMissing: false,
        };
      }
      if (isPlainMap(entry) && typeof entry.path === 'string') {
        return {
          path: entry.path,
          context: isPlainMap(entry.context) ? entry.context : {},
          skipTemplatesProcessing: entry.skip_templates_processing === true,
          ignoreMissingTemplateValues: entry.ignore_missing_template_values === true,
          skipIfMissing: entry.skip_if_missing === true,
        };
      }
      throw new StrataError(
        `invalid import #${index + 1} in ${this.display(path)}: expected a path or {path, context}`,
        {
          location: { file: path },
          hint: 'write `- catalog/x` or `- path: catalog/x` with optional context, skip_if_missing, skip_templates_processing',
        },
      );
    });
  }

  /** Import paths may be templates over the context and the settings/vars/env of earlier imports (templates enabled). */
  #renderImportPath(spec: ImportSpec, path: string, earlier: PlainMap[], data: PlainMap): ImportSpec {
    const delimiters = this.#config.templates.delimiters;
    if (!this.#config.templates.enabled || !hasTemplate(spec.path, delimiters)) return spec;
    const scope = mergeLayers(
      [...earlier, { settings: data.settings, vars: data.vars, env: data.env }],
      this.#strategy,
    );
    const values = { settings: scope.settings ?? {}, vars: scope.vars ?? {}, env: scope.env ?? {}, ...spec.context };
    const ignoreMissing = spec.ignoreMissingTemplateValues || this.#config.templates.ignoreMissingTemplateValues;
    const rendered = renderTemplate(spec.path, values, {
      name: `import path in ${this.display(path)}`,
      delimiters,
      missingkey: ignoreMissing ? 'default' : 'error',
      limits: this.limits,
      funcs: this.#options.templateFuncs,
    });
    return { ...spec, path: rendered };
  }

  #resolveImport(spec: ImportSpec, importer: string, chain: string[]): string[] {
    if (isRemote(spec.path)) {
      throw new StrataError(
        `import '${spec.path}' in ${this.display(importer)}: remote imports are not supported by strata`,
        {
          location: { file: importer, line: lineOf(this.source(importer), spec.path) },
          hint: 'download the file into the stacks folder (or vendor it) and import it by its path',
        },
      );
    }
    const relativeToFile = spec.path.startsWith('./') || spec.path.startsWith('../');
    const base = relativeToFile ? dirname(importer) : this.stacksBase;
    const target = resolve(base, spec.path);
    let files: string[];
    if (GLOB_CHARS.test(spec.path)) {
      const rel = relative(base, target).split(sep).join('/');
      const patterns = hasStackExtension(rel) ? [rel] : [rel, ...STACK_EXTENSIONS.map((ext) => `${rel}${ext}`)];
      files = globSync(patterns, { cwd: base, absolute: true, onlyFiles: true })
        .filter((f) => STACK_EXTENSIONS.some((ext) => f.endsWith(ext)))
        .sort();
    } else {
      // Hundreds of stacks import the same catalogs: look each path up on disk once.
      let file = this.#resolved.get(target);
      if (file === undefined && !this.#resolved.has(target)) {
        file = resolveExtension(target);
        this.#resolved.set(target, file);
      }
      files = file ? [file] : [];
    }
    if (files.length === 0) {
      if (spec.skipIfMissing) return [];
      throw this.#missingImport(spec.path, importer, chain);
    }
    for (const file of files) {
      if (this.#options.confineImports)
        this.#confine(file, `import '${spec.path}' in ${this.display(importer)}`, {
          file: importer,
        });
      if (file === importer) {
        throw new StrataError(`${this.display(importer)} imports itself (import '${spec.path}')`, {
          location: { file: importer },
          hint: 'remove the import, or point it at another file',
        });
      }
      if (chain.includes(file)) {
        const cycle = [...chain.slice(chain.indexOf(file)), file].map((f) => this.display(f));
        const full = [...chain, file].map((f) => this.display(f));
        throw new StrataError(`import cycle: ${cycle.join(' -> ')}`, {
          location: { file: importer },
          details: `Import chain from the stack manifest:\n${full.map((f, n) => `${'  '.repeat(n)}${n === 0 ? '' : '└─ '}${f}`).join('\n')}`,
          hint: 'break the cycle by moving the shared settings into a file both can import',
        });
      }
    }
    return files;
  }

  #missingImport(importPath: string, importer: string, chain: string[]): StrataError {
    this.#allFiles ??= globSync(
      STACK_EXTENSIONS.map((e) => `**/*${e}`),
      { cwd: this.stacksBase, onlyFiles: true },
    ).map(stripStackExtension);
    const wanted = stripStackExtension(importPath.replace(/^\.\//, ''));
    const near = closestNames(wanted, this.#allFiles, 3);
    const via = chain.length > 1 ? `\nImported via: ${chain.map((f) => this.display(f)).join(' -> ')}` : '';
    return new StrataError(`import '${importPath}' in ${this.display(importer)} not found`, {
      location: { file: importer, line: lineOf(this.source(importer), importPath) },
      details: `Looked for ${importPath} with extensions ${STACK_EXTENSIONS.join(', ')} under ${relativeToBase(importPath, importer, this)}${via}`,
      hint:
        near.length > 0
          ? `Did you mean ${near.map((n) => `'${n}'`).join(', ')}? (or add skip_if_missing: true)`
          : 'check the path, or add skip_if_missing: true',
    });
  }

  #resolveIncludes(value: unknown, file: string): unknown {
    if (value instanceof IncludeRef) return this.#include(value, file);
    if (Array.isArray(value)) return value.map((item) => this.#resolveIncludes(item, file));
    if (isPlainMap(value)) {
      const out: PlainMap = {};
      for (const key of Object.keys(value)) out[key] = this.#resolveIncludes(value[key], file);
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
    const where = `${this.display(file)}: !include${ref.raw ? '.raw' : ''} ${ref.args}`;
    const at = { file, line: lineOf(this.source(file), target) };
    if (isRemote(target)) {
      throw new StrataError(`${where}: remote includes are not supported by strata`, {
        location: at,
        hint: 'download the file into the repository (or vendor it) and include it by its path',
      });
    }
    const base = target.startsWith('./') || target.startsWith('../') ? dirname(file) : this.#config.basePath;
    const path = resolve(base, target.replace(/^~(?=\/)/, process.env.HOME ?? '~'));
    if (!existsSync(path)) {
      throw new StrataError(`!include ${target} in ${this.display(file)}: file not found`, {
        location: at,
        hint: `looked for ${path}; paths starting with ./ or ../ are relative to the manifest, others to base_path`,
      });
    }
    if (this.#options.confineIncludes) this.#confine(path, where, at);
    let text: string;
    try {
      text = readFileBounded(path, this.limits.maxFileBytes, `the file ${path} (${where})`);
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
          throw new StrataError(`!include ${target} in ${this.display(file)}: invalid JSON in ${path}`, {
            location: at,
            details: (error as Error).message,
          });
        }
      } else if (ext === '.yaml' || ext === '.yml') value = parseYaml(text, path, this.limits);
      else if (HCL_EXTENSIONS.includes(ext)) value = parseHclSync(text, path);
    }
    return query ? runJqSync(value, query, where) : value;
  }

  /**
   * Refuses a file whose real path (symlinks followed) is outside the repository: base_path, or the stacks folder
   * when that is a link to elsewhere.
   */
  #confine(path: string, where: string, at: { file: string; line?: number }): void {
    this.#roots ??= [
      ...new Set([this.#config.basePath, this.stacksBase].filter(existsSync).map((p) => realpathSync(p))),
    ];
    const real = realpathSync(path);
    const inside = this.#roots.some((root) => {
      const rel = relative(root, real);
      return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
    });
    if (inside) return;
    throw new StrataError(`${where}: ${real} is outside the repository`, {
      location: at,
      hint:
        this.#options.confineImports === true
          ? 'the controller reads only files inside the repository'
          : 'copy the file into the repository, or set limits.include_outside_repository: true in atmos.yaml / strata.yaml (CLI runs only)',
    });
  }
}

/** A limit error raised while reading, placed at the manifest that asked for the file. */
function withLocation(error: LimitError, location: { file: string; line?: number }): LimitError {
  return new LimitError(error.message, { location, hint: error.hint, details: error.details });
}

/** `path [query]`, where a path with spaces is written in double quotes. */
export function splitIncludeArgs(args: string): { target: string; query: string } {
  const text = args.trim();
  const quoted = /^"((?:[^"\\]|\\.)*)"\s*(.*)$/s.exec(text);
  if (quoted) return { target: quoted[1].replace(/\\(.)/g, '$1'), query: quoted[2].trim() };
  const space = text.search(/\s/);
  return space < 0
    ? { target: text, query: '' }
    : { target: text.slice(0, space), query: unquoteExpression(text.slice(space).trim()) };
}

/** A URL or go-getter address (`https://…`, `git::…`, `s3::…`): Atmos downloads these; strata reads no network. */
function isRemote(path: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(path) || /^[a-z0-9]+::/i.test(path);
}

function hasStackExtension(path: string): boolean {
  return STACK_EXTENSIONS.some((ext) => path.endsWith(ext)) || /\.ya?ml$/.test(path);
}

/** Explicit `x.yaml` is replaced by `x.yaml.tmpl` when that exists; no extension tries each in turn. */
function resolveExtension(target: string): string | undefined {
  if (hasStackExtension(target)) {
    if (!target.endsWith('.tmpl') && isFile(`${target}.tmpl`)) return `${target}.tmpl`;
    return isFile(target) ? target : undefined;
  }
  for (const ext of STACK_EXTENSIONS) if (isFile(target + ext)) return target + ext;
  // Any other extension (e.g. `prod.defaults.tmpl`) names the file as it is, as Atmos's filepath.Ext check does.
  return extname(target) !== '' && isFile(target) ? target : undefined;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

function relativeToBase(importPath: string, importer: string, reader: ManifestReader): string {
  return importPath.startsWith('./') || importPath.startsWith('../')
    ? `${reader.display(dirname(importer))}/`
    : 'the stacks folder';
}

export function lineOf(source: string, needle: string): number | undefined {
  const index = source.indexOf(needle);
  if (index < 0) return undefined;
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

function withoutImport(data: PlainMap): PlainMap {
  if (!('import' in data)) return data;
  const { import: _ignored, ...rest } = data;
  return rest;
}

function isEmptyOverrides(overrides: OverridesByKind): boolean {
  for (const key in overrides) if (Object.keys(overrides[key]).length > 0) return false;
  return true;
}

/**
 * A file's own overrides per kind. Each kind's entry already holds the file's global `overrides` under it (the
 * kind's section wins), so that between files the importing file wins whatever section the value came from.
 */
function ownOverrides(data: PlainMap): OverridesByKind {
  const out: OverridesByKind = {};
  const global = isPlainMap(data.overrides) ? data.overrides : {};
  if (Object.keys(global).length > 0) out['*'] = global;
  for (const key of Object.keys(data)) {
    const section = data[key];
    if (key === 'components' || !isPlainMap(section) || !isPlainMap(section.overrides)) continue;
    if (Object.keys(section.overrides).length > 0) out[key] = mergeLayers([global, section.overrides]);
  }
  return out;
}

function mergeOverrides(lower: OverridesByKind, higher: OverridesByKind): OverridesByKind {
  if (isEmptyOverrides(higher)) return lower;
  if (isEmptyOverrides(lower)) return higher;
  const out: OverridesByKind = {};
  for (const kind of new Set([...Object.keys(lower), ...Object.keys(higher)])) {
    out[kind] = mergeLayers([lower[kind] ?? lower['*'], higher[kind] ?? higher['*']]);
  }
  return out;
}

/** Writes the file-scoped overrides into every component this file defines (Atmos: componentSection["overrides"]). */
function applyOverrides(data: PlainMap, overrides: OverridesByKind): PlainMap {
  if (isEmptyOverrides(overrides) || !isPlainMap(data.components)) return data;
  const components: PlainMap = { ...data.components };
  for (const kind of Object.keys(components)) {
    const byName = components[kind];
    if (!isPlainMap(byName)) continue;
    const final = overrides[kind] ?? overrides['*'];
    if (!final || Object.keys(final).length === 0) continue;
    const updated: PlainMap = {};
    for (const name of Object.keys(byName)) {
      const section = byName[name];
      updated[name] = isPlainMap(section) ? { ...section, overrides: final } : section;
    }
    components[kind] = updated;
  }
  return { ...data, components };
}
