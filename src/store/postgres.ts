/**
 * The PostgreSQL store. Taking a lock is one statement (insert, or take over a row whose lease expired), so of any
 * number of concurrent takers exactly one gets a row back. Schema creation is serialised with an advisory lock.
 */
import pg from 'pg';
import { StrataError } from '../errors.ts';
import { problemWith, type Shape } from '../util/shape.ts';
import { LOCK_SHAPE, RUN_SHAPE } from './files.ts';
import type { LockedRunRecord, LockInfo, StoreBackend } from './types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS strata_locks (
  id text PRIMARY KEY,
  holder text NOT NULL,
  operation text NOT NULL,
  token text NOT NULL,
  acquired_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS strata_runs (
  id text PRIMARY KEY,
  lock_id text NOT NULL,
  operation text NOT NULL,
  holder text NOT NULL,
  status text NOT NULL,
  token text NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  details jsonb
);`;

type Row = Record<string, unknown>;
/** Timestamps come back as Dates; anything else is left as it is for the shape check to name. */
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v);

/**
 * A row read back, checked like the file store's files: a row edited by hand (or a table altered) is an error naming
 * the table, the row and the first wrong field, never a TypeError later on.
 */
function checked<T>(value: Record<string, unknown>, shape: Shape, table: string): T {
  const problem = problemWith(shape, value);
  if (problem) {
    throw new StrataError(
      `row '${String(value.id)}' of the PostgreSQL table ${table} has the wrong shape: ${problem}`,
      {
        hint: `it was not written by strata; fix the row, or delete it (DELETE FROM ${table} WHERE id = '...')`,
      },
    );
  }
  return value as T;
}

function lockOf(row: Row): LockInfo {
  const lock = {
    id: row.id,
    holder: row.holder,
    operation: row.operation,
    token: row.token,
    acquiredAt: iso(row.acquired_at),
    expiresAt: iso(row.expires_at),
  };
  return checked<LockInfo>(lock, LOCK_SHAPE, 'strata_locks');
}

const RUN_ROW_SHAPE: Shape = (value, path) =>
  RUN_SHAPE(value, path) ??
  (isRecord(value) && value.details !== undefined && !isRecord(value.details)
    ? `${path ? `${path}.` : ''}details must be an object, found ${Array.isArray(value.details) ? 'a list' : typeof value.details}`
    : undefined);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function runOf(row: Row): LockedRunRecord {
  const run = {
    id: row.id,
    lockId: row.lock_id,
    operation: row.operation,
    holder: row.holder,
    status: row.status,
    token: row.token,
    startedAt: iso(row.started_at),
    finishedAt: row.finished_at ? iso(row.finished_at) : undefined,
    details: row.details ?? undefined,
  };
  return checked<LockedRunRecord>(run, RUN_ROW_SHAPE, 'strata_runs');
}

export class PostgresStore implements StoreBackend {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  static async connect(url: string): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    // An idle client losing its server must not crash the CLI; the next query reports the problem.
    pool.on('error', () => {});
    try {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query("SELECT pg_advisory_xact_lock(hashtext('strata-schema'))");
        await client.query(SCHEMA);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => {});
      throw new StrataError(`cannot use the team database: ${(error as Error).message}`, {
        hint: 'check STRATA_DATABASE_URL (postgres://user@host:port/db) and that the server is up',
      });
    }
    return new PostgresStore(pool);
  }

  async tryAcquire(id: string, info: Omit<LockInfo, 'id'>, ttlMs: number): Promise<LockInfo | undefined> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      // Database time decides expiry, so clocks of the machines running strata do not matter.
      const taken = await client.query(
        `INSERT INTO strata_locks AS l (id, holder, operation, token, acquired_at, expires_at)
         VALUES ($1, $2, $3, $4, now(), now() + $5 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, operation = EXCLUDED.operation,
           token = EXCLUDED.token, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
         WHERE l.expires_at < now()
         RETURNING *, (xmax <> 0) AS took_over`,
        [id, info.holder, info.operation, info.token, ttlMs],
      );
      if (taken.rows.length === 0) {
        await client.query('ROLLBACK');
        return undefined;
      }
      if (taken.rows[0].took_over) {
        await client.query(
          "UPDATE strata_runs SET status = 'abandoned', finished_at = now() WHERE lock_id = $1 AND status = 'running'",
          [id],
        );
      }
      await client.query('COMMIT');
      return lockOf(taken.rows[0]);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async renew(id: string, token: string, ttlMs: number): Promise<boolean> {
    const r = await this.#pool.query(
      "UPDATE strata_locks SET expires_at = now() + $3 * interval '1 millisecond' WHERE id = $1 AND token = $2",
      [id, token, ttlMs],
    );
    return r.rowCount === 1;
  }

  async release(id: string, token?: string): Promise<boolean> {
    const r = token
      ? await this.#pool.query('DELETE FROM strata_locks WHERE id = $1 AND token = $2', [id, token])
      : await this.#pool.query('DELETE FROM strata_locks WHERE id = $1', [id]);
    return r.rowCount === 1;
  }

  async list(): Promise<LockInfo[]> {
    const r = await this.#pool.query('SELECT * FROM strata_locks ORDER BY id');
    return r.rows.map(lockOf);
  }

  async saveRun(run: LockedRunRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO strata_runs (id, lock_id, operation, holder, status, token, started_at, finished_at, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, finished_at = EXCLUDED.finished_at,
         details = EXCLUDED.details`,
      [
        run.id,
        run.lockId,
        run.operation,
        run.holder,
        run.status,
        run.token,
        run.startedAt,
        run.finishedAt ?? null,
        run.details ? JSON.stringify(run.details) : null,
      ],
    );
  }

  async runs(limit = 100): Promise<LockedRunRecord[]> {
    const r = await this.#pool.query('SELECT * FROM strata_runs ORDER BY started_at DESC, id LIMIT $1', [limit]);
    return r.rows.map(runOf);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
