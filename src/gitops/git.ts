/**
 * The git operations GitOps needs, run through the `git` binary (exact semantics, no wrapper library; see
 * notes/dependency-choices.md). Refs from users are always verified with `--end-of-options` so they cannot be
 * read as options.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { StrataError } from '../errors.ts';
import { globalMasker } from '../util/mask.ts';

interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };

/**
 * One git command's exit code and output (final newline stripped, secrets masked). Git's read-only plumbing ends in
 * milliseconds, so it is started directly: the process runner's streaming, process groups and its module cost more
 * than the commands themselves (describe affected runs several on every call).
 */
function capture(cwd: string, args: string[]): Promise<GitResult> {
  return new Promise((done, fail) => {
    execFile(
      'git',
      args,
      { cwd, env: { ...process.env, ...GIT_ENV }, maxBuffer: 1 << 30, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        if (error && typeof code !== 'number') {
          fail(new StrataError(`cannot run git: ${error.message}`, { hint: 'install git and put it on the PATH' }));
          return;
        }
        const clean = (text: string) => globalMasker.mask(text.endsWith('\n') ? text.slice(0, -1) : text);
        done({ exitCode: typeof code === 'number' ? code : 0, stdout: clean(stdout), stderr: clean(stderr) });
      },
    );
  });
}

export async function git(cwd: string, args: string[], allowFail = false): Promise<string> {
  const result = await capture(cwd, args);
  if (result.exitCode !== 0 && !allowFail) {
    throw new StrataError(`git ${args.join(' ')} failed (exit ${result.exitCode})`, {
      details: result.stderr.trim() || result.stdout.trim(),
      hint: 'run the command yourself in the repository to see why',
    });
  }
  return result.exitCode === 0 ? result.stdout : '';
}

/** The repository's top folder, or a StrataError saying the folder is not in a git repository. */
export async function repoRoot(cwd: string): Promise<string> {
  const result = await capture(cwd, ['rev-parse', '--show-toplevel']);
  if (result.exitCode !== 0) {
    throw new StrataError(`${cwd} is not inside a git repository`, {
      hint: 'run strata from a clone of your infrastructure repository, or pass --repo-path <dir> for the base side',
    });
  }
  return resolve(result.stdout.trim());
}

/** The commit a ref names (full SHA); a did-you-mean style error when it names none. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  const result = await capture(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  if (result.exitCode !== 0) {
    const branches = (
      await git(root, ['for-each-ref', '--format=%(refname:short)', 'refs/heads', 'refs/remotes'], true)
    )
      .split('\n')
      .filter(Boolean);
    throw new StrataError(`'${ref}' is not a commit in ${root}`, {
      hint: branches.length ? `known branches: ${branches.slice(0, 10).join(', ')}` : 'fetch the base branch first',
      details: 'In CI, fetch enough history: actions/checkout with fetch-depth: 0 (or git fetch origin <branch>).',
    });
  }
  return result.stdout.trim();
}

/** The default branch: origin/HEAD when the clone knows it, else main, master, origin/main, origin/master. */
export async function defaultBranch(root: string): Promise<string> {
  const head = (await git(root, ['symbolic-ref', '--quiet', 'refs/remotes/origin/HEAD'], true)).trim();
  if (head) return head.replace(/^refs\/remotes\//, '');
  for (const candidate of ['main', 'master', 'origin/main', 'origin/master']) {
    const ok = await capture(root, ['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`]);
    if (ok.exitCode === 0) return candidate;
  }
  throw new StrataError('cannot find the default branch (no origin/HEAD, main or master)', {
    hint: 'pass --ref <branch> or --sha <commit> for the base side',
  });
}

export async function mergeBase(root: string, a: string, b: string): Promise<string> {
  return (await git(root, ['merge-base', a, b])).trim();
}

function nulList(text: string): string[] {
  return text.split('\0').filter(Boolean);
}

/** Whether the working tree differs from HEAD (tracked changes or untracked files). */
export async function isDirty(root: string): Promise<boolean> {
  return (await git(root, ['status', '--porcelain', '-z', '--untracked-files=normal'])).length > 0;
}

export async function headCommit(root: string): Promise<string | undefined> {
  const out = await capture(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  return out.exitCode === 0 ? out.stdout.trim() : undefined;
}

export async function gitDir(root: string): Promise<string> {
  return resolve(root, (await git(root, ['rev-parse', '--git-common-dir'])).trim());
}

export interface Checkout {
  dir: string;
  remove(): Promise<void>;
}

/** A detached temporary worktree of `commit` (removed, with its git metadata, by `remove`). */
export async function temporaryWorktree(root: string, commit: string): Promise<Checkout> {
  const parent = mkdtempSync(join(tmpdir(), 'strata-base-'));
  const dir = join(parent, 'tree');
  await git(root, ['worktree', 'add', '--detach', '--quiet', dir, commit]);
  return {
    dir,
    async remove() {
      await git(root, ['worktree', 'remove', '--force', dir], true);
      rmSync(parent, { recursive: true, force: true });
      await git(root, ['worktree', 'prune'], true);
    },
  };
}

export interface FileChanges {
  /** Every changed path (both sides of renames), sorted. */
  all: string[];
  /** Paths added or deleted (untracked files count as added). */
  addedOrDeleted: string[];
}

/** `changedFiles` and its added/deleted subset from one `git diff --name-status`. */
export async function fileChanges(root: string, from: string, to: string | undefined): Promise<FileChanges> {
  const args = ['diff', '--name-status', '-z', '--no-renames', '--no-ext-diff', from];
  if (to) args.push(to);
  const fields = (await git(root, [...args, '--'])).split('\0');
  const all = new Set<string>();
  const addedOrDeleted = new Set<string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [status, path] = [fields[i], fields[i + 1]];
    if (!status) break;
    all.add(path);
    if (status === 'A' || status === 'D') addedOrDeleted.add(path);
  }
  if (!to) {
    for (const path of nulList(await git(root, ['ls-files', '--others', '--exclude-standard', '-z']))) {
      all.add(path);
      addedOrDeleted.add(path);
    }
  }
  return { all: [...all].sort(), addedOrDeleted: [...addedOrDeleted].sort() };
}

/**
 * Git's object ids of the files under `dir` (repository-relative, '' for all) in `commit`, by repository-relative
 * path: the content hash of each file without reading it (`git hash-object` gives the same id for the same bytes).
 */
export async function blobIds(root: string, commit: string, dir: string): Promise<Map<string, string>> {
  const args = ['ls-tree', '-r', '-z', '--full-tree', '--end-of-options', commit];
  const out = await git(root, dir ? [...args, '--', dir] : args);
  const ids = new Map<string, string>();
  for (const entry of nulList(out)) {
    // <mode> SP <type> SP <object> TAB <path>
    const tab = entry.indexOf('\t');
    const [mode, type, id] = entry.slice(0, tab).split(' ');
    // A symbolic link's blob is the link's target path, not the content the engine reads through it.
    if (type === 'blob' && mode !== '120000') ids.set(entry.slice(tab + 1), id);
  }
  return ids;
}

/** The files asked for in cat-file's batch input: one name per line, so a path holding a newline cannot be. */
function batchPaths(paths: string[]): string[] {
  return [...new Set(paths)].filter((p) => !p.includes('\n'));
}

/** `git cat-file --batch` output for `wanted` (in that order): each path's blob, when it is one. */
function parseBatch(out: Buffer, wanted: string[]): Map<string, Buffer> {
  const blobs = new Map<string, Buffer>();
  let pos = 0;
  for (const path of wanted) {
    const eol = out.indexOf(10, pos);
    if (eol < 0) break;
    const header = out.subarray(pos, eol).toString().split(' ');
    pos = eol + 1;
    if (header.length < 3) continue;
    const size = Number(header[2]);
    const content = out.subarray(pos, pos + size);
    pos += size + 1;
    if (header[1] === 'blob') blobs.set(path, content);
  }
  return blobs;
}

/**
 * Some files of a commit, read with one `git cat-file --batch` (by repository-relative path; paths missing in the
 * commit, or that are no file, are left out).
 */
export function readBlobs(root: string, commit: string, paths: string[]): Map<string, Buffer> {
  const wanted = batchPaths(paths);
  const out = execFileSync('git', ['cat-file', '--batch'], {
    cwd: root,
    input: wanted.map((p) => `${commit}:${p}\n`).join(''),
    maxBuffer: 1 << 30,
  });
  return parseBatch(out, wanted);
}

/** readBlobs without waiting: the caller goes on with its own work while git reads (undefined when git fails). */
export function readBlobsAsync(
  root: string,
  commit: string,
  paths: string[],
): Promise<Map<string, Buffer> | undefined> {
  const wanted = batchPaths(paths);
  return new Promise((done) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd: root, env: { ...process.env, ...GIT_ENV } });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', () => done(undefined));
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => done(code === 0 ? parseBatch(Buffer.concat(chunks), wanted) : undefined));
    child.stdin.end(wanted.map((p) => `${commit}:${p}\n`).join(''));
  });
}

/**
 * Some files of a commit written into a temporary folder. Creating files is the expensive part on many filesystems
 * (about 1 ms each here), so this writes only what is asked for, unlike a worktree or `git archive` of a whole
 * folder. Paths missing in the commit are skipped.
 */
export function extractFiles(root: string, commit: string, paths: string[]): Checkout {
  const parent = mkdtempSync(join(tmpdir(), 'strata-base-'));
  const dir = join(parent, 'tree');
  mkdirSync(dir);
  for (const [path, content] of readBlobs(root, commit, paths)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return {
    dir,
    async remove() {
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

export interface RepoInfo {
  root: string;
  /** The common git directory (shared by worktrees). */
  gitDir: string;
  /** HEAD's commit, undefined in a repository without commits. */
  head: string | undefined;
}

/**
 * repoInfo and the commit a ref names, in one `git rev-parse`; undefined when that one call cannot tell (then the
 * caller asks resolveCommit, which explains a bad ref). A ref starting with a dash is never passed unverified.
 */
export async function repoInfoAndCommit(
  cwd: string,
  ref: string,
): Promise<(RepoInfo & { commit: string }) | undefined> {
  if (ref.startsWith('-') || ref.includes('\n')) return undefined;
  // `--` after the revisions: none of them is taken for a path.
  const result = await capture(cwd, [
    'rev-parse',
    '--show-toplevel',
    '--git-common-dir',
    'HEAD',
    `${ref}^{commit}`,
    '--',
  ]);
  const lines = result.stdout.split('\n');
  if (result.exitCode !== 0 || lines.length !== 5 || lines[4] !== '--' || !/^[0-9a-f]{40,64}$/.test(lines[3])) {
    return undefined;
  }
  return { root: resolve(lines[0]), gitDir: resolve(cwd, lines[1]), head: lines[2], commit: lines[3] };
}

/** Top folder, git directory and HEAD in one `git rev-parse` (each git process costs tens of milliseconds). */
export async function repoInfo(cwd: string): Promise<RepoInfo> {
  const result = await capture(cwd, ['rev-parse', '--show-toplevel', '--git-common-dir', 'HEAD']);
  const [top, common, head] = result.stdout.trim().split('\n');
  if (result.exitCode === 0 && head) return { root: resolve(top), gitDir: resolve(cwd, common), head };
  const root = await repoRoot(cwd);
  return { root, gitDir: await gitDir(root), head: await headCommit(root) };
}
