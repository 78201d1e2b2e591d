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

/** How a locked run ended, from what the task returned (e.g. the tool's exit code), and what to record with it. */
export type RunOutcome<T> = (result: T) => { status: 'succeeded' | 'failed' | 'interrupted'; details?: object };

export interface RunLockOptions<T> extends AcquireOptions {
  /** Default: a task that returns succeeded, one that throws failed. */
  outcome?: RunOutcome<T>;
}

/** Someone else holds the lock: the message says who, doing what, since when. */
export class LockedError extends StrataError {
  readonly holder: LockInfo | undefined;
  constructor(id: string, holder: LockInfo | undefined) {
    const who = holder ? `${holder.holder} (${holder.operation}), since ${holder.acquiredAt}` : 'another run';
    super(`'${id}' is locked by ${who}`, {
      details: holder ? `the lease expires ${holder.expiresAt} unless its holder renews it` : undefined,
      hint: `wait for it to finish, or clear a stale lock with \`strata lock release ${id}\``,
    });
    this.name = 'LockedError';
    this.holder = holder;
  }
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
 * Runs `task` while holding the lock, recording the run: running, then what `outcome` makes of the result
 * (succeeded unless told otherwise) or failed when the task throws. A run whose holder died is marked `abandoned`
 * when its lock is next taken. Someone else holding the lock is a LockedError naming them.
 */
export async function withRunLock<T>(
  store: StoreBackend,
  id: string,
  options: RunLockOptions<T>,
  task: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await acquireLock(store, id, options);
  if (!lease)
    throw new LockedError(
      id,
      (await store.list()).find((l) => l.id === id),
    );
  const run: LockedRunRecord = {
    id: randomUUID(),
    lockId: id,
    operation: options.operation,
    holder: lease.info.holder,
    status: 'running',
    startedAt: lease.info.acquiredAt,
    token: lease.info.token,
  };
  const finish = (status: LockedRunRecord['status'], details?: object) =>
    store.saveRun({ ...run, status, finishedAt: new Date().toISOString(), details: details && { ...details } });
  try {
    await store.saveRun(run);
    let result: T;
    try {
      result = await task(lease);
    } catch (error) {
      await finish('failed', { error: error instanceof Error ? error.message : String(error) });
      throw error;
    }
    const ended = options.outcome?.(result) ?? { status: 'succeeded' as const };
    await finish(ended.status, ended.details);
    return result;
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
