/**
 * A persistent cache of each top-level manifest's components, built and named (docs/stacks.md, "The result cache"),
 * so that a run with one stack file changed builds only the stacks whose files changed. An entry is used only when
 * every file it was built from still has the same SHA-256 (a file whose stamp, file-stamp.ts, is the one recorded
 * with its hash is not read again), every import path still resolves to the same file, and
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
import { type InternedSection, JsonInterner, sameKeys } from './json-interner.ts';
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
  /** The file's stamp (file-stamp.ts) taken before `text` read it, or now if it was not read (memoised). */
  stamp(path: string): string | undefined;
  /** The file an import path resolves to now. */
  resolve(target: string): string | undefined;
}

/**
 * A manifest's line: what it must still match, and its result with every section value as a table index. Files are
 * indexes into the pack's file table ([path, SHA-256, stamp or ''] lists, paths relative to the stacks folder): the
 * hundreds of manifests that import the same catalogs name each file once.
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
  /** Each file as this run found it when validating: its stamp, and its recorded hash when the stamp matched. */
  readonly #checked = new Map<string, FileState>();
  /** Each file's state from its text as read (a built entry records these). */
  readonly #read = new Map<string, FileState>();
  /** The pack's file table entries checked so far, by index. */
  readonly #entries: CheckedEntry[] = [];
  /** Numbers for the section values this run keeps (equal values, equal numbers). */
  readonly #interner = new JsonInterner();
  /** Manifests taken from the pack and built (and kept) by this run. */
  #hits = 0;
  #built = 0;

  /** `inputs`: everything besides the files that the result depends on (configuration, options), as JSON-able data. */
  constructor(stacksBase: string, inputs: unknown, options: { dir?: string; maxBytes?: number } = {}) {
    const dir = options.dir ?? strataCacheDir('results');
    this.#file = join(dir, `${sha256(stacksBase).slice(0, 24)}.pack`);
    this.#base = stacksBase.endsWith(sep) ? stacksBase : stacksBase + sep;
    this.#header = JSON.stringify({ format: 3, strata: VERSION, inputs: sha256(JSON.stringify(inputs)) });
    this.#maxBytes = options.maxBytes ?? RESULT_CACHE_MAX_BYTES;
  }

  /** The cached result of a manifest, if every file and import it was built from is unchanged. */
  get(manifest: string, now: ResultInputs): ResultEntry | undefined {
    const pack = this.#load();
    const line = pack.lines.get(manifest);
    if (line === undefined) return undefined;
    let used: UsedEntry | undefined;
    try {
      used = this.#validated(JSON.parse(line) as StoredEntry, pack, now);
    } catch {
      return undefined; // a line (or file table) damaged on disk is a miss
    }
    if (used === undefined) return undefined;
    this.#used.set(manifest, { ...used, line });
    resultCounters.fromCache++;
    this.#hits++;
    return used.entry;
  }

  /** A stored entry decoded, when every file and import it was built from is unchanged. */
  #validated(stored: StoredEntry, pack: LoadedPack, now: ResultInputs): UsedEntry | undefined {
    const files: MergedFile[] = [];
    const states: FileState[] = [];
    for (const [id, depth] of stored.files) {
      const file = this.#checkEntry(id, pack, now);
      if (!file.unchanged) return undefined;
      files.push({ path: file.path, depth });
      states.push(file.state);
    }
    const targets: [string, string][] = [];
    for (const [target, id] of stored.targets) {
      const file = this.#absolute(pack.files[id][0]);
      if (now.resolve(this.#absolute(target)) !== file) return undefined;
      targets.push([this.#absolute(target), file]);
    }
    const entry: ResultEntry = {
      files,
      imports: stored.imports,
      fallbackName: stored.fallbackName,
      candidates: stored.candidates.map((c) => decodeCandidate(c, pack.values, pack.shapes)),
    };
    return { entry, states, targets };
  }

  /** Records a manifest's result, when its values are plain JSON (a .nan or a binary is not cached). */
  set(manifest: string, entry: ResultEntry, targets: [string, string][], now: ResultInputs): void {
    const sections = internSections(entry, this.#interner);
    if (sections === undefined) return;
    const states: FileState[] = [];
    for (const file of entry.files) {
      const state = this.#fromText(file.path, now);
      if (state.hash === undefined) return;
      states.push(state);
    }
    this.#used.set(manifest, { entry, states, targets, sections });
    this.#built++;
  }

  /** Writes the entries this run used, when it built any; then keeps the folder under its size. */
  flush(): void {
    // Rewriting the pack costs about what building a tenth of its stacks does: a run that rebuilt fewer (one file
    // edited) leaves it as it is and the next run rebuilds those few again, until enough have changed.
    if (this.#built === 0 || this.#built * 10 < this.#hits + this.#built) return;
    this.#built = 0;
    const old = this.#load();
    const bytes = utf8(this.#appended(old) ?? this.#full());
    try {
      mkdirSync(join(this.#file, '..'), { recursive: true });
      writeCacheFileSync(this.#file, bytes);
      keepUnder(join(this.#file, '..'), this.#maxBytes, bytes.length);
    } catch {
      // A cache that cannot be written (read-only home, full disk) only costs speed.
    }
  }

  /** The pack with every entry encoded afresh, as pieces of text. */
  #full(): string[] {
    const table = new ValueTable(this.#relative, this.#interner);
    const lines: string[] = [];
    for (const [manifest, used] of this.#used) {
      const line = encode(used, table);
      if (line !== undefined) lines.push(`${JSON.stringify(manifest)}\t${line}\n`);
    }
    const values = jsonList('[', table.valueTexts);
    const tables = [JSON.stringify(table.shapes), '\n', JSON.stringify(table.files), '\n'];
    return [`${this.#header}\n${table.values.length}\n`, ...values, '\n', ...tables, ...lines];
  }

  /** The pack read, with the new entries' values appended; undefined when it is time for a full write. */
  #appended(old: LoadedPack): string[] | undefined {
    if (old.values.length === 0) return undefined;
    const table = new ValueTable(this.#relative, this.#interner, old);
    const lines: string[] = [];
    for (const [manifest, used] of this.#used) {
      const line = used.line ?? encode(used, table);
      if (line !== undefined) lines.push(`${JSON.stringify(manifest)}\t${line}\n`);
    }
    if (old.values.length + table.values.length > old.compacted * 1.5 + 1000) return undefined;
    return [
      `${this.#header}\n${old.compacted}\n`,
      ...appendedList(old.valuesText, table.valueTexts),
      '\n',
      ...appendedList(old.shapesText, table.shapes.length > 0 ? [JSON.stringify(table.shapes).slice(1, -1)] : []),
      '\n',
      ...appendedList(old.filesText, table.files.length > 0 ? [JSON.stringify(table.files).slice(1, -1)] : []),
      '\n',
      ...lines,
    ];
  }

  readonly #relative = (path: string): string => (path.startsWith(this.#base) ? path.slice(this.#base.length) : path);

  #absolute(path: string): string {
    return isAbsolute(path) ? path : this.#base + path;
  }

  /** A file table entry checked (once per run: hundreds of manifests name the same catalogs). */
  #checkEntry(id: number, pack: LoadedPack, now: ResultInputs): CheckedEntry {
    let checked = this.#entries[id];
    if (checked === undefined) {
      const [relative, hash, stamp] = pack.files[id];
      const path = this.#absolute(relative);
      const state = this.#check(path, hash, stamp || undefined, now);
      checked = { path, state, unchanged: state.hash === hash };
      this.#entries[id] = checked;
    }
    return checked;
  }

  /**
   * A file as validation finds it (once per run): a file whose stamp is still the one recorded with `hash` holds
   * what it held then, unread; any other is read and hashed.
   */
  #check(path: string, hash: string, stamp: string | undefined, now: ResultInputs): FileState {
    let state = this.#checked.get(path) ?? this.#read.get(path);
    if (state === undefined) {
      const current = now.stamp(path);
      state = current !== undefined && current === stamp ? { hash, stamp } : this.#fromText(path, now);
      this.#checked.set(path, state);
    }
    return state;
  }

  /** A file's hash from its text as read, with the stamp taken before that read. */
  #fromText(path: string, now: ResultInputs): FileState {
    let state = this.#read.get(path);
    if (state === undefined) {
      const text = now.text(path);
      state = { hash: text === undefined ? undefined : sha256(text), stamp: now.stamp(path) };
      this.#read.set(path, state);
    }
    return state;
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
        files: storedFiles(JSON.parse(lines[4])),
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
  /** [path, SHA-256, stamp or ''] lists. */
  files: StoredFile[];
  lines: Map<string, string>;
  /** The size of the value table when the pack was last written in full. */
  compacted: number;
  valuesText: string;
  shapesText: string;
  filesText: string;
}

/** A file table entry: [path, SHA-256, stamp or '']. */
type StoredFile = [string, string, string];

/** A file as this run found it: its hash (undefined: it cannot be read) and its stamp if one can be trusted. */
interface FileState {
  hash: string | undefined;
  stamp: string | undefined;
}

/** A file table entry as this run checked it: its absolute path, state, and whether it still has the hash recorded. */
interface CheckedEntry {
  path: string;
  state: FileState;
  unchanged: boolean;
}

interface UsedEntry {
  entry: ResultEntry;
  /** Each file's state, in the order of entry.files. */
  states: FileState[];
  targets: [string, string][];
  /** The entry's line as read from the pack (its indexes point into the pack's tables). */
  line?: string;
  /** Each candidate's section as interned when the entry was built (absent for an entry read from the pack). */
  sections?: InternedSection[];
}

/** The entry's sections interned; undefined when JSON cannot carry a value. */
function internSections(entry: ResultEntry, interner: JsonInterner): InternedSection[] | undefined {
  const sections: InternedSection[] = [];
  for (const { raw } of entry.candidates) {
    const section = interner.section(raw.name, raw.section);
    if (section === undefined) return undefined;
    sections.push(section);
  }
  return sections;
}

/** An entry's line for a pack whose tables `table` extends (undefined when a value is one JSON cannot carry). */
function encode({ entry, states, targets, sections: built }: UsedEntry, table: ValueTable): string | undefined {
  const sections = built ?? internSections(entry, table.interner);
  if (sections === undefined) return undefined;
  const ids = new Map<string, number>();
  const files = entry.files.map((file, i): [number, number] => {
    const id = table.file(file.path, states[i]);
    ids.set(file.path, id);
    return [id, file.depth];
  });
  const stored: Omit<StoredEntry, 'candidates'> = {
    files,
    targets: targets.map(([target, file]) => [table.relative(target), ids.get(file) ?? table.file(file, NO_STATE)]),
    imports: entry.imports,
    fallbackName: entry.fallbackName,
  };
  // The candidates' texts are made by hand: thousands of index lists, joined faster than JSON.stringify walks them.
  const candidates = entry.candidates.map((c, i) => table.encodeCandidate(c, sections[i]));
  return `${JSON.stringify(stored).slice(0, -1)},"candidates":[${candidates.join(',')}]}`;
}

/** A JSON list's text with more items (their JSON texts) appended, as pieces. */
function appendedList(text: string, texts: string[]): string[] {
  if (texts.length === 0) return [text];
  return jsonList(text === '[]' ? '[' : `${text.slice(0, -1)},`, texts);
}

/** `start`, then the texts separated by commas, then `]`: as pieces, never joined into one string. */
function jsonList(start: string, texts: string[]): string[] {
  const pieces = [start];
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) pieces.push(',');
    pieces.push(texts[i]);
  }
  pieces.push(']');
  return pieces;
}

/** Pieces of text as one UTF-8 buffer, each piece encoded straight into it (a pack is megabytes). */
function utf8(pieces: string[]): Buffer {
  let size = 0;
  for (const piece of pieces) size += Buffer.byteLength(piece);
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for (const piece of pieces) at += bytes.write(piece, at);
  return bytes;
}

/**
 * The tables of a pack being written: each interned value gets a table index on first use, its JSON text made once
 * by the interner; section shapes (key lists) and files likewise.
 */
class ValueTable {
  /** The values and shapes added (their indexes follow those of the tables the table extends). */
  readonly values: unknown[] = [];
  /** The JSON text of each value added: the table is written from them. */
  readonly valueTexts: string[] = [];
  readonly shapes: string[][] = [];
  readonly files: StoredFile[] = [];
  /** Table indexes by interned number (-1: none yet). */
  readonly #byNumber: number[] = [];
  /** The values of the tables extended, found by identity (objects) or by value (strings, numbers...). */
  readonly #oldObjects = new WeakMap<object, number>();
  readonly #oldScalars = new Map<unknown, number>();
  readonly #shapeIds = new Map<string, number>();
  #lastShape: { keys: string[]; shape: number } | undefined;
  readonly #fileIds = new Map<string, number>();
  readonly #valueBase: number;
  readonly #shapeBase: number;
  readonly #fileBase: number;

  /** A table extending the tables of a pack read (its values are found again by identity). */
  constructor(
    readonly relative: (path: string) => string,
    readonly interner: JsonInterner,
    { values, shapes, files }: Pick<LoadedPack, 'values' | 'shapes' | 'files'> = { values: [], shapes: [], files: [] },
  ) {
    this.#valueBase = values.length;
    this.#shapeBase = shapes.length;
    this.#fileBase = files.length;
    for (let id = 0; id < files.length; id++) this.#fileIds.set(files[id].join('\u0000'), id);
    for (let id = 0; id < values.length; id++) {
      const value = values[id];
      const old = typeof value === 'object' && value !== null ? this.#oldObjects : this.#oldScalars;
      if (!old.has(value as object)) old.set(value as object, id);
    }
    for (let id = 0; id < shapes.length; id++) this.#shapeIds.set(shapes[id].join('\u0000'), id);
  }

  /** The index of a file (absolute path) with its hash and stamp in the file table. */
  file(path: string, { hash, stamp }: FileState): number {
    const stored: StoredFile = [this.relative(path), hash ?? '', stamp ?? ''];
    const key = stored.join('\u0000');
    let id = this.#fileIds.get(key);
    if (id === undefined) {
      id = this.#fileBase + this.files.length;
      this.files.push(stored);
      this.#fileIds.set(key, id);
    }
    return id;
  }

  /** A candidate's JSON text: [kind, name, folder, baseComponent, abstract, enabled, locked, stack, shape, ...]. */
  encodeCandidate({ raw, stack }: CachedCandidate, { keys, ids }: InternedSection): string {
    const head = [raw.kind, raw.name, raw.folder, raw.baseComponent, raw.abstract, raw.enabled, raw.locked, stack];
    const tail = [this.#shape(keys)];
    for (const id of ids) tail.push(this.#index(id));
    return `${JSON.stringify(head).slice(0, -1)},${tail.join(',')}]`;
  }

  /** The index of a section's key list in the shape table (most sections have the keys of the one before). */
  #shape(keys: string[]): number {
    const last = this.#lastShape;
    if (last && (last.keys === keys || sameKeys(last.keys, keys))) return last.shape;
    const shapeKey = keys.join('\u0000');
    let shape = this.#shapeIds.get(shapeKey);
    if (shape === undefined) {
      shape = this.#shapeBase + this.shapes.length;
      this.shapes.push(keys);
      this.#shapeIds.set(shapeKey, shape);
    }
    this.#lastShape = { keys, shape };
    return shape;
  }

  /** The table index of an interned value: the extended tables' own when it is one of theirs, else a new one. */
  #index(id: number): number {
    const byNumber = this.#byNumber;
    while (byNumber.length <= id) byNumber.push(-1);
    if (byNumber[id] >= 0) return byNumber[id];
    const value = this.interner.value(id);
    let index = typeof value === 'object' && value !== null ? this.#oldObjects.get(value) : this.#oldScalars.get(value);
    if (index === undefined) {
      index = this.#valueBase + this.values.length;
      this.values.push(value);
      this.valueTexts.push(this.interner.text(id));
    }
    byNumber[id] = index;
    return index;
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

const NO_STATE: FileState = { hash: '', stamp: undefined };

/** The file table as read, each entry [path, SHA-256, stamp or '']; anything else throws (a damaged pack). */
function storedFiles(table: unknown): StoredFile[] {
  const valid = (file: unknown) => Array.isArray(file) && file.length === 3 && file.every((s) => typeof s === 'string');
  if (!Array.isArray(table) || !table.every(valid)) throw new Error('damaged file table');
  return table as StoredFile[];
}

function isEmptyPlainMap(value: unknown): boolean {
  return isPlainMap(value) && Object.keys(value).length === 0;
}
