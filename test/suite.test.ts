// The test suite's own environment (docs/architecture.md, "Tests pay for what they test"), as scripts/run-tests.mjs
// and scripts/test-loader/ set it up for every test file.
import assert from 'node:assert/strict';
import { lstatSync, realpathSync, statfsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers/shared.ts';

const underRunner = process.env.STRATA_TEST_CACHE_HOME !== undefined;

test('each test file has its own XDG_CACHE_HOME, outside the home folder, with the shared HCL cache', {
  skip: underRunner ? false : 'run through scripts/run-tests.mjs',
}, () => {
  const home = process.env.XDG_CACHE_HOME ?? '';
  assert.equal(home, process.env.STRATA_TEST_CACHE_HOME);
  assert.ok(home.startsWith(join(tmpdir(), 'strata-test-cache-')), home);
  assert.ok(!home.startsWith(homedir()), home);
  assert.ok(lstatSync(join(home, 'strata', 'hcl')).isSymbolicLink());
  assert.equal(realpathSync(join(home, 'strata', 'hcl')), realpathSync(join(tmpdir(), 'strata-test-hcl-cache')));
});

test('temporary files go to /dev/shm/strata-tests when it is a RAM file system with 4 GB free', {
  skip: underRunner && process.env.STRATA_TEST_TMPDIR === undefined ? false : 'STRATA_TEST_TMPDIR chooses',
}, () => {
  let roomy = false;
  try {
    const shm = statfsSync('/dev/shm');
    roomy = shm.type === 0x01021994 && shm.bavail * shm.bsize >= 4 * 1024 ** 3;
  } catch {}
  if (roomy) assert.equal(tmpdir(), '/dev/shm/strata-tests');
  else assert.notEqual(tmpdir(), '/dev/shm/strata-tests');
});

test('the runner packs the package in the background exactly when a selected file reaches test/helpers/installed.ts', async () => {
  const { reaches } = (await import(join(repoRoot, 'scripts', 'test-loader', 'imports.mjs'))) as {
    reaches: (file: string, target: string) => boolean;
  };
  const installed = join(repoRoot, 'test', 'helpers', 'installed.ts');
  // Directly, and through helpers (journeys/helpers.ts, gitops/ci-scenario.ts).
  for (const file of ['package/installed', 'journeys/tour', 'journeys/workflow', 'gitops/ci-actions']) {
    assert.ok(reaches(join(repoRoot, 'test', `${file}.test.ts`), installed), file);
  }
  for (const file of ['template/api', 'stacks/merge', 'suite']) {
    assert.ok(!reaches(join(repoRoot, 'test', `${file}.test.ts`), installed), file);
  }
});
