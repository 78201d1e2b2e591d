import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { acquireLock, newState, readState, StateStore, statePaths } from '../../src/operator/state.ts';
import { manifest, NESTED, startLab } from './helpers.ts';

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

test('a state file of the wrong shape is a clear error naming it; destroy keeps what fits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-state-shape-'));
  try {
    const path = join(dir, 'lab--lab.json');
    writeFileSync(path, '{"nodes":"x"}');
    await assert.rejects(readState(path), (error: StrataError) => {
      assert.ok(error instanceof StrataError);
      assert.match(error.message, new RegExp(`Execution state ${path} has the wrong shape: version is missing`));
      assert.equal(error.location?.file, path);
      assert.match(error.hint ?? '', /Move it away \(mv .*lab--lab\.json .*\.bad\).*destroy` works without it/);
      return true;
    });
    const good = newState('lab', 'lab', ['a', 'b']);
    good.nodes.a = { name: 'a', status: 'completed', vm_id: 101 };
    const damaged = { ...good, nodes: { ...good.nodes, b: { name: 'b', status: 'exploded' } }, delegations: [] };
    writeFileSync(path, JSON.stringify(damaged));
    await assert.rejects(readState(path), /nodes\.b\.status must be one of "pending", .*found the string "exploded"/);
    const reports: string[] = [];
    const salvage = { manifest: 'lab', stack: 'lab', report: (line: string) => reports.push(line) };
    const kept = await readState(path, salvage);
    assert.deepEqual(kept?.nodes, { a: { name: 'a', status: 'completed', vm_id: 101 } });
    assert.deepEqual(kept?.delegations, {});
    assert.equal(kept?.manifest, 'lab');
    assert.match(reports.join('\n'), /nodes\.b ignored \(nodes\.b\.status must be one of/);
    assert.match(reports.join('\n'), /'delegations' is not an object; ignored/);
    writeFileSync(path, '[1, 2]');
    assert.equal(await readState(path, salvage), undefined);
    writeFileSync(path, '{"torn');
    assert.equal(await readState(path, salvage), undefined);
    assert.match(reports.at(-1) ?? '', /is not valid JSON.*destroying what the Proxmox API shows/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged state blocks create with the error, and destroy still removes every VM', async () => {
  const lab = await startLab();
  try {
    const m = manifest(NESTED);
    assert.equal((await lab.run('create', m)).success, true);
    const paths = statePaths(join(lab.dir, 'state'), 'lab', 'lab');
    writeFileSync(paths.state, '{"nodes":"x"}');
    await assert.rejects(lab.run('create', m), /has the wrong shape: version is missing/);
    const logged: string[] = [];
    const destroyed = await lab.run('destroy', m, { log: (line) => logged.push(line) });
    assert.equal(destroyed.success, true, destroyed.error);
    assert.equal(lab.vms().size, 0);
    assert.deepEqual((lab.sim.state as { nested: unknown[] }).nested, []);
    assert.match(logged.join('\n'), /'nodes' is not an object; ignored/);
  } finally {
    await lab.close();
  }
});
