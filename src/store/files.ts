/**
 * The single-machine store: one JSON file per lock under `.strata/locks/`, run records under `.strata/runs/`,
 * every write atomic (util/fs). Read-decide-write on a lock happens under a short mutex: util/lock's lock file,
 * waited for, and broken when its process is gone or it is older than 30 s. The mutex is held only for
 * microseconds; no native code and no locking library.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../util/fs.ts';
import { acquireFileLock } from '../util/lock.ts';
import type { LockedRunRecord, LockInfo, StoreBackend } from './types.ts';

const MUTEX_STALE_MS = 30_000;

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
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
      const current = readJson<LockInfo>(this.#file(id));
      if (current && Date.parse(current.expiresAt) > Date.now()) return undefined;
      if (current) this.#abandon(id);
      const lock: LockInfo = { id, ...info };
      writeFileAtomicSync(this.#file(id), JSON.stringify(lock, null, 2));
      return lock;
    });
  }

  #abandon(lockId: string): void {
    for (const run of this.#allRuns()) {
      if (run.lockId === lockId && run.status === 'running')
        writeFileAtomicSync(
          join(this.#runs, `${run.id}.json`),
          JSON.stringify({ ...run, status: 'abandoned', finishedAt: new Date().toISOString() }, null, 2),
        );
    }
  }

  async renew(id: string, token: string, ttlMs: number): Promise<boolean> {
    return this.#withMutex(id, () => {
      const current = readJson<LockInfo>(this.#file(id));
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
      const current = readJson<LockInfo>(this.#file(id));
      if (!current || (token && current.token !== token)) return false;
      rmSync(this.#file(id), { force: true });
      return true;
    });
  }

  async list(): Promise<LockInfo[]> {
    return readdirSync(this.#locks)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<LockInfo>(join(this.#locks, f)))
      .filter((l): l is LockInfo => l !== undefined)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async saveRun(run: LockedRunRecord): Promise<void> {
    writeFileAtomicSync(join(this.#runs, `${run.id}.json`), JSON.stringify(run, null, 2));
  }

  #allRuns(): LockedRunRecord[] {
    return readdirSync(this.#runs)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<LockedRunRecord>(join(this.#runs, f)))
      .filter((r): r is LockedRunRecord => r !== undefined);
  }

  async runs(limit = 100): Promise<LockedRunRecord[]> {
    return this.#allRuns()
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  async close(): Promise<void> {}
}
