/**
 * Where stack manifests are: the top-level manifests from included_paths/excluded_paths, stack file extensions,
 * how an import or include path names a file, and line lookups for error locations.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { globSync } from 'tinyglobby';
import type { StrataConfig } from '../config/types.ts';
import { unquoteExpression } from '../data/jq.ts';

export const STACK_EXTENSIONS = ['.yaml', '.yml', '.yaml.tmpl', '.yml.tmpl'];
export const GLOB_CHARS = /[*?[{]/;

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
export function isRemote(path: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(path) || /^[a-z0-9]+::/i.test(path);
}

export function hasStackExtension(path: string): boolean {
  return STACK_EXTENSIONS.some((ext) => path.endsWith(ext)) || /\.ya?ml$/.test(path);
}

/**
 * Explicit `x.yaml` is replaced by `x.yaml.tmpl` when that exists; no extension tries each in turn. `isFile` lets a
 * caller answer from a listing or memo (FileLookup).
 */
export function resolveExtension(target: string, isFile: (path: string) => boolean = fileExists): string | undefined {
  if (hasStackExtension(target)) {
    if (!target.endsWith('.tmpl') && isFile(`${target}.tmpl`)) return `${target}.tmpl`;
    return isFile(target) ? target : undefined;
  }
  for (const ext of STACK_EXTENSIONS) if (isFile(target + ext)) return target + ext;
  // Any other extension (e.g. `prod.defaults.tmpl`) names the file as it is, as Atmos's filepath.Ext check does.
  return extname(target) !== '' && isFile(target) ? target : undefined;
}

export function fileExists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    // ENOTDIR (a file used as a folder, `x.yaml/y`), ELOOP, EACCES: no file there to read.
    return false;
  }
}

/**
 * Whether paths are regular files, answered from one listing per folder: resolving an import tries up to four
 * names, most of them missing, so a repository of thousands of imports would otherwise cost a stat per try. Entries
 * that are symbolic links are stat-ed. On case-insensitive file systems (macOS, Windows) a listing would miss
 * `Prod.yaml` for `prod.yaml`, so there every look-up is a stat. For one run: files created later are not seen.
 */
export class FileLookup {
  readonly #folders = new Map<string, Map<string, boolean | undefined> | undefined>();
  readonly #listed = process.platform !== 'darwin' && process.platform !== 'win32';
  /** Whether a listed folder held a symbolic link: its target may change while the folder does not. */
  #sawLink = false;

  /**
   * The folders the answers came from (false: it could not be listed), so that a caller keeping answers can tell
   * whether they still hold; undefined when answers came from stats or a symbolic link (nothing to check them by).
   */
  folders(): Array<[string, boolean]> | undefined {
    if (!this.#listed || this.#sawLink) return undefined;
    return [...this.#folders].map(([dir, entries]) => [dir, entries !== undefined]);
  }

  isFile = (path: string): boolean => {
    if (!this.#listed) return fileExists(path);
    const folder = this.#folder(dirname(path));
    if (folder === undefined) return false;
    const name = basename(path);
    if (!folder.has(name)) return false;
    let file = folder.get(name);
    if (file === undefined) {
      file = fileExists(path);
      folder.set(name, file);
    }
    return file;
  };

  /** Each name in a folder: true for a file, false for anything else, undefined (stat on first use) for a link. */
  #folder(dir: string): Map<string, boolean | undefined> | undefined {
    if (this.#folders.has(dir)) return this.#folders.get(dir);
    let entries: Map<string, boolean | undefined> | undefined;
    try {
      entries = new Map();
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const link = entry.isSymbolicLink();
        this.#sawLink ||= link;
        entries.set(entry.name, link ? undefined : entry.isFile());
      }
    } catch {
      entries = undefined;
    }
    this.#folders.set(dir, entries);
    return entries;
  }
}

export function lineOf(source: string, needle: string): number | undefined {
  const index = source.indexOf(needle);
  if (index < 0) return undefined;
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}
