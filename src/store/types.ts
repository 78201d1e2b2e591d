/** The store's data: locks, run records and what a backend (files or PostgreSQL) implements. */

export interface LockInfo {
  /** `component@stack`. */
  id: string;
  holder: string;
  operation: string;
  token: string;
  acquiredAt: string;
  expiresAt: string;
}

/**
 * Where a run is: `interrupted` is a run stopped by a signal (SIGINT/SIGTERM), `abandoned` a locked run whose
 * holder died without a word (SIGKILL, a lost machine) and whose lock was taken over.
 */
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'interrupted', 'abandoned'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * The one record of a run, whoever ran it: an id, a status and when it started and finished. What a recorder adds
 * comes in `Fields`: the lock a gitops run held (LockedRunRecord, the store's own), a workflow's steps.
 */
export type RunRecord<Fields extends object> = {
  id: string;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
} & Fields;

export interface LockedRunFields {
  /** The lock (component@stack) the run held. */
  lockId: string;
  operation: string;
  holder: string;
  status: RunStatus;
  details?: Record<string, unknown>;
  /** The lease token, so a taken-over lock marks its abandoned run. */
  token: string;
}

export type LockedRunRecord = RunRecord<LockedRunFields>;

/** What a store implements; `Lease` adds renewal on top. */
export interface StoreBackend {
  readonly kind: 'postgres' | 'files';
  /** The new lock, or undefined when someone else holds a lease that has not expired. */
  tryAcquire(id: string, info: Omit<LockInfo, 'id'>, ttlMs: number): Promise<LockInfo | undefined>;
  renew(id: string, token: string, ttlMs: number): Promise<boolean>;
  /** With a token: release only that lease. Without: force (an operator clearing a lock). */
  release(id: string, token?: string): Promise<boolean>;
  list(): Promise<LockInfo[]>;
  saveRun(run: LockedRunRecord): Promise<void>;
  runs(limit?: number): Promise<LockedRunRecord[]>;
  close(): Promise<void>;
}
