/**
 * A throwaway PostgreSQL server for one test file (pg_ctl as the `postgres` user, about 1 s). Its data folder is a
 * copy of one initdb result that the test files share (initdb costs ~1 s of CPU, the copy a tenth of that).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { acquireFileLock } from '../../src/util/lock.ts';

const PG_BIN = process.env.STRATA_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why PostgreSQL cannot be started here (as a test skip reason), or false. */
export function postgresUnavailable(): string | false {
  if (!existsSync(join(PG_BIN, 'initdb'))) return `PostgreSQL server binaries not found in ${PG_BIN}`;
  if (process.getuid?.() !== 0) return 'starting PostgreSQL as user postgres needs root (runuser)';
  if (spawnSync('id', ['-u', 'postgres']).status !== 0) return 'no postgres system user';
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function asPostgres(args: string[]): void {
  const result = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
}

export interface Postgres {
  port: number;
  connectionString(database: string): string;
  createDatabase(name: string): Promise<void>;
  stop(): void;
}

function postgresOwner(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** The shared initdb result for these binaries (made once, under a lock, by the first test file that needs it). */
async function dataTemplate(owner: { uid: number; gid: number }): Promise<string> {
  const template = join(
    tmpdir(),
    `strata-pg-template-${createHash('sha256').update(PG_BIN).digest('hex').slice(0, 12)}`,
  );
  const ready = join(template, '.ready');
  if (existsSync(ready)) return join(template, 'data');
  const release = await acquireFileLock(`${template}.lock`, { command: 'test: initdb template', waitMs: 60_000 });
  try {
    if (!existsSync(ready)) {
      rmSync(template, { recursive: true, force: true });
      mkdirSync(template);
      chownSync(template, owner.uid, owner.gid);
      const data = join(template, 'data');
      asPostgres([join(PG_BIN, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C']);
      writeFileSync(ready, '');
    }
  } finally {
    await release();
  }
  return join(template, 'data');
}

export async function startPostgres(): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-pg-'));
  const owner = postgresOwner();
  chownSync(dir, owner.uid, owner.gid);
  const port = await freePort();
  const data = join(dir, 'data');
  const copied = spawnSync('cp', ['-a', await dataTemplate(owner), data], { encoding: 'utf8' });
  if (copied.status !== 0) throw new Error(`copying the PostgreSQL data folder failed: ${copied.stderr}`);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  asPostgres([
    join(PG_BIN, 'pg_ctl'),
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '30',
    '-o',
    options,
    'start',
  ]);
  const connectionString = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}?sslmode=disable`;
  return {
    port,
    connectionString,
    async createDatabase(name: string) {
      const client = new pg.Client({ connectionString: connectionString('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
    },
    stop() {
      spawnSync('runuser', [
        '-u',
        'postgres',
        '--',
        join(PG_BIN, 'pg_ctl'),
        '-D',
        data,
        '-m',
        'immediate',
        '-w',
        'stop',
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Skip reason for tests that need a real PostgreSQL (false when one can be started here). */
export const skipWithoutPostgres: false | string = postgresUnavailable();

/** A throwaway server with one database, as a connection URL. */
export async function startPostgresDatabase(name = 'strata'): Promise<{ url: string; stop(): void }> {
  const server = await startPostgres();
  await server.createDatabase(name);
  return { url: server.connectionString(name), stop: () => server.stop() };
}
