/**
 * The single-machine store: one JSON file per lock under `.strata/locks/`, run records under `.strata/runs/`,
 * every write atomic (util/fs). Read-decide-write on a lock happens under a short mutex: util/lock's lock file,
 * waited for, and broken when its process is gone or it is older than 30 s. The mutex is held only for
 * microseconds; no native code and no locking library. Files read back are checked against their shape: a lock
 * that cannot be read is an error naming it (deciding around it could let two runs in), a damaged run record is
 * skipped where history is only consulted and an error where it is listed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StrataError } from '../errors.ts';
import { writeFileAtomicSync } from '../util/fs.ts';
import { acquireFileLock } from '../util/lock.ts';
import { object, oneOf, optional, problemWith, type Shape, string } from '../util/shape.ts';
import { type LockedRunRecord, type LockInfo, RUN_STATUSES, type StoreBackend } from './types.ts';

const MUTEX_STALE_MS = 30_000;

/** A lock as strata writes it (a file in .strata/locks, a row of strata_locks). */
export const LOCK_SHAPE: Shape = object({
  id: string,
  holder: string,
  operation: string,
  token: string,
  acquiredAt: string,
  expiresAt: string,
});

/** A run record as strata writes it (a file in .strata/runs, a row of strata_runs). */
export const RUN_SHAPE: Shape = object({
  id: string,
  status: oneOf(...RUN_STATUSES.filter((s) => s !== 'interrupted')),
  startedAt: string,
  finishedAt: optional(string),
  lockId: string,
  operation: string,
  holder: string,
  token: string,
});

/** The file's content when it fits `shape`; undefined when there is no file; an error naming it otherwise. */
function readStored<T>(path: string, shape: Shape, what: string, hint: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new StrataError(`${what} ${path} is not valid JSON: ${(error as Error).message}`, {
      location: { file: path },
      hint,
    });
  }
  const problem = problemWith(shape, data);
  if (problem)
    throw new StrataError(`${what} ${path} has the wrong shape: ${problem}`, { location: { file: path }, hint });
  return data as T;
}

function readLock(path: string): LockInfo | undefined {
  return readStored<LockInfo>(
    path,
    LOCK_SHAPE,
    'lock file',
    `it was not written by strata; once no run holds that lock, remove it (rm ${path})`,
  );
}

function readRun(path: string): LockedRunRecord | undefined {
  return readStored<LockedRunRecord>(
    path,
    RUN_SHAPE,
    'run record',
    `it was not written by strata; move it away (mv ${path} ${path}.bad): it is history only`,
  );
}

export class FileStore implements StoreBackend {
  readonly kind = 'files' as const;
  readonly #locks: string;
  readonly #runs: string;

  constructor(dir: string) {
    this.#locks = join(dir, '.strata', 'locks');
    this.#runs = join(dir, '.strata', 'runs');
    mkdirSync(this.#locks, { recursive: true });
    mkdirSync(this.#runs, { recursive: true });
  }

  #file(id: string): string {
    return join(this.#locks, `${createHash('sha1').update(id).digest('hex').slice(0, 20)}.json`);
  }

  async #withMutex<T>(id: string, task: () => T): Promise<T> {
    const release = await acquireFileLock(`${this.#file(id)}.mutex`, {
      command: `strata store: ${id}`,
      waitMs: Number.POSITIVE_INFINITY,
      staleAfterMs: MUTEX_STALE_MS,
    });
    try {
      return task();
    } finally {
      await release();
    }
  }

  async tryAcquire(id: string, info: Omit<LockInfo, 'id'>): Promise<LockInfo | undefined> {
    return this.#withMutex(id, () => {
      const current = readLock(this.#file(id));
      if (current && Date.parse(current.expiresAt) > Date.now()) return undefined;
      if (current) this.#abandon(id);
      const lock: LockInfo = { id, ...info };
      writeFileAtomicSync(this.#file(id), JSON.stringify(lock, null, 2));
      return lock;
    });
  }

  #abandon(lockId: string): void {
    // A damaged record cannot be marked: taking the lock over does not wait for it.
    for (const run of this.#allRuns(true)) {
      if (run.lockId === lockId && run.status === 'running')
        writeFileAtomicSync(
          join(this.#runs, `${run.id}.json`),
          JSON.stringify({ ...run, status: 'abandoned', finishedAt: new Date().toISOString() }, null, 2),
        );
    }
  }

  async renew(id: string, token: string, ttlMs: number): Promise<boolean> {
    return this.#withMutex(id, () => {
      const current = readLock(this.#file(id));
      if (!current || current.token !== token) return false;
      writeFileAtomicSync(
        this.#file(id),
        JSON.stringify({ ...current, expiresAt: new Date(Date.now() + ttlMs).toISOString() }, null, 2),
      );
      return true;
    });
  }

  async release(id: string, token?: string): Promise<boolean> {
    return this.#withMutex(id, () => {
      const current = readLock(this.#file(id));
      if (!current || (token && current.token !== token)) return false;
      rmSync(this.#file(id), { force: true });
      return true;
    });
  }

  async list(): Promise<LockInfo[]> {
    return readdirSync(this.#locks)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readLock(join(this.#locks, f)))
      .filter((l): l is LockInfo => l !== undefined)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async saveRun(run: LockedRunRecord): Promise<void> {
    writeFileAtomicSync(join(this.#runs, `${run.id}.json`), JSON.stringify(run, null, 2));
  }

  /** Every run record; `skipDamaged`: leave out the ones that cannot be read instead of failing. */
  #allRuns(skipDamaged: boolean): LockedRunRecord[] {
    const read = (path: string) => {
      try {
        return readRun(path);
      } catch (error) {
        if (skipDamaged && error instanceof StrataError) return undefined;
        throw error;
      }
    };
    return readdirSync(this.#runs)
      .filter((f) => f.endsWith('.json'))
      .map((f) => read(join(this.#runs, f)))
      .filter((r): r is LockedRunRecord => r !== undefined);
  }

  async runs(limit = 100): Promise<LockedRunRecord[]> {
    return this.#allRuns(false)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  async close(): Promise<void> {}
}
