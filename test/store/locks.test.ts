import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pgClient from 'pg';
import { StrataError } from '../../src/errors.ts';
import { acquireLock, openStore, type StoreBackend, withRunLock } from '../../src/store/index.ts';
import { runCli } from '../helpers/cli.ts';
import { skipWithoutPostgres, startPostgresDatabase } from '../helpers/postgres.ts';
import { TS_CHILD_ARGS } from '../helpers/shared.ts';

const here = dirname(fileURLToPath(import.meta.url));
const temp: string[] = [];
after(() => {
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'strata-store-'));
  temp.push(d);
  return d;
};

function worker(args: string[]): { child: ChildProcess; output: Promise<string>; firstLine: Promise<string> } {
  const child = spawn(process.execPath, [...TS_CHILD_ARGS, join(here, 'worker.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  let err = '';
  let resolveLine: (s: string) => void = () => {};
  const firstLine = new Promise<string>((r) => {
    resolveLine = r;
  });
  child.stdout?.on('data', (d) => {
    text += d;
    if (text.includes('\n')) resolveLine(text.split('\n')[0]);
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const output = new Promise<string>((resolve, reject) =>
    child.on('exit', (code, signal) =>
      code === 0 || signal === 'SIGKILL' ? resolve(text) : reject(new Error(`worker exit ${code}: ${err}`)),
    ),
  );
  return { child, output, firstLine };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The same contract for both stores. */
function contract(name: string, target: () => string, open: () => Promise<StoreBackend>, skip: false | string) {
  describe(name, { skip }, () => {
    test('concurrent runner processes contend for one lock: exactly one wins', async () => {
      const go = join(tempDir(), 'go');
      const runners = Array.from({ length: 6 }, () => worker(['try', target(), 'vpc@prod', '30000', go]));
      // Every runner has opened the store and waits for the go file: they all try at once.
      // (A runner that dies first rejects its output: the test fails at once instead of waiting forever.)
      const ready = await Promise.all(runners.map((r) => Promise.race([r.firstLine, r.output])));
      assert.deepEqual(ready, Array(6).fill('ready'));
      writeFileSync(go, '');
      const results = await Promise.all(runners.map((r) => r.output));
      const winners = results.filter((o) => JSON.parse(o.trim().split('\n').pop() as string).won === true);
      assert.equal(winners.length, 1, results.join(''));
      const store = await open();
      try {
        const locks = await store.list();
        assert.deepEqual(
          locks.map((l) => [l.id, l.operation]),
          [['vpc@prod', 'plan']],
        );
        assert.match(locks[0].holder, /^worker-\d+$/);
        assert.equal(await store.release('vpc@prod'), true);
      } finally {
        await store.close();
      }
    });

    test('a runner killed with SIGKILL: its lock expires, its run record is kept as abandoned', async () => {
      const holder = worker(['hold', target(), 'db@prod', '1200', '']);
      assert.equal(await holder.firstLine, 'held');
      const store = await open();
      try {
        // Renewal keeps the lease alive past its first expiry while the holder lives.
        await sleep(1600);
        assert.equal(await acquireLock(store, 'db@prod', { operation: 'plan' }), undefined);
        // The lease as renewed last before the kill: until it expires, nobody takes it over. (On a loaded machine the
        // kill and the look after it may take longer than the lease: then the look is not "before expiry".)
        const renewed = (await store.list()).find((l) => l.id === 'db@prod');
        holder.child.kill('SIGKILL');
        await holder.output;
        const early = await acquireLock(store, 'db@prod', { operation: 'plan' });
        if (renewed && Date.now() < Date.parse(renewed.expiresAt)) assert.equal(early, undefined, 'not before expiry');
        await early?.release();
        // Until the lease as renewed last has expired (read again after each wait: a renewal sent just before the kill
        // may land after a look).
        for (let i = 0; i < 10; i++) {
          const last = (await store.list()).find((l) => l.id === 'db@prod');
          const left = last ? Date.parse(last.expiresAt) - Date.now() : -1;
          if (left < 0) break;
          await sleep(left + 20);
        }
        const lease = await acquireLock(store, 'db@prod', { operation: 'plan', ttlMs: 5000 });
        assert.ok(lease, 'taken over after expiry');
        await lease.release();
        const runs = (await store.runs()).filter((r) => r.lockId === 'db@prod');
        assert.deepEqual(
          runs.map((r) => [r.operation, r.status]),
          [['apply', 'abandoned']],
        );
        assert.match(runs[0].holder, /^holder-\d+$/);

        const result = await withRunLock(store, 'db@prod', { operation: 'apply' }, async () => 42);
        assert.equal(result, 42);
        await assert.rejects(
          withRunLock(store, 'db@prod', { operation: 'apply' }, async () => {
            await assert.rejects(
              withRunLock(store, 'db@prod', { operation: 'plan' }, async () => 0),
              /'db@prod' is locked by .* \(apply\)/,
            );
            throw new Error('boom');
          }),
          /boom/,
        );
        const statuses = (await store.runs()).filter((r) => r.lockId === 'db@prod').map((r) => r.status);
        assert.deepEqual(statuses.sort(), ['abandoned', 'failed', 'succeeded']);
        assert.deepEqual(await store.list(), []);
      } finally {
        await store.close();
      }
    });
  });
}

const fileDir = tempDir();
contract(
  'file store (.strata/)',
  () => fileDir,
  () => openStore({ dir: fileDir, env: {} }),
  false,
);

let pg: { url: string; stop(): void } | undefined;
before(async () => {
  if (!skipWithoutPostgres) pg = await startPostgresDatabase();
});
after(() => pg?.stop());
contract(
  'PostgreSQL store',
  () => pg?.url ?? '',
  () => openStore({ dir: '.', url: pg?.url }),
  skipWithoutPostgres,
);

test('CLI: strata lock list / release against PostgreSQL', { skip: skipWithoutPostgres }, async () => {
  const url = pg?.url as string;
  const store = await openStore({ dir: '.', url });
  await acquireLock(store, 'app@dev', { operation: 'apply', holder: 'ann@laptop', ttlMs: 60_000 });
  await store.close();
  const env = { STRATA_DATABASE_URL: url };
  const list = runCli(['lock', 'list', '--format', 'json'], { cwd: tempDir(), env });
  assert.equal(list.code, 0, list.stderr);
  const data = JSON.parse(list.stdout);
  assert.equal(data.store, 'postgres');
  assert.deepEqual(
    data.locks.map((l: Record<string, unknown>) => [l.id, l.holder, l.operation, l.expired]),
    [['app@dev', 'ann@laptop', 'apply', false]],
  );
  const typo = runCli(['lock', 'release', 'app@dve'], { cwd: tempDir(), env });
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /no lock on 'app@dve'[\s\S]*app@dev/);
  const released = runCli(['lock', 'release', 'app@dev'], { cwd: tempDir(), env });
  assert.equal(released.code, 0, released.stderr);
  assert.match(released.stdout, /released app@dev \(was held by ann@laptop for apply\)/);
});

test('PostgreSQL rows edited by hand are clear errors naming the table, the row and the field', {
  skip: skipWithoutPostgres,
}, async () => {
  const url = pg?.url as string;
  const store = await openStore({ dir: '.', url });
  const client = new pgClient.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO strata_runs (id, lock_id, operation, holder, status, token, started_at, details)
       VALUES ('hand-edited', 'x@dev', 'apply', 'ann', 'finished?', 't', now(), '"a string"')`,
    );
    await assert.rejects(store.runs(), (error: Error) => {
      assert.ok(error instanceof StrataError);
      assert.match(
        error.message,
        /row 'hand-edited' of the PostgreSQL table strata_runs has the wrong shape: status must be one of/,
      );
      assert.match(error.hint ?? '', /DELETE FROM strata_runs/);
      return true;
    });
    await client.query(`UPDATE strata_runs SET status = 'failed' WHERE id = 'hand-edited'`);
    await assert.rejects(store.runs(), /strata_runs has the wrong shape: details must be an object, found string/);
    await client.query(`DELETE FROM strata_runs WHERE id = 'hand-edited'`);
    await client.query(`ALTER TABLE strata_locks ALTER COLUMN holder DROP NOT NULL`);
    await client.query(
      `INSERT INTO strata_locks (id, holder, operation, token, acquired_at, expires_at) VALUES ('odd@dev', NULL, 'apply', 't', now(), now())`,
    );
    await assert.rejects(
      store.list(),
      /row 'odd@dev' of the PostgreSQL table strata_locks has the wrong shape: holder is missing/,
    );
  } finally {
    await client.query(`DELETE FROM strata_locks WHERE id = 'odd@dev'`);
    await client.query(`ALTER TABLE strata_locks ALTER COLUMN holder SET NOT NULL`);
    await client.end();
    await store.close();
  }
});
