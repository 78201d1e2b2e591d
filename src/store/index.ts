/**
 * Team mode: run records and per-instance run locks. PostgreSQL when STRATA_DATABASE_URL (or `strata.database_url`
 * in the config) names one, JSON files under `.strata/` otherwise. A lock is a lease: it carries who/when/what and
 * an expiry, the holder renews it while it works, and a killed holder's lock simply expires and can be taken over.
 */
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { StrataError } from '../errors.ts';
import type { LockedRunRecord, LockInfo, StoreBackend } from './types.ts';

export type { LockedRunRecord, LockInfo, RunRecord, RunStatus, StoreBackend } from './types.ts';

export interface AcquireOptions {
  operation: string;
  holder?: string;
  /** Lease length; the holder renews it every third of it (default 60 s). */
  ttlMs?: number;
}

export function defaultHolder(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep 'unknown'.
  }
  return `${process.env.STRATA_LOCK_HOLDER ?? user}@${hostname()}:${process.pid}`;
}

export class Lease {
  readonly info: LockInfo;
  readonly #store: StoreBackend;
  readonly #ttlMs: number;
  #timer: NodeJS.Timeout | undefined;
  #lost = false;

  constructor(store: StoreBackend, info: LockInfo, ttlMs: number) {
    this.#store = store;
    this.info = info;
    this.#ttlMs = ttlMs;
    this.#timer = setInterval(
      () => {
        this.renew().catch(() => {
          this.#lost = true;
        });
      },
      Math.max(50, Math.floor(ttlMs / 3)),
    );
    this.#timer.unref();
  }

  /** Whether a renewal failed (someone force-released or took over the lock). */
  get lost(): boolean {
    return this.#lost;
  }

  async renew(): Promise<boolean> {
    const ok = await this.#store.renew(this.info.id, this.info.token, this.#ttlMs);
    if (!ok) this.#lost = true;
    return ok;
  }

  async release(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#store.release(this.info.id, this.info.token);
  }
}

/** Takes the lock for `id` or returns undefined when another live lease holds it. */
export async function acquireLock(
  store: StoreBackend,
  id: string,
  options: AcquireOptions,
): Promise<Lease | undefined> {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = Date.now();
  const info = await store.tryAcquire(
    id,
    {
      holder: options.holder ?? defaultHolder(),
      operation: options.operation,
      token: randomUUID(),
      acquiredAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
    },
    ttlMs,
  );
  return info ? new Lease(store, info, ttlMs) : undefined;
}

/**
 * Runs `task` while holding the lock, recording the run (running -> succeeded/failed). A run whose holder died is
 * marked `abandoned` when its lock is next taken.
 */
export async function withRunLock<T>(
  store: StoreBackend,
  id: string,
  options: AcquireOptions,
  task: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await acquireLock(store, id, options);
  if (!lease) {
    const holder = (await store.list()).find((l) => l.id === id);
    throw new StrataError(`'${id}' is locked by ${holder?.holder ?? 'another run'} (${holder?.operation ?? '?'})`, {
      details: holder ? `taken ${holder.acquiredAt}, expires ${holder.expiresAt} unless renewed` : undefined,
      hint: `wait for it to finish, or clear a stale lock with \`strata lock release ${id}\``,
    });
  }
  const run: LockedRunRecord = {
    id: randomUUID(),
    lockId: id,
    operation: options.operation,
    holder: lease.info.holder,
    status: 'running',
    startedAt: lease.info.acquiredAt,
    token: lease.info.token,
  };
  await store.saveRun(run);
  try {
    const result = await task(lease);
    await store.saveRun({ ...run, status: 'succeeded', finishedAt: new Date().toISOString() });
    return result;
  } catch (error) {
    await store.saveRun({
      ...run,
      status: 'failed',
      finishedAt: new Date().toISOString(),
      details: { error: error instanceof Error ? error.message : String(error) },
    });
    throw error;
  } finally {
    await lease.release();
  }
}

export interface OpenStoreOptions {
  /** Folder that holds `.strata/` (the repository root or base path). */
  dir: string;
  /** PostgreSQL URL; default STRATA_DATABASE_URL. */
  url?: string;
  env?: NodeJS.ProcessEnv;
}

export async function openStore(options: OpenStoreOptions): Promise<StoreBackend> {
  const url = options.url ?? (options.env ?? process.env).STRATA_DATABASE_URL;
  if (url) {
    const { PostgresStore } = await import('./postgres.ts');
    return PostgresStore.connect(url);
  }
  const { FileStore } = await import('./files.ts');
  return new FileStore(options.dir);
}
