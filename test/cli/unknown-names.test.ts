// Unknown names in filters are usage errors with a did-you-mean (exit 2), never an empty result with exit 0.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cliEnv, makeRepo } from '../components/fixture.ts';
import { runCli } from '../helpers/cli.ts';

const repo = makeRepo('names', { components: { terraform: { network: { vars: { name: 'n' } } } } });
after(() => repo.cleanup());
const run = (args: string[]) => runCli(args, { cwd: repo.path, env: cliEnv() });

test('describe stacks --sections varz: exit 2, did you mean vars', () => {
  const result = run(['describe', 'stacks', '--sections', 'varz']);
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /unknown section 'varz' for --sections/);
  assert.match(result.stderr, /Did you mean 'vars'\?/);
  const known = run(['describe', 'stacks', '--sections', 'vars', '--format', 'json']);
  assert.equal(known.code, 0, known.stderr);
  assert.deepEqual(JSON.parse(known.stdout), {
    dev: { components: { terraform: { network: { vars: { name: 'n', stage: 'dev' } } } } },
  });
});

test('list stacks -c netwrk: exit 2, did you mean network; a known component lists its stacks', () => {
  const result = run(['list', 'stacks', '-c', 'netwrk']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /unknown component 'netwrk' for --component/);
  assert.match(result.stderr, /Did you mean 'network'\?/);
  const known = run(['list', 'stacks', '-c', 'network']);
  assert.equal(known.code, 0, known.stderr);
  assert.equal(known.stdout.trim(), 'dev');
});
