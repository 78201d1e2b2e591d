import {
  close,
  closeSync,
  fsync,
  fsyncSync,
  mkdirSync,
  open,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  write,
  writeSync,
} from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { processAlive } from './pid.ts';

/** The file-system calls an atomic write makes, in a synchronous and an asynchronous flavour. */
interface WriteCalls<R> {
  mkdir(dir: string): R;
  open(path: string, flags: string, mode?: number): R;
  /** Writes from `offset` on; gives the number of bytes written. */
  write(fd: number, data: Uint8Array, offset: number): R;
  fsync(fd: number): R;
  close(fd: number): R;
  rename(from: string, to: string): R;
  remove(path: string): R;
}

const syncCalls: WriteCalls<unknown> = {
  mkdir: (dir) => mkdirSync(dir, { recursive: true }),
  open: (path, flags, mode) => openSync(path, flags, mode),
  write: (fd, data, offset) => writeSync(fd, data, offset, data.length - offset),
  fsync: (fd) => fsyncSync(fd),
  close: (fd) => closeSync(fd),
  rename: (from, to) => renameSync(from, to),
  remove: (path) => rmSync(path, { force: true }),
};

const writeAsync = promisify(write);
const asyncCalls: WriteCalls<Promise<unknown>> = {
  mkdir: (dir) => mkdir(dir, { recursive: true }),
  open: promisify(open),
  write: async (fd, data, offset) => (await writeAsync(fd, data, offset, data.length - offset)).bytesWritten,
  fsync: promisify(fsync),
  close: promisify(close),
  rename: (from, to) => rename(from, to),
  remove: (path) => rm(path, { force: true }),
};

/**
 * The one atomic write, written once as a sequence of calls that a synchronous or an asynchronous driver runs:
 * a temporary file in the same folder (so the rename never crosses file systems) created with `mode`, fsync,
 * rename over the target, fsync of the folder (so the rename itself survives a power cut). Without `durable` the
 * fsyncs are left out: the file is still never seen half written by a reader, but a power cut may lose it.
 */
function* atomicWrite<R>(
  calls: WriteCalls<R>,
  path: string,
  content: string | Uint8Array,
  mode: number,
  durable = true,
): Generator<R, void, unknown> {
  const dir = dirname(path);
  yield calls.mkdir(dir);
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  try {
    const fd = (yield calls.open(temporary, 'w', mode)) as number;
    try {
      for (let done = 0; done < data.length; ) done += (yield calls.write(fd, data, done)) as number;
      if (durable) yield calls.fsync(fd);
    } finally {
      yield calls.close(fd);
    }
    yield calls.rename(temporary, path);
  } catch (error) {
    yield calls.remove(temporary);
    throw error;
  }
  if (!durable) return;
  try {
    const dirFd = (yield calls.open(dir, 'r')) as number;
    try {
      yield calls.fsync(dirFd);
    } finally {
      yield calls.close(dirFd);
    }
  } catch {
    // Some file systems refuse fsync on a folder; the rename is still atomic there.
  }
}

/** The temporary files atomicWrite names: `.<target>.<pid>.<random>.tmp`. */
const TEMPORARY = /^\..+\.(\d+)\.[0-9a-z]+\.tmp$/;
/** An orphan must be this old: a writer on another host sharing the folder is never cut off mid-write. */
const ORPHAN_AGE_MS = 10_000;
/** Folders swept by this process: once per folder and run is enough. */
const swept = new Set<string>();

/**
 * Removes the temporary files that writers killed mid-write (kill -9, a power cut) left in `dir`: only those whose
 * process is gone and that are older than 10 s. Runs once per folder per process, before its first atomic write.
 */
export function sweepOrphanTemporaries(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // Not created yet: nothing to sweep.
  }
  for (const name of names) {
    const pid = Number(TEMPORARY.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    const path = join(dir, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > ORPHAN_AGE_MS) rmSync(path, { force: true });
    } catch {
      // Gone already (another sweeper), or not ours to remove: leave it.
    }
  }
}

/** Writes a file so that no reader, and no crash, ever sees half of it (see atomicWrite). */
export function writeFileAtomicSync(path: string, content: string | Uint8Array, mode = 0o644): void {
  runAtomicWriteSync(path, content, mode, true);
}

/**
 * Writes a cache file atomically but without fsync: a cache lost to a power cut costs one slow run, while syncing
 * a pack of megabytes on every run costs more than reading it (tens of milliseconds).
 */
export function writeCacheFileSync(path: string, content: string | Uint8Array): void {
  runAtomicWriteSync(path, content, 0o644, false);
}

function runAtomicWriteSync(path: string, content: string | Uint8Array, mode: number, durable: boolean): void {
  sweepOrphanTemporaries(dirname(path));
  const steps = atomicWrite(syncCalls, path, content, mode, durable);
  for (let step = steps.next(); !step.done; step = steps.next(step.value));
}

/** The asynchronous form of writeFileAtomicSync: the same steps, without blocking the event loop. */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  sweepOrphanTemporaries(dirname(path));
  const steps = atomicWrite(asyncCalls, path, content, mode);
  let step = steps.next();
  while (!step.done) {
    let result: unknown;
    try {
      result = await step.value;
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(result);
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
