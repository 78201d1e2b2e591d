/**
 * The one cross-process lock: a file created with O_EXCL that names its holder (pid, host, start time, command).
 * A lock whose process is gone (same host, pid not alive) is stale and taken over, so a run killed with SIGKILL is
 * resumed by running the same command again; otherwise the caller waits (if it asked to) or gets an error naming
 * the holder. Node has no flock, and a lock file is also what a person can inspect and delete.
 */
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { StrataError } from '../errors.ts';
import { sleep } from './fs.ts';
import { processAlive } from './pid.ts';

export interface LockHolder {
  pid: number;
  host: string;
  started_at: string;
  command: string;
}

export interface FileLockOptions {
  /** What the holder is doing, shown to whoever finds the lock taken. */
  command: string;
  /** Keep trying this long while a live process holds the lock (default 0: fail at once). */
  waitMs?: number;
  /** A lock older than this is stale whoever holds it (for holders on other hosts, whose pid cannot be checked). */
  staleAfterMs?: number;
}

/** Releases the lock (once; later calls do nothing). */
export type ReleaseLock = () => Promise<void>;

/** A lock file without a readable holder is being written right now, or was left by a crash in between. */
const UNREADABLE_STALE_MS = 5000;

export class LockedError extends StrataError {
  constructor(path: string, holder: LockHolder | undefined) {
    super(
      holder
        ? `Another strata run (pid ${holder.pid} on ${holder.host}, started ${holder.started_at}: ${holder.command}) holds the lock ${path}`
        : `The lock ${path} is held by another strata run`,
      {
        hint:
          holder && holder.host !== hostname()
            ? `Wait for that run to finish. If it is gone, delete ${path}.`
            : 'Wait for that run to finish; a lock left by a killed run is taken over automatically.',
      },
    );
    this.name = 'LockedError';
  }
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

async function isStale(path: string, holder: LockHolder | undefined, options: FileLockOptions): Promise<boolean> {
  const age = await ageMs(path);
  if (!holder) return age > Math.min(UNREADABLE_STALE_MS, options.staleAfterMs ?? UNREADABLE_STALE_MS);
  if (holder.host === hostname() && !processAlive(holder.pid)) return true;
  return options.staleAfterMs !== undefined && age > options.staleAfterMs;
}

/** Creates the lock file; false when it exists. */
async function create(path: string, holder: LockHolder): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    // No fsync: after a crash the holder is gone anyway, and an empty or missing file is taken over.
    await handle.writeFile(`${JSON.stringify(holder)}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Removes a stale lock: renamed aside first, so that of two runs taking over the same lock only one removes it.
 * When what was moved aside is not the lock judged stale (another run replaced it in between), it goes back.
 */
async function takeOver(path: string, stale: LockHolder | undefined): Promise<void> {
  const aside = `${path}.stale.${process.pid}`;
  try {
    await rename(path, aside);
  } catch {
    return; // Another run took it over first; the next attempt sees its fresh lock.
  }
  const moved = await readHolder(aside);
  if (stale && moved && (moved.pid !== stale.pid || moved.started_at !== stale.started_at)) {
    // link fails when a lock exists again at `path`: then that one stands.
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

/** Takes the lock at `path` (creating its folder); see the module comment for stale locks and waiting. */
export async function acquireFileLock(path: string, options: FileLockOptions): Promise<ReleaseLock> {
  await mkdir(dirname(path), { recursive: true });
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    started_at: new Date().toISOString(),
    command: options.command,
  };
  const deadline = Date.now() + (options.waitMs ?? 0);
  let takeovers = 0;
  for (let attempt = 0; ; attempt++) {
    if (await create(path, holder)) {
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await unlink(path).catch(() => undefined);
      };
    }
    const current = await readHolder(path);
    if (await isStale(path, current, options)) {
      // A stale lock that keeps coming back (it cannot be moved aside) is held as far as this run can tell.
      if (++takeovers > 3) throw new LockedError(path, current);
      await takeOver(path, current);
      continue;
    }
    // A holder still writing its lock file gets a moment before the lock counts as held.
    const writing = current === undefined && attempt < 2;
    if (!writing && Date.now() >= deadline) throw new LockedError(path, current);
    await sleep(writing ? 50 : Math.min(50, 2 + attempt));
  }
}
