/**
 * A persistent cache of each top-level manifest's components, built and named (docs/stacks.md, "The result cache"),
 * so that a run with one stack file changed builds only the stacks whose files changed. An entry is used only when
 * every file it was built from still has the same SHA-256, every import path still resolves to the same file, and
 * the run has the same strata version, configuration (atmos.yaml with its environment overrides) and engine options.
 * Only pure manifests are cached (manifests.ts, AssembledManifest.pure): no template delimiter, YAML function,
 * `!include` or marker in any file, no glob or missing optional import, no stacks.name_template; a result whose
 * values JSON cannot carry exactly is not cached either. The pack of a stacks folder is replaced atomically, the
 * folder is size-bounded, and `--no-cache`/`STRATA_NO_CACHE=1` turn it off, as for the parse cache.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { EMPTY_MAP, isPlainMap, type PlainMap } from '../data/merge.ts';
import { strataCacheDir } from '../util/cache-dir.ts';
import { writeCacheFileSync } from '../util/fs.ts';
import { VERSION } from '../util/version.ts';
import type { RawComponent } from './components.ts';
import type { MergedFile } from './manifests.ts';
import { keepUnder, sha256 } from './parse-cache.ts';

export const RESULT_CACHE_MAX_BYTES = 256 * 1024 * 1024;

/** How many manifests this process built, and how many it took from the result cache (`--verbose` prints them). */
export const resultCounters = { built: 0, fromCache: 0 };

/** A component as the engine keeps it before evaluation: its raw component and its stack's name. */
export interface CachedCandidate {
  raw: RawComponent;
  stack: string;
}

export interface ResultEntry {
  files: MergedFile[];
  imports: string[];
  fallbackName: string;
  candidates: CachedCandidate[];
}

/** What an entry must still match: each file's text and each import path's resolution. */
export interface ResultInputs {
  /** The text of a file now (undefined when it cannot be read). */
  text(path: string): string | undefined;
  /** The file an import path resolves to now. */
  resolve(target: string): string | undefined;
}

/**
 * A manifest's line: what it must still match, and its result with every section value as a table index. Files are
 * indexes into the pack's file table ([path, SHA-256] pairs, paths relative to the stacks folder): the hundreds of
 * manifests that import the same catalogs name each file once.
 */
interface StoredEntry {
  /** [file index, import depth] for each file the manifest was built from. */
  files: [number, number][];
  /** Each import path as it resolved, with the file index it resolved to. */
  targets: [string, number][];
  imports: string[];
  fallbackName: string;
  /** [kind, name, folder, baseComponent, abstract, enabled, locked, stack, shape, ...value indexes]. */
  candidates: unknown[][];
}

/**
 * The pack: a header, the table size at the last full write, a table of values, a table of section shapes (key
 * lists), the file table, then one line per manifest. Values are stored once however many sections hold them (instances of a
 * component share most of their sections), and read back shared, as merging shares them: a pack is a fraction of
 * the result's JSON and is read in one parse. A run that built at least a tenth of the stacks appends their values
 * to the tables and keeps the other lines as they were read; the pack is written in full again once the tables have
 * grown by half.
 */
export class ResultCache {
  readonly #file: string;
  /** The stacks folder with a trailing separator: stored paths under it are relative. */
  readonly #base: string;
  readonly #header: string;
  readonly #maxBytes: number;
  #loaded: LoadedPack | undefined;
  /** The entries this run used (with their line as read) or built, to write back. */
  readonly #used = new Map<string, UsedEntry>();
  readonly #hashes = new Map<string, string | undefined>();
  readonly #plain = new WeakSet<object>();
  /** Manifests taken from the pack and built (and kept) by this run. */
  #hits = 0;
  #built = 0;

  /** `inputs`: everything besides the files that the result depends on (configuration, options), as JSON-able data. */
  constructor(stacksBase: string, inputs: unknown, options: { dir?: string; maxBytes?: number } = {}) {
    const dir = options.dir ?? strataCacheDir('results');
    this.#file = join(dir, `${sha256(stacksBase).slice(0, 24)}.pack`);
    this.#base = stacksBase.endsWith(sep) ? stacksBase : stacksBase + sep;
    this.#header = JSON.stringify({ format: 2, strata: VERSION, inputs: sha256(JSON.stringify(inputs)) });
    this.#maxBytes = options.maxBytes ?? RESULT_CACHE_MAX_BYTES;
  }

  /** The cached result of a manifest, if every file and import it was built from is unchanged. */
  get(manifest: string, now: ResultInputs): ResultEntry | undefined {
    const pack = this.#load();
    const line = pack.lines.get(manifest);
    if (line === undefined) return undefined;
    let stored: StoredEntry;
    try {
      stored = JSON.parse(line) as StoredEntry;
    } catch {
      return undefined; // a line damaged on disk is a miss
    }
    const files: MergedFile[] = [];
    const hashes: string[] = [];
    for (const [id, depth] of stored.files) {
      const [path, hash] = pack.files[id] ?? [];
      if (path === undefined || this.#hash(this.#absolute(path), now) !== hash) return undefined;
      files.push({ path: this.#absolute(path), depth });
      hashes.push(hash);
    }
    const targets: [string, string][] = [];
    for (const [target, id] of stored.targets) {
      const file = this.#absolute(pack.files[id]?.[0] ?? '');
      if (now.resolve(this.#absolute(target)) !== file) return undefined;
      targets.push([this.#absolute(target), file]);
    }
    const entry: ResultEntry = {
      files,
      imports: stored.imports,
      fallbackName: stored.fallbackName,
      candidates: stored.candidates.map((c) => decodeCandidate(c, pack.values, pack.shapes)),
    };
    this.#used.set(manifest, { entry, hashes, targets, line });
    resultCounters.fromCache++;
    this.#hits++;
    return entry;
  }

  /** Records a manifest's result, when its values are plain JSON (a .nan or a binary is not cached). */
  set(manifest: string, entry: ResultEntry, targets: [string, string][], now: ResultInputs): void {
    for (const { raw } of entry.candidates) {
      for (const key of Object.keys(raw.section)) if (!this.#isPlain(raw.section[key])) return;
    }
    const hashes: string[] = [];
    for (const file of entry.files) {
      const hash = this.#hash(file.path, now);
      if (hash === undefined) return;
      hashes.push(hash);
    }
    this.#used.set(manifest, { entry, hashes, targets });
    this.#built++;
  }

  /** Writes the entries this run used, when it built any; then keeps the folder under its size. */
  flush(): void {
    // Rewriting the pack costs about what building a tenth of its stacks does: a run that rebuilt fewer (one file
    // edited) leaves it as it is and the next run rebuilds those few again, until enough have changed.
    if (this.#built === 0 || this.#built * 10 < this.#hits + this.#built) return;
    this.#built = 0;
    const old = this.#load();
    const text = this.#appended(old) ?? this.#full();
    try {
      mkdirSync(join(this.#file, '..'), { recursive: true });
      writeCacheFileSync(this.#file, text);
      keepUnder(join(this.#file, '..'), this.#maxBytes, Buffer.byteLength(text));
    } catch {
      // A cache that cannot be written (read-only home, full disk) only costs speed.
    }
  }

  /** The pack with every entry encoded afresh. */
  #full(): string {
    const table = new ValueTable(this.#relative);
    const lines = [...this.#used].map(([manifest, used]) => `${JSON.stringify(manifest)}\t${encode(used, table)}`);
    const tables = [`[${table.valueTexts.join(',')}]`, JSON.stringify(table.shapes), JSON.stringify(table.files)];
    return `${[this.#header, String(table.values.length), ...tables, ...lines].join('\n')}\n`;
  }

  /** The pack read, with the new entries' values appended; undefined when it is time for a full write. */
  #appended(old: LoadedPack): string | undefined {
    if (old.values.length === 0) return undefined;
    const table = new ValueTable(this.#relative, old);
    const lines = [...this.#used].map(
      ([manifest, used]) => `${JSON.stringify(manifest)}\t${used.line ?? encode(used, table)}`,
    );
    if (old.values.length + table.values.length > old.compacted * 1.5 + 1000) return undefined;
    const tables = [
      appendJson(old.valuesText, table.values, table.valueTexts),
      appendJson(old.shapesText, table.shapes),
      appendJson(old.filesText, table.files),
    ];
    return `${[this.#header, String(old.compacted), ...tables, ...lines].join('\n')}\n`;
  }

  #isPlain(value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return isPlainJson(value);
    if (this.#plain.has(value)) return true;
    if (!isPlainJson(value)) return false;
    this.#plain.add(value);
    return true;
  }

  readonly #relative = (path: string): string => (path.startsWith(this.#base) ? path.slice(this.#base.length) : path);

  #absolute(path: string): string {
    return isAbsolute(path) ? path : this.#base + path;
  }

  #hash(path: string, now: ResultInputs): string | undefined {
    if (!this.#hashes.has(path)) {
      const text = now.text(path);
      this.#hashes.set(path, text === undefined ? undefined : sha256(text));
    }
    return this.#hashes.get(path);
  }

  #load(): LoadedPack {
    if (this.#loaded) return this.#loaded;
    this.#loaded = {
      values: [],
      shapes: [],
      files: [],
      lines: new Map(),
      compacted: 0,
      valuesText: '[]',
      shapesText: '[]',
      filesText: '[]',
    };
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return this.#loaded;
    }
    const lines = text.split('\n');
    if (lines[0] !== this.#header || lines.length < 5) return this.#loaded;
    try {
      // Empty maps come back as the one shared empty map, as merging gives them.
      const values = (JSON.parse(lines[2]) as unknown[]).map((v) => (isEmptyPlainMap(v) ? EMPTY_MAP : v));
      const loaded: LoadedPack = {
        values,
        shapes: JSON.parse(lines[3]) as string[][],
        files: JSON.parse(lines[4]) as [string, string][],
        lines: new Map(),
        compacted: Number(lines[1]) || 0,
        valuesText: lines[2],
        shapesText: lines[3],
        filesText: lines[4],
      };
      for (let i = 5; i < lines.length; i++) {
        const tab = lines[i].indexOf('"\t');
        if (tab > 0) loaded.lines.set(JSON.parse(lines[i].slice(0, tab + 1)), lines[i].slice(tab + 2));
      }
      this.#loaded = loaded;
    } catch {
      // A damaged pack is an empty one.
    }
    return this.#loaded;
  }
}

interface LoadedPack {
  values: unknown[];
  shapes: string[][];
  /** [path, SHA-256] pairs. */
  files: [string, string][];
  lines: Map<string, string>;
  /** The size of the value table when the pack was last written in full. */
  compacted: number;
  valuesText: string;
  shapesText: string;
  filesText: string;
}

interface UsedEntry {
  entry: ResultEntry;
  hashes: string[];
  targets: [string, string][];
  /** The entry's line as read from the pack (its indexes point into the pack's tables). */
  line?: string;
}

function encode({ entry, hashes, targets }: UsedEntry, table: ValueTable): string {
  const ids = new Map<string, number>();
  const files = entry.files.map((file, i): [number, number] => {
    const id = table.file(file.path, hashes[i]);
    ids.set(file.path, id);
    return [id, file.depth];
  });
  const stored: StoredEntry = {
    files,
    targets: targets.map(([target, file]) => [table.relative(target), ids.get(file) ?? table.file(file, '')]),
    imports: entry.imports,
    fallbackName: entry.fallbackName,
    candidates: entry.candidates.map((c) => table.encodeCandidate(c)),
  };
  return JSON.stringify(stored);
}

/** A JSON array's text with more items appended (`texts`: their JSON texts, when known). */
function appendJson(text: string, added: unknown[], texts?: string[]): string {
  if (added.length === 0) return text;
  const items = texts ? texts.join(',') : JSON.stringify(added).slice(1, -1);
  return text === '[]' ? `[${items}]` : `${text.slice(0, -1)},${items}]`;
}

/** Interns section values (by identity first, then by JSON text) and section shapes while a pack is written. */
class ValueTable {
  /** The values and shapes added (their indexes follow those of the tables the table extends). */
  readonly values: unknown[] = [];
  /** The JSON text of each value added (computed to find equal values): the table is written from them. */
  readonly valueTexts: string[] = [];
  readonly shapes: string[][] = [];
  readonly files: [string, string][] = [];
  readonly #byObject = new WeakMap<object, number>();
  readonly #byText = new Map<string, number>();
  readonly #shapeIds = new Map<string, number>();
  readonly #fileIds = new Map<string, number>();
  readonly #valueBase: number;
  readonly #shapeBase: number;
  readonly #fileBase: number;

  /** A table extending the tables of a pack read (its objects are found again by identity). */
  constructor(
    readonly relative: (path: string) => string,
    { values, shapes, files }: Pick<LoadedPack, 'values' | 'shapes' | 'files'> = { values: [], shapes: [], files: [] },
  ) {
    this.#valueBase = values.length;
    this.#shapeBase = shapes.length;
    this.#fileBase = files.length;
    for (let id = 0; id < files.length; id++) this.#fileIds.set(`${files[id][0]}\u0000${files[id][1]}`, id);
    for (let id = 0; id < values.length; id++) {
      const value = values[id];
      if (typeof value === 'object' && value !== null && !this.#byObject.has(value)) this.#byObject.set(value, id);
    }
    for (let id = 0; id < shapes.length; id++) this.#shapeIds.set(shapes[id].join('\u0000'), id);
  }

  /** The index of a file (absolute path) with its hash in the file table. */
  file(path: string, hash: string): number {
    const stored: [string, string] = [this.relative(path), hash];
    const key = `${stored[0]}\u0000${hash}`;
    let id = this.#fileIds.get(key);
    if (id === undefined) {
      id = this.#fileBase + this.files.length;
      this.files.push(stored);
      this.#fileIds.set(key, id);
    }
    return id;
  }

  encodeCandidate({ raw, stack }: CachedCandidate): unknown[] {
    const keys = Object.keys(raw.section);
    const shapeKey = keys.join('\u0000');
    let shape = this.#shapeIds.get(shapeKey);
    if (shape === undefined) {
      shape = this.#shapeBase + this.shapes.length;
      this.shapes.push(keys);
      this.#shapeIds.set(shapeKey, shape);
    }
    const out: unknown[] = [raw.kind, raw.name, raw.folder, raw.baseComponent, raw.abstract, raw.enabled, raw.locked];
    out.push(stack, shape);
    for (const key of keys) out.push(this.#id(raw.section[key]));
    return out;
  }

  #id(value: unknown): number {
    const object = typeof value === 'object' && value !== null;
    if (object) {
      const known = this.#byObject.get(value);
      if (known !== undefined) return known;
    }
    const text = JSON.stringify(value);
    let id = this.#byText.get(text);
    if (id === undefined) {
      id = this.#valueBase + this.values.length;
      this.values.push(value);
      this.valueTexts.push(text);
      this.#byText.set(text, id);
    }
    if (object) this.#byObject.set(value, id);
    return id;
  }
}

function decodeCandidate(stored: unknown[], values: unknown[], shapes: string[][]): CachedCandidate {
  const [kind, name, folder, baseComponent, abstract, enabled, locked, stack, shape] = stored as [
    string,
    string,
    string,
    string,
    boolean,
    boolean,
    boolean,
    string,
    number,
  ];
  const keys = shapes[shape];
  const section: PlainMap = {};
  for (let i = 0; i < keys.length; i++) section[keys[i]] = values[stored[9 + i] as number];
  const inheritance = section.inheritance as string[];
  const raw: RawComponent = { kind, name, section, folder, inheritance, baseComponent, abstract, enabled, locked };
  return { raw, stack };
}

function isEmptyPlainMap(value: unknown): boolean {
  return isPlainMap(value) && Object.keys(value).length === 0;
}

/** Whether JSON carries a value exactly: plain maps, lists, strings, booleans, null and finite numbers (not -0). */
function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every(isPlainJson);
  if (!isPlainMap(value)) return false;
  for (const key of Object.keys(value)) if (key === '__proto__' || !isPlainJson(value[key])) return false;
  return true;
}
