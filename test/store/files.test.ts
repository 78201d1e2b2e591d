import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { FileStore } from '../../src/store/files.ts';
import { runCli } from '../helpers/cli.ts';

const info = (expiresInMs: number) => ({
  holder: 'me@host:1',
  operation: 'apply',
  token: 't1',
  acquiredAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
});

test('a lock file of the wrong shape is an error naming it with a way out; never taken over silently', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-store-shape-'));
  try {
    const store = new FileStore(dir);
    assert.ok(await store.tryAcquire('vpc@dev', info(60_000)));
    const [file] = readdirSync(join(dir, '.strata', 'locks')).filter((f) => f.endsWith('.json'));
    const path = join(dir, '.strata', 'locks', file);
    writeFileSync(path, '{"nodes":"x"}');
    for (const attempt of [() => store.tryAcquire('vpc@dev', info(60_000)), () => store.list()]) {
      await assert.rejects(attempt(), (error: StrataError) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.message, `lock file ${path} has the wrong shape: id is missing`);
        assert.match(error.hint ?? '', /once no run holds that lock, remove it \(rm .*\)/);
        return true;
      });
    }
    // Through the CLI: the error, no trace.
    const listed = runCli(['lock', 'list'], { cwd: dir });
    assert.equal(listed.code, 1);
    assert.match(listed.stderr, /has the wrong shape: id is missing/);
    assert.doesNotMatch(listed.stderr, /Internal error|\.ts:\d+:\d+/);
    rmSync(path);
    assert.ok(await store.tryAcquire('vpc@dev', info(60_000)), 'the way out works');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged run record does not block a takeover; listing the runs names it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-store-runs-'));
  try {
    const store = new FileStore(dir);
    assert.ok(await store.tryAcquire('vpc@dev', info(-1)));
    const damaged = join(dir, '.strata', 'runs', 'broken.json');
    writeFileSync(damaged, '{"status": 7}');
    assert.ok(await store.tryAcquire('vpc@dev', info(60_000)), 'the expired lock is taken over');
    await assert.rejects(store.runs(), new RegExp(`run record ${damaged} has the wrong shape: id is missing`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
