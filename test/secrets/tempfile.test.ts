import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withSecretFile } from '../../src/secrets/tempfile.ts';
import { repoRoot, TS_CHILD_ARGS } from '../helpers/shared.ts';
import { tempDir } from './helpers.ts';

test('the file is 0600 in a 0700 folder, and both are gone afterwards', async () => {
  let seen = '';
  const result = await withSecretFile(
    'top-secret\n',
    (path) => {
      seen = path;
      assert.equal(readFileSync(path, 'utf8'), 'top-secret\n');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
      assert.ok(path.endsWith('/vars.tfvars'));
      return 42;
    },
    { name: 'vars.tfvars' },
  );
  assert.equal(result, 42);
  assert.ok(!existsSync(seen));
  assert.ok(!existsSync(dirname(seen)));
});

test('removed when the callback throws; signal handlers are removed afterwards', async () => {
  const before = process.listenerCount('SIGINT');
  const beforeTerm = process.listenerCount('SIGTERM');
  let seen = '';
  await assert.rejects(
    withSecretFile('x', async (path) => {
      seen = path;
      assert.equal(process.listenerCount('SIGINT'), before + 1);
      throw new Error('tool failed');
    }),
    /tool failed/,
  );
  assert.ok(seen !== '' && !existsSync(dirname(seen)));
  assert.equal(process.listenerCount('SIGINT'), before);
  assert.equal(process.listenerCount('SIGTERM'), beforeTerm);
});

describe('interrupted processes', () => {
  let dir: string;
  let cleanup: () => void;
  let script: string;
  before(() => {
    ({ dir, cleanup } = tempDir());
    script = join(dir, 'child.mts');
    // The child prints the secret file's path, then waits (or exits) inside the callback.
    writeFileSync(
      script,
      [
        `import { withSecretFile } from ${JSON.stringify(join(repoRoot, 'src', 'secrets', 'tempfile.ts'))};`,
        `await withSecretFile('secret-in-child', (path) => new Promise(() => {`,
        `  console.log(path);`,
        `  if (process.argv[2] === 'exit') process.exit(3);`,
        `  setInterval(() => {}, 1000);`,
        `}));`,
      ].join('\n'),
    );
  });
  after(() => cleanup());

  function runChild(mode: 'wait' | 'exit', signal?: NodeJS.Signals) {
    return new Promise<{ path: string; code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      const child = spawn(process.execPath, [...TS_CHILD_ARGS, script, mode], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let path = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (!path && out.includes('\n')) {
          path = out.split('\n')[0];
          // The waiting child holds the file open until signalled; the exiting one may already be gone.
          if (signal) {
            assert.equal(readFileSync(path, 'utf8'), 'secret-in-child');
            child.kill(signal);
          }
        }
      });
      child.on('error', reject);
      child.on('exit', (code, sig) => resolve({ path, code, signal: sig }));
    });
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal}: the file is removed and the process still dies of the signal`, async () => {
      const result = await runChild('wait', signal);
      assert.ok(result.path.includes('strata-secret-'), result.path);
      assert.equal(result.signal, signal);
      assert.ok(!existsSync(result.path));
      assert.ok(!existsSync(dirname(result.path)));
    });
  }

  test('process.exit inside the callback: the file is removed', async () => {
    const result = await runChild('exit');
    assert.equal(result.code, 3);
    assert.ok(!existsSync(dirname(result.path)));
  });
});
