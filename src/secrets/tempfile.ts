/**
 * Short-lived files holding secrets (a var file for a tool, the plaintext for an editor). Each lives in its own
 * 0700 directory as a 0600 file, on /dev/shm (memory) when available, and is removed when the callback ends,
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

/** Writes `content` to a private file, runs `fn(path)`, and always removes the file and its directory. */
export async function withSecretFile<T>(
  content: string | Uint8Array,
  fn: (path: string) => T | Promise<T>,
  options: SecretFileOptions = {},
): Promise<T> {
  const dir = mkdtempSync(join(secretTempRoot(), 'strata-secret-'));
  if (active.size === 0) install();
  active.add(dir);
  try {
    const path = join(dir, basename(options.name ?? 'secret'));
    writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    active.delete(dir);
    if (active.size === 0) uninstall();
  }
}
