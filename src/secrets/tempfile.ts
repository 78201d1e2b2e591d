/**
 * Short-lived files holding secrets (a var file for a tool, the plaintext for an editor). They live in a private
 * 0700 directory as 0600 files, on /dev/shm (memory) when available, and are removed when the callback ends,
 * throws, or the process is interrupted (SIGINT/SIGTERM/SIGHUP) or exits.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const active = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeAll(): void {
  for (const dir of active) rmSync(dir, { recursive: true, force: true });
  active.clear();
}

function onSignal(signal: NodeJS.Signals): void {
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
}

export interface PrivateDirOptions {
  /** The folder name's start, followed by six random characters (default `strata-secret-`). */
  prefix?: string;
  /** Decides the root (STRATA_SECRET_TMPDIR); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The folder a private folder would get, as dry runs show it (`XXXXXX` for the random part). */
export function privateDirShown(options: PrivateDirOptions = {}): string {
  return join(secretTempRoot(options.env), `${options.prefix ?? 'strata-secret-'}XXXXXX`);
}

/** Runs `fn(dir)` with a new private 0700 folder, and always removes the folder and everything in it. */
export async function withPrivateDir<T>(
  fn: (dir: string) => T | Promise<T>,
  options: PrivateDirOptions = {},
): Promise<T> {
  const dir = mkdtempSync(join(secretTempRoot(options.env), options.prefix ?? 'strata-secret-'));
  if (active.size === 0) install();
  active.add(dir);
  try {
    return await fn(dir);
  } finally {
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
  return withPrivateDir((dir) => {
    const path = join(dir, basename(options.name ?? 'secret'));
    writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
    return fn(path);
  });
}
