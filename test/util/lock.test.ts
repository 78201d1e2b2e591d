import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { acquireFileLock, LockedError } from '../../src/util/lock.ts';
import { TS_CHILD_ARGS } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const lockPath = () => join(dir, `run-${++count}.lock`);

/** Another process holding the lock at `path`; resolves once it holds it. */
async function holder(path: string, command: string): Promise<ChildProcessWithoutNullStreams> {
  const worker = join(import.meta.dirname, 'lock-worker.ts');
  const child = spawn(process.execPath, [...TS_CHILD_ARGS, worker, path, command]);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data) => {
      if (String(data).includes('held')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the lock worker exited with ${code}`)));
  });
  return child;
}

function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.on('exit', () => resolve());
  });
}

test('a lock held by another live process is refused with an error naming the holder', async () => {
  const path = lockPath();
  const child = await holder(path, 'strata manifest create lab');
  try {
    await assert.rejects(acquireFileLock(path, { command: 'second' }), (error: unknown) => {
      assert.ok(error instanceof LockedError);
      assert.equal(
        error.message,
        `Another strata run (pid ${child.pid} on ${hostname()}, started ${JSON.parse(readFileSync(path, 'utf8')).started_at}: strata manifest create lab) holds the lock ${path}`,
      );
      assert.match(error.hint ?? '', /a lock left by a killed run is taken over automatically/);
      return true;
    });
  } finally {
    child.stdin.write('release\n');
    await exited(child);
  }
  assert.equal(existsSync(path), false, 'released: the file is gone');
});

test('with waitMs the second process waits until the first releases', async () => {
  const path = lockPath();
  const child = await holder(path, 'first');
  setTimeout(() => child.stdin.write('release\n'), 300);
  const started = Date.now();
  const release = await acquireFileLock(path, { command: 'second', waitMs: 20_000 });
  assert.ok(Date.now() - started >= 250, 'it waited for the release');
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).command, 'second');
  await release();
  await exited(child);
});

test('a lock whose process was killed is stale and taken over (rename, then unlink)', async () => {
  const path = lockPath();
  const child = await holder(path, 'killed run');
  child.kill('SIGKILL');
  await exited(child);
  const release = await acquireFileLock(path, { command: 'resumed run' });
  const info = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual([info.pid, info.host, info.command], [process.pid, hostname(), 'resumed run']);
  assert.ok(!Number.isNaN(Date.parse(info.started_at)));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.stale.')),
    [],
    'the stale lock moved aside is removed',
  );
  await release();
  await release();
  assert.equal(existsSync(path), false);
});

test('two takers of one stale lock: exactly one gets it', async () => {
  const path = lockPath();
  const child = await holder(path, 'killed run');
  child.kill('SIGKILL');
  await exited(child);
  const results = await Promise.allSettled([
    acquireFileLock(path, { command: 'a' }),
    acquireFileLock(path, { command: 'b' }),
  ]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r) => r.status === 'rejected');
  assert.equal(won.length, 1);
  assert.ok(lost.every((r) => r.reason instanceof LockedError));
  await (won[0] as PromiseFulfilledResult<() => Promise<void>>).value();
});

test('a lock from another host is kept (its pid cannot be checked) unless staleAfterMs says it is too old', async () => {
  const path = lockPath();
  const other = { pid: 1, host: 'elsewhere.example', started_at: '2020-01-01T00:00:00.000Z', command: 'far away' };
  writeFileSync(path, JSON.stringify(other));
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  await assert.rejects(acquireFileLock(path, { command: 'here' }), (error: unknown) => {
    assert.ok(error instanceof LockedError);
    assert.match(error.message, /pid 1 on elsewhere\.example/);
    assert.equal(error.hint, `Wait for that run to finish. If it is gone, delete ${path}.`);
    return true;
  });
  const release = await acquireFileLock(path, { command: 'here', staleAfterMs: 30_000 });
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).command, 'here');
  await release();
});

test('an unreadable lock file is left alone while fresh (being written), taken over once old', async () => {
  const path = lockPath();
  writeFileSync(path, '');
  await assert.rejects(acquireFileLock(path, { command: 'x' }), /The lock .* is held by another strata run/);
  const old = new Date(Date.now() - 10_000);
  utimesSync(path, old, old);
  const release = await acquireFileLock(path, { command: 'x' });
  await release();
});
