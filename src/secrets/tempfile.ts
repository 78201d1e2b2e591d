/**
 * Short-lived files holding secrets (a var file for a tool, the plaintext for an editor). They live in a private
 * 0700 directory as 0600 files, on /dev/shm (memory) when available, and are removed when the callback ends,
 * throws, or the process is interrupted (SIGINT/SIGTERM/SIGHUP) or exits. Only SIGKILL (or a crash of the machine)
 * can leave one behind: its folder names the host and pid, and the next run on the host removes the folders
 * whose process is gone.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { processAlive } from '../util/pid.ts';

const active = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Files a person is editing in a foreground program: Ctrl-C (SIGINT) is that program's to handle, as in git. */
let interactive = 0;

/** This host, short: folders name it, so a shared temporary folder is only swept of this host's leftovers. */
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const PREFIX = 'strata-secret-';
/** Private folders of any kind (`strata-secret-`, `strata-ansible-`, ...) made on this host: the pid that made it. */
const OWN_FOLDER = new RegExp(`^strata-[a-z0-9]+-${HOST}-(\\d+)-`);
let swept = false;

function removeAll(): void {
  for (const dir of active) rmSync(dir, { recursive: true, force: true });
  active.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (signal === 'SIGINT' && interactive > 0) return;
  // Someone else handles the signal too (src/exec forwarding it to a running tool, which then exits): the callback
  // ends with the tool and removes its folder then; the exit handler is the backstop.
  if (process.listenerCount(signal) > 1) return;
  removeAll();
  uninstall();
  // Re-raise so the process ends as it would have without us (exit status 128+n, or other handlers run).
  process.kill(process.pid, signal);
}

function onExit(): void {
  removeAll();
}

function install(): void {
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);
}

function uninstall(): void {
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.removeListener('exit', onExit);
}

/** Where secret files go: `$STRATA_SECRET_TMPDIR`, else /dev/shm (RAM) when it exists, else the OS temp dir. */
export function secretTempRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STRATA_SECRET_TMPDIR) return env.STRATA_SECRET_TMPDIR;
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export interface SecretFileOptions {
  /** File name inside the private directory (keeps an extension tools care about, e.g. `secrets.tfvars`). */
  name?: string;
  /**
   * A person works on the file in a foreground program (an editor): SIGINT is that program's (strata leaves the
   * file in place for it); SIGTERM and SIGHUP still remove it.
   */
  interactive?: boolean;
}

/**
 * Removes the secret folders a killed strata left on this host (their process is gone), once per run. Folders of
 * live processes, of other hosts and of other users are left alone.
 */
export function sweepSecretLeftovers(root = secretTempRoot()): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = Number(OWN_FOLDER.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    const dir = join(root, name);
    try {
      if (uid === undefined || statSync(dir).uid === uid) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Removed by another run meanwhile, or not ours: leave it.
    }
  }
}

export interface PrivateDirOptions {
  /** The folder name's start (default `strata-secret-`), followed by the host, the pid and six random characters. */
  prefix?: string;
  /** Decides the root (STRATA_SECRET_TMPDIR); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** See SecretFileOptions.interactive. */
  interactive?: boolean;
}

/** The folder a private folder would get, as dry runs show it (`XXXXXX` for the host, pid and random part). */
export function privateDirShown(options: PrivateDirOptions = {}): string {
  return join(secretTempRoot(options.env), `${options.prefix ?? PREFIX}XXXXXX`);
}

/** Runs `fn(dir)` with a new private 0700 folder, and always removes the folder and everything in it. */
export async function withPrivateDir<T>(
  fn: (dir: string) => T | Promise<T>,
  options: PrivateDirOptions = {},
): Promise<T> {
  const root = secretTempRoot(options.env);
  if (!swept) {
    swept = true;
    sweepSecretLeftovers(root);
  }
  const dir = mkdtempSync(join(root, `${options.prefix ?? PREFIX}${HOST}-${process.pid}-`));
  if (active.size === 0) install();
  active.add(dir);
  if (options.interactive) interactive++;
  try {
    return await fn(dir);
  } finally {
    if (options.interactive) interactive--;
    rmSync(dir, { recursive: true, force: true });
    active.delete(dir);
    if (active.size === 0) uninstall();
  }
}

/** Writes `content` to a private file, runs `fn(path)`, and always removes the file and its directory. */
export function withSecretFile<T>(
  content: string | Uint8Array,
  fn: (path: string) => T | Promise<T>,
  options: SecretFileOptions = {},
): Promise<T> {
  return withPrivateDir(
    (dir) => {
      const path = join(dir, basename(options.name ?? 'secret'));
      writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
      return fn(path);
    },
    { interactive: options.interactive },
  );
}
