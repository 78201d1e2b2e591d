import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PGBIN = '/usr/lib/postgresql/15/bin';

/** Why a real PostgreSQL cannot be started here (skip reason), or false when it can. */
export const skipWithoutPostgres: false | string = !existsSync(join(PGBIN, 'initdb'))
  ? 'PostgreSQL 15 server binaries are not installed'
  : process.getuid?.() !== 0
    ? 'starting PostgreSQL as user postgres needs root (runuser)'
    : false;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A throwaway PostgreSQL server (initdb + pg_ctl as user postgres), one per test file. */
export async function startPostgres(): Promise<{ url: string; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-pg-'));
  execFileSync('chown', ['postgres:postgres', dir]);
  const port = await freePort();
  const asPostgres = (args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' });
  asPostgres([
    join(PGBIN, 'initdb'),
    '-D',
    join(dir, 'data'),
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  asPostgres([
    join(PGBIN, 'pg_ctl'),
    '-D',
    join(dir, 'data'),
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '30',
    '-o',
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    'start',
  ]);
  execFileSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-qc', 'CREATE DATABASE strata']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/strata?sslmode=disable`,
    stop() {
      asPostgres([join(PGBIN, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
