/**
 * The single-machine store: one JSON file per lock under `.strata/locks/`, run records under `.strata/runs/`,
 * every write atomic (temp file, fsync, rename). Read-decide-write on a lock happens under a short mutex file
 * created with O_EXCL; a mutex left by a killed process (its pid is gone, or it is older than 30 s) is broken.
 * No native code and no locking library: Node has no flock, and the mutex is held only for microseconds.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive, sleep } from '../util/fs.ts';
import type { LockInfo, RunRecord, StoreBackend } from './index.ts';

const MUTEX_STALE_MS = 30_000;

function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

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
    const mutex = `${this.#file(id)}.mutex`;
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = openSync(mutex, 'wx');
        writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname() }));
        closeSync(fd);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = readJson<{ pid: number; host: string }>(mutex);
        let age = 0;
        try {
          age = Date.now() - statSync(mutex).mtimeMs;
        } catch {
          continue;
        }
        const dead = owner && owner.host === hostname() && !processAlive(owner.pid);
        if (dead || age > MUTEX_STALE_MS) rmSync(mutex, { force: true });
        else await sleep(Math.min(50, 2 + attempt));
      }
    }
    try {
      return task();
    } finally {
      rmSync(mutex, { force: true });
    }
  }

  async tryAcquire(id: string, info: Omit<LockInfo, 'id'>): Promise<LockInfo | undefined> {
    return this.#withMutex(id, () => {
      const current = readJson<LockInfo>(this.#file(id));
      if (current && Date.parse(current.expiresAt) > Date.now()) return undefined;
      if (current) this.#abandon(id);
      const lock: LockInfo = { id, ...info };
      writeAtomic(this.#file(id), JSON.stringify(lock, null, 2));
      return lock;
    });
  }

  #abandon(lockId: string): void {
    for (const run of this.#allRuns()) {
      if (run.lockId === lockId && run.status === 'running')
        writeAtomic(
          join(this.#runs, `${run.id}.json`),
          JSON.stringify({ ...run, status: 'abandoned', finishedAt: new Date().toISOString() }, null, 2),
        );
    }
  }

  async renew(id: string, token: string, ttlMs: number): Promise<boolean> {
    return this.#withMutex(id, () => {
      const current = readJson<LockInfo>(this.#file(id));
      if (!current || current.token !== token) return false;
      writeAtomic(
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

  async saveRun(run: RunRecord): Promise<void> {
    writeAtomic(join(this.#runs, `${run.id}.json`), JSON.stringify(run, null, 2));
  }

  #allRuns(): RunRecord[] {
    return readdirSync(this.#runs)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<RunRecord>(join(this.#runs, f)))
      .filter((r): r is RunRecord => r !== undefined);
  }

  async runs(limit = 100): Promise<RunRecord[]> {
    return this.#allRuns()
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  async close(): Promise<void> {}
}
