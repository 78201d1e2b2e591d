/**
 * `describe affected`, the cheap half: which stack manifests a file reaches, from each file's own imports (a parse,
 * no assembly or evaluation), and what a manifest could hold that is matched outside its sections (component
 * folders, file and folder dependencies). What a file says is kept by content hash in the git directory, so a
 * warm run reads each stack file only to hash it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { StrataError } from '../errors.ts';
import { type PlainImport, plainImports, resolvePlainImport } from '../stacks/imports.ts';
import { FileLookup } from '../stacks/manifest-paths.ts';
import type { ManifestReader } from '../stacks/manifests.ts';
import { mergedPack, SortedPack } from '../stacks/sorted-pack.ts';
import { writeCacheFileSync } from '../util/fs.ts';
import { type Side, toPosix } from './affected-evaluate.ts';
import type { KeptReach, ReachCache } from './affected-reach.ts';

/** What one stack file says, as far as change detection needs it. */
export interface FileFacts {
  /** Its plain imports; null when one needs the full reader (glob, template, context, `.tmpl`). */
  imports: PlainImport[] | null;
  /** `kind/folder` of every component it could place in a folder; null when one is computed (a template). */
  folders: string[] | null;
  /** File and folder dependencies it declares (dependencies.files/folders, settings.depends_on.*.file/folder); null
   * when one is computed. */
  fileDeps: string[] | null;
  /** What each of its components builds on (`kind\0name` -> bases; see ManifestComponents). */
  bases: Record<string, string[]>;
  /** Whether it may compute something: a template or a YAML tag in its text, or a `.tmpl` file. */
  dynamic: boolean;
}

/** What a stack file's data says of folders and file dependencies. */
type ContentFacts = Pick<FileFacts, 'folders' | 'fileDeps'>;

/** What a top-level manifest reaches. */
export interface ManifestReach {
  /** Repository-relative path of the manifest. */
  rel: string;
  /** Repository-relative paths of every file merged into it (itself included). */
  closure: string[];
  /** `kind/folder` of the components it may define; null: unknown, check it whenever component code changes. */
  folders: Set<string> | null;
  /** File and folder dependencies its files declare; null: unknown, evaluate it whenever anything changes. */
  fileDeps: Set<string> | null;
  /** Whether its imports needed the full reader (a glob, a template, a context, a `.tmpl` file). */
  assembled: boolean;
  /** Whether a file or folder dependency it declares (or one it computes) may reach one of the changed paths. */
  dependsOn(changed: string[]): boolean;
}

/** What narrowing to components needs to know of a manifest's files (affected-narrow.ts). */
export interface ManifestComponents {
  /** The components each component builds on (`kind\0name` -> metadata.inherits, component:, metadata.component). */
  bases: Map<string, Set<string>>;
  /** Whether a file holds a template or a YAML tag (a function, `!include`, a marker), or its imports were dynamic. */
  dynamic: boolean;
}

const DEPENDENCY_KEYS = new Set(['dependencies', 'depends_on']);
const FILE_KEYS = new Set(['files', 'folders', 'file', 'folder']);

/** Folders and file dependencies a stack file's data may give (imports aside). */
export function contentFacts(data: PlainMap, delimiter: string): ContentFacts {
  let folders: string[] | null = [];
  const components = isPlainMap(data.components) ? data.components : {};
  for (const [kind, byName] of Object.entries(components)) {
    if (!isPlainMap(byName)) continue;
    for (const [name, component] of Object.entries(byName)) {
      const named: unknown[] = [name];
      if (isPlainMap(component)) {
        const metadata = isPlainMap(component.metadata) ? component.metadata : {};
        for (const v of [metadata.component, component.component]) if (v !== undefined && v !== null) named.push(v);
      }
      for (const folder of named) {
        if (typeof folder !== 'string' || folder.includes(delimiter)) folders = null;
        else if (folders && !folders.includes(`${kind}/${folder}`)) folders.push(`${kind}/${folder}`);
      }
    }
  }
  const fileDeps: string[] = [];
  return { folders, fileDeps: collectFiles(data, 'outside', delimiter, fileDeps) ? fileDeps : null };
}

/** What each component of a stack file's data builds on (see ManifestComponents), for those that build on any. */
export function basesOf(data: PlainMap): Record<string, string[]> {
  const bases: Record<string, string[]> = {};
  const components = isPlainMap(data.components) ? data.components : {};
  for (const [kind, byName] of Object.entries(components)) {
    if (!isPlainMap(byName)) continue;
    for (const [name, component] of Object.entries(byName)) {
      if (!isPlainMap(component)) continue;
      const metadata = isPlainMap(component.metadata) ? component.metadata : {};
      const inherits = Array.isArray(metadata.inherits) ? metadata.inherits : [];
      const parents = [metadata.component, component.component, ...inherits].filter((v) => typeof v === 'string');
      if (parents.length > 0) bases[`${kind}\u0000${name}`] = [...new Set(parents as string[])];
    }
  }
  return bases;
}

/** Whether a stack file's text may compute something: a template, or any YAML tag (`!terraform.output`, `!include`). */
export function isDynamicText(text: string, delimiter: string): boolean {
  return text.includes(delimiter) || /![A-Za-z]/.test(text);
}

/**
 * Collects the paths under file/folder keys of dependency sections into `out`; false when one is computed (a YAML
 * function or a template), which only evaluation can tell.
 */
function collectFiles(
  value: unknown,
  where: 'outside' | 'dependencies' | 'paths',
  delimiter: string,
  out: string[],
): boolean {
  // Plain loops: this walks every value of every stack file when the index is built (closures cost 100 ms there).
  if (Array.isArray(value)) {
    for (const item of value) if (!collectFiles(item, where, delimiter, out)) return false;
    return true;
  }
  if (isPlainMap(value)) {
    for (const k of Object.keys(value)) {
      const item = value[k];
      // Outside dependency sections only maps and lists can hold one: scalars need no call.
      if (where === 'outside' && (item === null || typeof item !== 'object') && !DEPENDENCY_KEYS.has(k)) continue;
      const next =
        where === 'paths' || (where === 'dependencies' && FILE_KEYS.has(k))
          ? 'paths'
          : where === 'dependencies' || DEPENDENCY_KEYS.has(k)
            ? 'dependencies'
            : 'outside';
      if (!collectFiles(item, next, delimiter, out)) return false;
    }
    return true;
  }
  if (where === 'outside' || value === null || value === undefined) return true;
  if (typeof value === 'string') {
    if (value.includes(delimiter)) return false;
    if (where === 'paths') out.push(value);
    return true;
  }
  return typeof value !== 'object';
}

/** Whether a changed path is one of the paths, or under one of them (Atmos's file and folder matches). */
export function reachesPath(paths: Iterable<string>, changed: string[]): boolean {
  for (const p of paths) {
    const path = toPosix(p).replace(/^\.\//, '').replace(/\/$/, '');
    if (path === '' || path === '.' || changed.some((c) => c === path || c.startsWith(`${path}/`))) return true;
  }
  return false;
}

// 5: a pack of lines sorted by object id (SortedPack, as the parse cache's), one JSON object per file: a run needing a
// few files' facts bisects the bytes instead of parsing all of them (40 ms for 1.7 MB at 1,000 stacks).
// 4: one JSON document, each file's imports apart from the rest. 3: bases and dynamic content. 2: git's object ids.
const INDEX_FORMAT = 5;

/** A plain import as stored: its path, or `{path}` when it may be missing (most are plain paths: a third the size). */
type StoredImport = string | { path: string };

/** A file's facts as stored; what most files say is left out (no file dependencies, no bases, nothing computed). */
interface StoredFacts {
  imports: StoredImport[] | null;
  folders: string[] | null;
  fileDeps?: string[] | null;
  bases?: Record<string, string[]>;
  dynamic?: true;
}

function encodeFacts(facts: FileFacts): string {
  const stored: StoredFacts = {
    imports: facts.imports?.map((i): StoredImport => (i.skipIfMissing ? { path: i.path } : i.path)) ?? null,
    folders: facts.folders,
  };
  if (facts.fileDeps === null || facts.fileDeps.length > 0) stored.fileDeps = facts.fileDeps;
  if (Object.keys(facts.bases).length > 0) stored.bases = facts.bases;
  if (facts.dynamic) stored.dynamic = true;
  return JSON.stringify(stored);
}

function decodeFacts(text: string): FileFacts | undefined {
  let stored: StoredFacts;
  try {
    stored = JSON.parse(text) as StoredFacts;
  } catch {
    return undefined; // a line damaged on disk is a miss
  }
  if (!isPlainMap(stored) || !(stored.imports === null || Array.isArray(stored.imports))) return undefined;
  return {
    imports:
      stored.imports?.map((i) =>
        typeof i === 'string' ? { path: i, skipIfMissing: false } : { path: String(i?.path), skipIfMissing: true },
      ) ?? null,
    folders: Array.isArray(stored.folders) ? stored.folders : null,
    fileDeps: stored.fileDeps === undefined ? [] : Array.isArray(stored.fileDeps) ? stored.fileDeps : null,
    bases: isPlainMap(stored.bases) ? (stored.bases as Record<string, string[]>) : {},
    dynamic: stored.dynamic === true,
  };
}

/**
 * The import index of a tree, in the git directory: each stack file's facts by git's object id of its content. Facts
 * this run read or learnt are written back with the others; an entry is dropped once its content is in neither the
 * HEAD tree nor any run's use for 20 writes.
 */
export class IndexPack {
  readonly #path: string | undefined;
  readonly #header: string;
  readonly #pack: SortedPack;
  /** Facts this run used, as stored text, by object id. */
  readonly #used = new Map<string, string>();
  #learnt = 0;

  /** The index at `path` for trees read with the configuration `key` (empty when there is none or it is another's). */
  static open(path: string, key: string): IndexPack {
    return new IndexPack(path, key);
  }

  /** No index: nothing read, nothing written (the `cache: false` option). */
  static none(): IndexPack {
    return new IndexPack(undefined, '');
  }

  private constructor(path: string | undefined, key: string) {
    this.#path = path;
    this.#header = JSON.stringify({ format: INDEX_FORMAT, key });
    this.#pack = path ? SortedPack.read(path, this.#header) : new SortedPack(Buffer.alloc(0), this.#header);
  }

  get(id: string): FileFacts | undefined {
    const text = this.#pack.get(id);
    const facts = text === undefined ? undefined : decodeFacts(text);
    if (facts) this.#used.set(id, text as string);
    return facts;
  }

  learn(id: string, facts: FileFacts): void {
    this.#used.set(id, encodeFacts(facts));
    this.#learnt++;
  }

  /**
   * Writes the index again when this run learnt something (`known`: the HEAD tree's files and their object ids, whose
   * entries are kept), and lets go of the file either way.
   */
  save(known?: ReadonlyMap<string, string>): void {
    try {
      if (!this.#path || this.#learnt === 0) return;
      this.#learnt = 0;
      const live = known && new Set(known.values());
      writeCacheFileSync(this.#path, mergedPack(this.#header, this.#pack, this.#used, live && ((id) => live.has(id))));
    } catch {
      // An index that cannot be written only costs speed.
    } finally {
      this.#pack.close();
    }
  }
}

/** The import graph of one tree, built from file facts (cached by content hash, else from a parse). */
export class ImportIndex {
  readonly #side: Side;
  readonly #stored: IndexPack;
  readonly #reader: ManifestReader;
  readonly #delimiter: string;
  readonly #facts = new Map<string, FileFacts>();
  readonly #hashOf = new Map<string, string>();
  readonly #closures = new Map<string, string[] | null>();
  readonly #targets = new Map<string, string | undefined>();
  readonly #rels = new Map<string, string>();
  readonly #known: ReadonlyMap<string, string>;
  /** Manifests assembled in full because a file in their closure is dynamic. */
  assembled = 0;

  /**
   * `reader`: the one of an engine over the whole tree, so that the files parsed here are parsed once. `known`: git's
   * object ids of files whose content is the commit's (repository-relative paths), so that they are not read.
   */
  constructor(side: Side, stored: IndexPack, reader: ManifestReader, known: ReadonlyMap<string, string> = new Map()) {
    this.#side = side;
    this.#stored = stored;
    this.#reader = reader;
    this.#delimiter = side.config.templates.delimiters[0] || '{{';
    this.#known = known;
  }

  /** Git's object id of a file's content, by repository-relative path. */
  readonly #idOf = (rel: string): string => this.#known.get(rel) ?? this.#hash(join(this.#side.root, rel));

  /** Git's object id of a file's content ('' when it does not exist). */
  #hash(path: string): string {
    let h = this.#hashOf.get(path) ?? this.#known.get(this.#rel(path));
    if (h === undefined) {
      let bytes: Buffer | undefined;
      try {
        bytes = readFileSync(path);
      } catch {
        bytes = undefined;
      }
      h = bytes ? createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex') : '';
      this.#hashOf.set(path, h);
    }
    return h;
  }

  #factsOf(path: string): FileFacts {
    let facts = this.#facts.get(path);
    if (facts) return facts;
    const hash = this.#hash(path);
    facts = this.#stored.get(hash);
    if (!facts) {
      const template = path.endsWith('.tmpl');
      const data = template ? {} : this.#reader.parse(path);
      const text = this.#reader.source(path);
      facts = {
        imports: template ? null : (plainImports(data, this.#delimiter) ?? null),
        ...(template ? { folders: null, fileDeps: null } : contentFacts(data, this.#delimiter)),
        bases: basesOf(data),
        dynamic: template || isDynamicText(text, this.#delimiter),
      };
      // What `!include` pulls in is not in this file's hash: such facts are never kept (nor found next time).
      if (!text.includes('!include')) this.#stored.learn(hash, facts);
    }
    this.#facts.set(path, facts);
    return facts;
  }

  readonly #lookup = new FileLookup();
  readonly #exists = this.#lookup.isFile;

  /**
   * Every file merged into `path` once, imports first; null when one of them needs the full reader. (Catalogs that
   * import the same mixin would otherwise repeat it in every manifest's list.)
   */
  #closure(path: string, chain: Set<string>): string[] | null {
    const known = this.#closures.get(path);
    if (known !== undefined) return known;
    if (chain.has(path)) return null;
    chain.add(path);
    const facts = this.#factsOf(path);
    let files: string[] | null = facts.imports ? [] : null;
    const seen = new Set<string>();
    for (const spec of facts.imports ?? []) {
      const target = this.#target(path, spec.path);
      if (target === undefined && spec.skipIfMissing) continue;
      const below = target === undefined ? null : this.#closure(target, chain);
      if (!below || !files) {
        files = null;
        break;
      }
      for (const file of below) {
        if (!seen.has(file)) {
          seen.add(file);
          files.push(file);
        }
      }
    }
    chain.delete(path);
    if (files) files.push(path);
    this.#closures.set(path, files);
    return files;
  }

  /** Hundreds of files import the same catalogs: each import is resolved once per folder it is written in. */
  #target(importer: string, path: string): string | undefined {
    const relativeToFile = path.startsWith('./') || path.startsWith('../');
    const key = relativeToFile ? `${dirname(importer)}\u0000${path}` : path;
    if (this.#targets.has(key)) return this.#targets.get(key);
    const target = resolvePlainImport(this.#side.config.stacks.basePath, importer, path, this.#exists);
    this.#targets.set(key, target);
    return target;
  }

  #rel = (path: string): string => {
    let rel = this.#rels.get(path);
    if (rel === undefined) {
      rel = toPosix(relative(this.#side.root, path));
      this.#rels.set(path, rel);
    }
    return rel;
  };

  /**
   * What each top-level manifest (repository-relative) reaches; `kept`: the closures of the last run, taken where they
   * still hold, and given this run's to keep.
   */
  reach(manifests: string[], kept?: ReachCache): ManifestReach[] {
    const { root } = this.#side;
    const rel = this.#rel;
    const reached = manifests.map((m): ManifestReach => {
      const hit = kept?.get(m, this.#idOf);
      if (hit) return this.#reachOf(m, hit);
      const path = join(root, m);
      const files = this.#closure(path, new Set());
      if (files) {
        const followed = { closure: files.map(rel), fileDeps: this.#gather(files).fileDeps };
        kept?.set(m, followed);
        return this.#reachOf(m, followed);
      }
      // A glob, a template or a context somewhere: the reader assembles it and the merged data says the rest.
      this.assembled++;
      const whole = this.#assemble(path);
      const content = contentFacts(whole.data, this.#delimiter);
      return {
        rel: m,
        closure: [...new Set(whole.files.map((f) => rel(f.path)))],
        folders: content.folders && new Set(content.folders),
        fileDeps: content.fileDeps && new Set(content.fileDeps),
        assembled: true,
        dependsOn: (changed: string[]) => !content.fileDeps || reachesPath(content.fileDeps, changed),
      };
    });
    kept?.save(this.#lookup.folders(), this.#idOf);
    return reached;
  }

  /** A manifest's reach from its closure (kept or followed): its folders are gathered from the index when asked for. */
  #reachOf(rel: string, { closure, fileDeps }: KeptReach): ManifestReach {
    let found: string[] | null | undefined;
    const gatherFolders = () => {
      if (found === undefined) found = this.#gather(closure.map((f) => join(this.#side.root, f))).folders;
      return found && new Set(found);
    };
    return {
      rel,
      closure,
      assembled: false,
      dependsOn: (changed: string[]) => !fileDeps || reachesPath(fileDeps, changed),
      get folders() {
        return gatherFolders();
      },
      fileDeps: fileDeps && new Set(fileDeps),
    };
  }

  /** The folders and file dependencies of some files together (null when one file's are unknown). */
  #gather(files: string[]): ContentFacts {
    let folders: string[] | null = [];
    let fileDeps: string[] | null = [];
    for (const f of files) {
      const facts = this.#factsOf(f);
      if (folders && facts.folders) folders.push(...facts.folders);
      else folders = null;
      if (fileDeps && facts.fileDeps) fileDeps.push(...facts.fileDeps);
      else fileDeps = null;
    }
    return { folders, fileDeps };
  }

  /** Bases and dynamic content of the files some manifests reach (from the index, else parsed once by the reader). */
  components(manifests: ManifestReach[]): ManifestComponents {
    const bases = new Map<string, Set<string>>();
    let dynamic = false;
    // A thousand manifests name the same few hundred files: each is joined to the root once.
    const rels = new Set<string>();
    for (const m of manifests) for (const f of m.closure) rels.add(f);
    for (const rel of rels) {
      const facts = this.#factsOf(join(this.#side.root, rel));
      dynamic ||= facts.dynamic;
      for (const [key, parents] of Object.entries(facts.bases)) {
        const known = bases.get(key) ?? new Set<string>();
        for (const parent of parents) known.add(parent);
        bases.set(key, known);
      }
    }
    return { bases, dynamic: dynamic || manifests.some((m) => m.assembled) };
  }

  #assemble(path: string) {
    try {
      return this.#reader.assemble(path);
    } catch (error) {
      if (error instanceof StrataError) throw error;
      throw new StrataError(`cannot read the imports of ${this.#reader.display(path)}: ${(error as Error).message}`);
    }
  }
}
