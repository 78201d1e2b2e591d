import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireLock, newState, readState, StateStore, statePaths } from '../../src/operator/state.ts';

test('concurrent transitions all reach the file, written atomically (mode 0600, no temp files left)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-state-'));
  try {
    const { state: path } = statePaths(dir, 'lab', 'pve/dev');
    assert.equal(path, join(dir, 'lab--pve_dev.json'));
    const store = new StateStore(path, newState('lab', 'pve/dev', []));
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.update(`n${i}`, { status: 'completed', vm_id: 100 + i })),
    );
    const saved = await readState(path);
    assert.equal(Object.keys(saved?.nodes ?? {}).length, 200);
    assert.equal(saved?.nodes.n199.vm_id, 299);
    assert.deepEqual(readdirSync(dir), ['lab--pve_dev.json']);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    writeFileSync(path, '{"torn');
    await assert.rejects(readState(path), (error: Error & { hint?: string }) => {
      assert.match(error.message, /is not valid JSON/);
      assert.match(error.hint ?? '', /Move it away/);
      return true;
    });
    assert.equal(await readState(join(dir, 'missing.json')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lock: O_EXCL file with pid, host and command; released once; an empty stale file is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-lock-'));
  try {
    const path = join(dir, 'x.lock');
    const release = await acquireLock(path, 'strata manifest create x');
    const info = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(info.pid, process.pid);
    assert.equal(info.command, 'strata manifest create x');
    await assert.rejects(acquireLock(path, 'second'), /holds the lock/);
    await release();
    await release();
    // A crash between create and write leaves an empty file: after a few seconds it counts as stale.
    writeFileSync(path, '');
    const old = new Date(Date.now() - 60_000);
    const { utimesSync } = await import('node:fs');
    utimesSync(path, old, old);
    const again = await acquireLock(path, 'third');
    await again();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
