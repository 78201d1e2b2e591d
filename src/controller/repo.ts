/**
 * Read-only repository serving. Independent fences, so one mistake does not open the filesystem:
 * 1. the raw request path is refused outright when it tries to climb (`..`, encoded or double-encoded dots, empty
 *    segments, backslashes, NUL, absolute paths);
 * 2. only files in an allowlist are served: what git tracks or would track (ignored files such as decrypted secrets
 *    are never served), snapshotted at start and on every reload, minus files named like credentials
 *    (`site.token`, `*.key`, SSH and vault keys) even when committed;
 * 3. the file's real path (symlinks resolved) must stay inside the repository and, mapped back to a repository
 *    path, pass the allowlist itself (a committed symlink to an ignored file or into .git is refused); it is opened
 *    without following a symlink at the last step;
 * 4. what is served passes through the masker (the controller's own credentials are registered there).
 * Git's dumb HTTP protocol is served from a bare clone refreshed on every reload: it needs no git process per request.
 * A clone whose history holds a credential file or one of the controller's credentials is not served.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { mkdtemp, open, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, sep } from 'node:path';
import { StrataError } from '../errors.ts';
import { run } from '../exec/index.ts';
import { Masker } from '../util/mask.ts';

export type PathCheck = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Validates the raw (still percent-encoded) path after the route prefix. Decodes exactly once; anything that still
 * looks encoded afterwards is refused rather than decoded again, so double encoding can never reach the filesystem.
 */
export function checkRequestPath(raw: string): PathCheck {
  if (raw.length === 0) return { ok: false, reason: 'empty path' };
  if (raw.length > 4096) return { ok: false, reason: 'path too long' };
  if (raw.includes('\\')) return { ok: false, reason: 'backslash' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { ok: false, reason: 'bad percent-encoding' };
  }
  if (/%[0-9a-fA-F]{2}/.test(decoded)) return { ok: false, reason: 'double encoding' };
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return { ok: false, reason: 'control character' };
  if (decoded.includes('\\')) return { ok: false, reason: 'backslash' };
  if (decoded.startsWith('/')) return { ok: false, reason: 'absolute path' };
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return { ok: false, reason: 'dot or empty segment' };
  }
  return { ok: true, path: decoded };
}

export interface RepoSnapshot {
  /** The folder served under /repo/ (absolute, symlinks resolved). */
  root: string;
  /** Repository-relative paths (POSIX separators) that may be served. */
  allowed: ReadonlySet<string>;
  /** Bare clone served under /repo.git/, when the folder is a git work tree. */
  mirror?: string;
  /** Why the clone is not served (its history holds credentials), for the log. */
  mirrorRefused?: string;
}

/** File names that hold credentials: never served, whatever git says. */
const CREDENTIAL_FILE =
  /^(?:.+\.(?:token|key)|id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|\.?vault[-_.]?pass(?:word)?(?:[-_.].*)?)$/i;

export function isCredentialFile(path: string): boolean {
  return CREDENTIAL_FILE.test(path.slice(path.lastIndexOf('/') + 1));
}

/** Whether a repository path may be served: listed by git, not inside .git, not a credential file. */
export function isServable(snapshot: RepoSnapshot, path: string): boolean {
  return snapshot.allowed.has(path) && !isGitInternal(path) && !isCredentialFile(path);
}

/**
 * Snapshots a git work tree: the files git tracks or would track (ignored files, such as decrypted secrets, are
 * left out) and, optionally, a bare mirror for dumb HTTP. Undefined when the folder is not in a git work tree:
 * without git's ignore rules there is no safe way to tell which files are meant to be shared.
 */
export async function snapshotRepo(
  dir: string,
  options: { mirror?: boolean; secrets?: string[] } = {},
): Promise<RepoSnapshot | undefined> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    throw new StrataError(`the repository folder ${dir} does not exist`, { hint: 'pass an existing folder to --repo' });
  }
  const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    stdio: 'capture',
    timeoutMs: 60_000,
  });
  if (listed.exitCode !== 0) return undefined;
  const allowed = new Set(listed.stdout.split('\0').filter((p) => p.length > 0 && !isGitInternal(p)));
  const mirror = options.mirror === false ? undefined : await buildMirror(root);
  const refused = mirror ? await credentialsInHistory(mirror, options.secrets ?? []) : undefined;
  if (mirror && refused) await rm(join(mirror, '..'), { recursive: true, force: true });
  return { root, allowed, mirror: refused ? undefined : mirror, mirrorRefused: refused };
}

/** Objects found free of the current credentials: objects never change, so a reload scans only new ones. */
const cleanObjects = { credentials: '', ids: new Set<string>() };

/**
 * Why a clone must not be served: a committed credential file anywhere in its history, or one of `secrets` in
 * any object (file, commit message). Undefined when it is clean.
 */
async function credentialsInHistory(mirror: string, secrets: string[]): Promise<string | undefined> {
  const capture = { stdio: 'capture' as const, timeoutMs: 300_000, masker: new Masker() };
  const git = (args: string[], input?: string) => run('git', ['--git-dir', mirror, ...args], { ...capture, input });
  // `<id> <path>` for files and folders (commits have no path).
  const named = (await git(['rev-list', '--all', '--objects'])).stdout
    .split('\n')
    .filter((line) => line.includes(' '))
    .map((line) => line.slice(line.indexOf(' ') + 1))
    .find(isCredentialFile);
  if (named) return `its history holds the credential file '${named}'`;
  const wanted = new Masker();
  for (const secret of secrets) wanted.add(secret);
  if (wanted.size === 0) return undefined;
  const fingerprint = createHash('sha256').update(JSON.stringify(secrets)).digest('hex');
  if (cleanObjects.credentials !== fingerprint)
    Object.assign(cleanObjects, { credentials: fingerprint, ids: new Set() });
  const ids = (await git(['cat-file', '--batch-all-objects', '--batch-check=%(objectname)'])).stdout.split('\n');
  const fresh = ids.filter((id) => id.length > 0 && !cleanObjects.ids.has(id));
  if (fresh.length === 0) return undefined;
  const contents = await git(['cat-file', '--batch'], `${fresh.join('\n')}\n`);
  if (wanted.contains(contents.stdout)) return "its history holds one of the controller's credentials";
  for (const id of fresh) cleanObjects.ids.add(id);
  return undefined;
}

export async function removeSnapshot(snapshot: RepoSnapshot | undefined): Promise<void> {
  if (snapshot?.mirror) await rm(join(snapshot.mirror, '..'), { recursive: true, force: true });
}

function isGitInternal(path: string): boolean {
  return path.split('/').some((segment) => segment.toLowerCase() === '.git');
}

async function buildMirror(root: string): Promise<string | undefined> {
  const top = await run('git', ['rev-parse', '--show-toplevel'], { cwd: root, stdio: 'capture' });
  const head = await run('git', ['rev-parse', '--verify', '--quiet', 'HEAD'], { cwd: root, stdio: 'capture' });
  // A repository without a commit has nothing to clone.
  if (top.exitCode !== 0 || head.exitCode !== 0) return undefined;
  const parent = await mkdtemp(join(tmpdir(), 'strata-mirror-'));
  const mirror = join(await realpath(parent), 'repo.git');
  const clone = await run('git', ['clone', '--bare', '--quiet', '--', top.stdout.trim(), mirror], {
    stdio: 'capture',
    timeoutMs: 300_000,
  });
  const info =
    clone.exitCode === 0
      ? await run('git', ['--git-dir', mirror, 'update-server-info'], { stdio: 'capture', timeoutMs: 60_000 })
      : clone;
  if (info.exitCode !== 0) {
    await rm(parent, { recursive: true, force: true });
    throw new StrataError(`cannot prepare the git mirror of ${root}: ${clone.stderr || info.stderr}`, {
      hint: 'check that `git clone --bare` works on the repository, or start with --no-git',
    });
  }
  return mirror;
}

/** The files of a bare repository that git's dumb HTTP client reads; nothing else in the mirror is reachable. */
const DUMB_HTTP_FILE =
  /^(?:HEAD|info\/refs|objects\/info\/packs|objects\/[0-9a-f]{2}\/[0-9a-f]{38,62}|objects\/pack\/pack-[0-9a-f]{40,64}\.(?:pack|idx))$/;

export function isDumbHttpPath(path: string): boolean {
  return DUMB_HTTP_FILE.test(path);
}

export interface OpenedFile {
  contentType: string;
  /** Streams the file and closes it; call at most once. */
  stream(): ReadableStream<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Opens `path` below `root` when its real path stays inside `root`, is not denied, passes `servable` (mapped back to
 * a path relative to `root`: a symlink is served only when its target may be) and is a regular file; undefined
 * otherwise (the caller answers 404 either way, so nothing about the outside leaks).
 */
export async function openInside(
  root: string,
  path: string,
  fence: { deny: ReadonlySet<string>; servable: (path: string) => boolean },
): Promise<OpenedFile | undefined> {
  let real: string;
  try {
    real = await realpath(join(root, path));
  } catch {
    return undefined;
  }
  if (!real.startsWith(root + sep) || fence.deny.has(real)) return undefined;
  const relativeReal = real
    .slice(root.length + 1)
    .split(sep)
    .join('/');
  if (!fence.servable(relativeReal)) return undefined;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: a symlink swapped in after the realpath check is refused instead of followed.
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    return undefined;
  }
  return {
    contentType: contentTypeOf(path),
    stream: () => {
      const nodeStream = createReadStream('', { fd: handle.fd, autoClose: false });
      return new ReadableStream<Uint8Array>({
        start(controller) {
          nodeStream.on('data', (chunk) => controller.enqueue(chunk as Buffer));
          nodeStream.on('end', () => {
            controller.close();
            void handle.close();
          });
          nodeStream.on('error', (error) => {
            controller.error(error);
            void handle.close();
          });
        },
        cancel() {
          nodeStream.destroy();
          void handle.close();
        },
      });
    },
    close: () => handle.close(),
  };
}

/** Real paths of files that must never be served even when placed inside the repository (keys, certificates). */
export async function realPaths(files: Array<string | undefined>): Promise<Set<string>> {
  const out = new Set<string>();
  for (const file of files) {
    if (!file) continue;
    try {
      if ((await stat(file)).isFile()) out.add(await realpath(file));
    } catch {
      // A file that does not exist cannot be served either.
    }
  }
  return out;
}

const CONTENT_TYPES: Record<string, string> = {
  '.yaml': 'text/yaml; charset=utf-8',
  '.yml': 'text/yaml; charset=utf-8',
  '.json': 'application/json',
  '.sh': 'text/x-shellscript; charset=utf-8',
  '.py': 'text/x-python; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.tf': 'text/plain; charset=utf-8',
  '.hcl': 'text/plain; charset=utf-8',
  '.tfvars': 'text/plain; charset=utf-8',
  '.j2': 'text/plain; charset=utf-8',
  '.cfg': 'text/plain; charset=utf-8',
  '.ini': 'text/plain; charset=utf-8',
};

function contentTypeOf(path: string): string {
  if (path === 'info/refs' || path === 'HEAD' || path === 'objects/info/packs') return 'text/plain; charset=utf-8';
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}
