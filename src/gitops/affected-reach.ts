/**
 * The import closures of the last run, kept beside the import index (`.git/strata/affected-reach.json`): a warm
 * `describe affected` takes a manifest's closure as it was when every file in it still has the same object id and no
 * folder its imports were resolved in has changed, instead of following the imports of every manifest again (50 ms
 * at 1,000 stacks). Adding, removing or renaming an entry changes a folder's times, kept as its stamp
 * (stacks/file-stamp.ts); a file's content is checked by its id. Nothing is kept when a folder changed within
 * RACY_MS of the start of the run that looked into it (git's racy-clean rule: a change in the same clock tick as the
 * look would leave the stamp equal), or when a folder held a symbolic link (its target may change while the folder
 * does not).
 */
import { readFileSync, statSync } from 'node:fs';
import { isPlainMap } from '../data/merge.ts';
import { fileStamp } from '../stacks/file-stamp.ts';
import { writeCacheFileSync } from '../util/fs.ts';

const REACH_FORMAT = 1;

interface ReachFile {
  format: number;
  key: string;
  /** Each folder the imports were resolved in: its stamp, or null when it did not exist. */
  folders: [string, string | null][];
  /** [repository-relative path, object id] of each file in a closure. */
  files: [string, string][];
  /** Per manifest: its closure as indexes into `files`, and its files' file dependencies (null: one is computed). */
  manifests: Record<string, [number[], string[] | null]>;
}

/** A manifest's closure (repository-relative paths) and its files' file and folder dependencies. */
export interface KeptReach {
  closure: string[];
  fileDeps: string[] | null;
}

/**
 * A folder's stamp (`statAt`: Date.now() taken before the folders were looked into); null when there is none,
 * undefined when it cannot be trusted (changed since statAt - RACY_MS, or not a folder).
 */
function folderStamp(dir: string, statAt: number): string | null | undefined {
  try {
    const stat = statSync(dir, { bigint: true, throwIfNoEntry: false });
    return stat === undefined ? null : fileStamp(stat, statAt, 'folder');
  } catch {
    return undefined; // ENOTDIR, EACCES: nothing to trust
  }
}

export class ReachCache {
  readonly #path: string | undefined;
  readonly #key: string;
  /** When this run started to look (Date.now()): folders changed since, or just before, are not kept. */
  readonly #startedAt = Date.now();
  #stored: ReachFile | undefined | null = null;
  /** Per stored file index: whether its id is still the same (decided on first use). */
  readonly #sameFile: (boolean | undefined)[] = [];
  /** What the next file holds: the closures this run took or followed. */
  readonly #kept = new Map<string, KeptReach>();
  #followed = 0;

  constructor(path: string | undefined, key: string) {
    this.#path = path;
    this.#key = key;
  }

  /** The closure kept for a manifest, if its files are unchanged (`idOf`: a file's object id now). */
  get(manifest: string, idOf: (rel: string) => string): KeptReach | undefined {
    const stored = this.#load();
    const entry = stored?.manifests[manifest];
    if (!stored || !Array.isArray(entry) || !Array.isArray(entry[0])) return undefined;
    const closure: string[] = [];
    for (const index of entry[0]) {
      const file = stored.files[index];
      if (!Array.isArray(file)) return undefined;
      let same = this.#sameFile[index];
      if (same === undefined) {
        same = idOf(file[0]) === file[1];
        this.#sameFile[index] = same;
      }
      if (!same) return undefined;
      closure.push(file[0]);
    }
    const kept = { closure, fileDeps: Array.isArray(entry[1]) ? entry[1] : null };
    this.#kept.set(manifest, kept);
    return kept;
  }

  /** A closure this run followed. */
  set(manifest: string, kept: KeptReach): void {
    this.#kept.set(manifest, kept);
    this.#followed++;
  }

  /**
   * Writes what this run kept, when it followed any closure; `folders`: the folders its imports were resolved in
   * (undefined: they cannot be checked, so nothing is kept).
   */
  save(folders: Array<[string, boolean]> | undefined, idOf: (rel: string) => string): void {
    if (!this.#path || this.#followed === 0 || !folders) return;
    const stamps = new Map(this.#load()?.folders ?? []);
    for (const [dir] of folders) {
      if (stamps.has(dir)) continue;
      const stamp = folderStamp(dir, this.#startedAt);
      if (stamp === undefined) return;
      stamps.set(dir, stamp);
    }
    const files: [string, string][] = [];
    const indexOf = new Map<string, number>();
    const manifests: ReachFile['manifests'] = {};
    for (const [manifest, { closure, fileDeps }] of this.#kept) {
      manifests[manifest] = [
        closure.map((rel) => {
          let index = indexOf.get(rel);
          if (index === undefined) {
            index = files.push([rel, idOf(rel)]) - 1;
            indexOf.set(rel, index);
          }
          return index;
        }),
        fileDeps,
      ];
    }
    const data: ReachFile = { format: REACH_FORMAT, key: this.#key, folders: [...stamps], files, manifests };
    try {
      writeCacheFileSync(this.#path, JSON.stringify(data));
    } catch {
      // A cache that cannot be written only costs speed.
    }
  }

  /** The stored file, when it is this configuration's and none of its folders changed. */
  #load(): ReachFile | undefined {
    if (this.#stored !== null) return this.#stored;
    this.#stored = undefined;
    if (!this.#path) return undefined;
    let data: ReachFile;
    try {
      data = JSON.parse(readFileSync(this.#path, 'utf8')) as ReachFile;
    } catch {
      return undefined; // none yet, or damaged
    }
    const wellFormed =
      isPlainMap(data) &&
      data.format === REACH_FORMAT &&
      data.key === this.#key &&
      Array.isArray(data.folders) &&
      Array.isArray(data.files) &&
      isPlainMap(data.manifests);
    if (!wellFormed) return undefined;
    const now = Date.now();
    for (const folder of data.folders) {
      if (!Array.isArray(folder) || folderStamp(String(folder[0]), now) !== folder[1]) return undefined;
    }
    this.#stored = data;
    return data;
  }
}
