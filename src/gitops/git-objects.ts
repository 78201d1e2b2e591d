/**
 * Git objects read through one long-lived `git cat-file --batch` process: blobs, and trees walked here. describe
 * affected needs a commit's file ids, the files two commits differ in and a few base blobs; asking one process for
 * the trees on the way replaces an `ls-tree` and a `diff` process each run (on these machines starting a process
 * costs the parent about 10 ms of CPU, and the walk reads only the trees whose ids differ).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { StrataError } from '../errors.ts';
import { type FileChanges, GIT_ENV } from './git.ts';

interface GitObject {
  type: string;
  content: Buffer;
}

interface Pending {
  name: string;
  done: (object: GitObject | undefined) => void;
  fail: (error: Error) => void;
}

/** One entry of a tree object. */
interface TreeEntry {
  mode: string;
  id: string;
}

const TREE_MODE = '40000';

/**
 * Requests go out as lines and answers come back in the same order, so any number may be in flight: a walk asks for
 * every subtree of a level at once.
 */
export class ObjectReader {
  readonly #root: string;
  readonly #idLength: number;
  #child: ChildProcessWithoutNullStreams | undefined;
  readonly #pending: Pending[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #failure: Error | undefined;

  /** `objectId` is any object id of the repository: its length tells SHA-1 from SHA-256. */
  constructor(root: string, objectId: string) {
    this.#root = root;
    this.#idLength = objectId.length / 2;
  }

  /** The object a name gives (`<commit>:<path>`, `<commit>^{tree}`, an id), undefined when git knows none. */
  read(name: string): Promise<GitObject | undefined> {
    if (name.includes('\n')) return Promise.resolve(undefined);
    if (this.#failure) return Promise.reject(this.#failure);
    const child = this.#start();
    return new Promise((done, fail) => {
      this.#pending.push({ name, done, fail });
      child.stdin.write(`${name}\n`);
    });
  }

  /** The blobs of `paths` in `commit` (paths that are missing or no file are left out). */
  async blobs(commit: string, paths: string[]): Promise<Map<string, Buffer>> {
    const unique = [...new Set(paths)];
    const objects = await Promise.all(unique.map((path) => this.read(`${commit}:${path}`)));
    const blobs = new Map<string, Buffer>();
    unique.forEach((path, i) => {
      const object = objects[i];
      if (object?.type === 'blob') blobs.set(path, object.content);
    });
    return blobs;
  }

  /**
   * The object id of every file under `dir` ('' for all) in `commit`, by repository-relative path, as `ls-tree -r`
   * lists them; symbolic links (whose blob is the link's target, not what the engine reads) and submodules left out.
   */
  async blobIds(commit: string, dir: string): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    const top = await this.#tree(dir ? `${commit}:${dir}` : `${commit}^{tree}`);
    if (top) await this.#list(top, dir, (path, entry) => isFile(entry) && ids.set(path, entry.id));
    return ids;
  }

  /** What `git diff --name-status --no-renames <from> <to>` reports, from the trees whose ids differ. */
  async changes(from: string, to: string): Promise<FileChanges> {
    const [a, b] = await Promise.all([this.#tree(`${from}^{tree}`), this.#tree(`${to}^{tree}`)]);
    if (!a || !b) throw new StrataError(`git cannot read the trees of ${from} and ${to}`);
    const all: string[] = [];
    const addedOrDeleted: string[] = [];
    await this.#diff(a, b, '', (path, how) => {
      all.push(path);
      if (how !== 'M') addedOrDeleted.push(path);
    });
    return { all: all.sort(), addedOrDeleted: addedOrDeleted.sort() };
  }

  /** Ends the git process (pending requests are still answered). */
  close(): void {
    this.#child?.stdin.end();
  }

  async #tree(name: string): Promise<Map<string, TreeEntry> | undefined> {
    const object = await this.read(name);
    return object?.type === 'tree' ? parseTree(object.content, this.#idLength) : undefined;
  }

  async #list(tree: Map<string, TreeEntry>, prefix: string, visit: (path: string, entry: TreeEntry) => void) {
    const subtrees: Array<Promise<void>> = [];
    for (const [name, entry] of tree) {
      const path = prefix ? `${prefix}/${name}` : name;
      if (entry.mode !== TREE_MODE) visit(path, entry);
      else subtrees.push(this.#subtree(entry).then((sub) => this.#list(sub, path, visit)));
    }
    await Promise.all(subtrees);
  }

  async #diff(
    a: Map<string, TreeEntry>,
    b: Map<string, TreeEntry>,
    prefix: string,
    report: (path: string, how: 'A' | 'D' | 'M') => void,
  ): Promise<void> {
    const walks: Array<Promise<void>> = [];
    const whole = (entry: TreeEntry, path: string, how: 'A' | 'D') => {
      if (entry.mode !== TREE_MODE) report(path, how);
      else walks.push(this.#subtree(entry).then((sub) => this.#list(sub, path, (p) => report(p, how))));
    };
    for (const name of new Set([...a.keys(), ...b.keys()])) {
      const [x, y] = [a.get(name), b.get(name)];
      if (x && y && x.id === y.id && x.mode === y.mode) continue;
      const path = prefix ? `${prefix}/${name}` : name;
      if (x?.mode === TREE_MODE && y?.mode === TREE_MODE) {
        walks.push(Promise.all([this.#subtree(x), this.#subtree(y)]).then(([p, q]) => this.#diff(p, q, path, report)));
      } else if (x && y && x.mode !== TREE_MODE && y.mode !== TREE_MODE) {
        // Content, mode or type (file, link, submodule) changed: git's M and T.
        report(path, 'M');
      } else {
        // Added, deleted, or a file replaced by a folder (or back): git reports the file and the folder's files.
        if (x) whole(x, path, 'D');
        if (y) whole(y, path, 'A');
      }
    }
    await Promise.all(walks);
  }

  async #subtree(entry: TreeEntry): Promise<Map<string, TreeEntry>> {
    const tree = await this.#tree(entry.id);
    if (!tree) throw new StrataError(`git cannot read the tree ${entry.id}`, { hint: 'run git fsck' });
    return tree;
  }

  #start(): ChildProcessWithoutNullStreams {
    if (this.#child) return this.#child;
    const child = spawn('git', ['cat-file', '--batch'], { cwd: this.#root, env: { ...process.env, ...GIT_ENV } });
    child.stdout.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
      this.#answer();
    });
    child.stdin.on('error', () => undefined);
    const stop = (why: string) => {
      this.#failure ??= new StrataError(`git cat-file ${why}`, { hint: 'run git fsck in the repository' });
      for (const request of this.#pending.splice(0)) request.fail(this.#failure);
    };
    child.on('error', (error) => stop(`could not run: ${error.message}`));
    child.on('close', (code) => stop(`ended (exit ${code}) before answering`));
    this.#child = child;
    return child;
  }

  /** Settles every request whose whole answer has arrived: `<id> <type> <size>\n<content>\n` or `<name> missing\n`. */
  #answer(): void {
    while (this.#pending.length > 0) {
      const eol = this.#buffer.indexOf(10);
      if (eol < 0) return;
      const header = this.#buffer.subarray(0, eol).toString().split(' ');
      if (header.length !== 3) {
        // missing, ambiguous, or a name that is no object: no content follows.
        this.#buffer = this.#buffer.subarray(eol + 1);
        this.#pending.shift()?.done(undefined);
        continue;
      }
      const size = Number(header[2]);
      if (this.#buffer.length < eol + 1 + size + 1) return;
      const content = this.#buffer.subarray(eol + 1, eol + 1 + size);
      this.#buffer = this.#buffer.subarray(eol + 1 + size + 1);
      this.#pending.shift()?.done({ type: header[1], content });
    }
  }
}

function isFile(entry: TreeEntry): boolean {
  return entry.mode.startsWith('100');
}

/** A tree object's entries: `<mode> <name>\0<id>`, the id in raw bytes (20 for SHA-1 repositories, 32 for SHA-256). */
export function parseTree(content: Buffer, idLength: number): Map<string, TreeEntry> {
  const entries = new Map<string, TreeEntry>();
  let pos = 0;
  while (pos < content.length) {
    const space = content.indexOf(32, pos);
    const nul = content.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 1 + idLength > content.length) break;
    const mode = content.toString('latin1', pos, space);
    const name = content.toString('utf8', space + 1, nul);
    entries.set(name, { mode, id: content.toString('hex', nul + 1, nul + 1 + idLength) });
    pos = nul + 1 + idLength;
  }
  return entries;
}
