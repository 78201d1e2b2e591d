import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadEngine } from '../../src/stacks/index.ts';
import { runCli } from '../helpers/cli.ts';
import { withRepo } from '../stacks/fixtures.ts';

/** `count` components in one stack, each with `refs` references to the same call. */
function manyReferences(count: number, value: string, refs = 1): string {
  const lines = ['components:', '  terraform:'];
  for (let i = 0; i < count; i++) {
    lines.push(`    app${i}:`, '      vars:');
    for (let r = 0; r < refs; r++) lines.push(`        v${r}: ${value}`);
  }
  return lines.join('\n');
}

test('!exec: 50 references to one command in a stack run it once (the script appends one line)', async () => {
  await withRepo(
    {
      'stacks/deploy/prod.yaml': manyReferences(10, '!exec   sh ./count.sh', 5),
      'stacks/deploy/dev.yaml': manyReferences(2, '!exec sh ./count.sh'),
      'count.sh': 'echo called >> calls.log\necho 42\n',
    },
    async (repo) => {
      const engine = await loadEngine({ cwd: repo.dir, env: {} });
      const prod = await engine.instances({ stack: 'deploy/prod' });
      assert.equal(prod.length, 10);
      for (const instance of prod)
        assert.deepEqual(instance.description.vars, { v0: 42, v1: 42, v2: 42, v3: 42, v4: 42 });
      const lines = () => readFileSync(join(repo.dir, 'calls.log'), 'utf8').trim().split('\n').length;
      assert.equal(lines(), 1);
      assert.deepEqual(
        { evaluated: engine.calls.evaluated, reused: engine.calls.reused },
        { evaluated: 1, reused: 49 },
      );
      // Another stack is another call (the key holds the stack); the same engine never runs either again.
      await engine.instances();
      assert.equal(lines(), 2);
      assert.equal(engine.calls.evaluated, 2);
    },
  );
});

test('!terraform.output and !terraform.state: each distinct call reaches the resolver once per engine', async () => {
  await withRepo(
    {
      'stacks/deploy/prod.yaml': [
        manyReferences(20, '!terraform.output vpc id'),
        '    other:',
        '      vars:',
        '        a: !terraform.state vpc id',
        '        b: !terraform.state vpc id',
        '        c: !terraform.output vpc deploy/prod id',
        '        d: !terraform.output vpc cidr',
      ].join('\n'),
    },
    async (repo) => {
      const calls: string[] = [];
      const engine = await loadEngine({
        cwd: repo.dir,
        env: {},
        resolvers: {
          async terraformOutput(_engine, ref, mode) {
            calls.push(`${mode} ${ref.component} ${ref.stack} ${ref.expression}`);
            return `${mode}:${ref.expression}`;
          },
        },
      });
      const instances = await engine.instances();
      assert.equal(instances.find((i) => i.name === 'app7')?.description.vars?.v0, 'output:id');
      assert.deepEqual(instances.find((i) => i.name === 'other')?.description.vars, {
        a: 'state:id',
        b: 'state:id',
        c: 'output:id',
        d: 'output:cidr',
      });
      // `vpc id` in deploy/prod and `vpc deploy/prod id` are one call.
      assert.deepEqual(calls.sort(), [
        'output vpc deploy/prod cidr',
        'output vpc deploy/prod id',
        'state vpc deploy/prod id',
      ]);
      assert.equal(engine.calls.evaluated, 3);
      assert.equal(engine.calls.reused, 21);
    },
  );
});

test('atmos.Component: one render per component and stack, however many templates ask for it', async () => {
  const atmos = `base_path: "."\ncomponents:\n  terraform:\n    base_path: components/terraform\nstacks:\n  base_path: stacks\n  included_paths: ["deploy/**/*"]\ntemplates:\n  settings:\n    enabled: true\n`;
  await withRepo(
    {
      'stacks/deploy/prod.yaml': [
        'components:',
        '  terraform:',
        '    vpc:',
        '      vars: {cidr: 10.0.0.0/16}',
        manyReferences(5, `'{{ (atmos.Component "vpc" "deploy/prod").vars.cidr }}'`, 2).split('\n').slice(2).join('\n'),
      ].join('\n'),
    },
    async (repo) => {
      const engine = await loadEngine({ cwd: repo.dir, env: {} });
      const app = await engine.describeComponent('app3', 'deploy/prod');
      assert.deepEqual(app.description.vars, { v0: '10.0.0.0/16', v1: '10.0.0.0/16' });
      await engine.instances();
      assert.deepEqual({ evaluated: engine.calls.evaluated, reused: engine.calls.reused }, { evaluated: 1, reused: 9 });
    },
    { atmos },
  );
});

test('--verbose prints the count of calls evaluated and reused on standard error', async () => {
  await withRepo(
    {
      'stacks/deploy/prod.yaml': manyReferences(3, '!exec sh ./count.sh', 2),
      'count.sh': 'echo called >> calls.log\necho 1\n',
      'atmos.yaml': `base_path: "."\ncomponents:\n  terraform:\n    base_path: components/terraform\nstacks:\n  base_path: stacks\n  included_paths: ["deploy/**/*"]\nlimits:\n  exec_in_describe: true\n`,
    },
    (repo) => {
      const result = runCli(['describe', 'stacks', '--format', 'json', '--verbose'], { cwd: repo.dir });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /calls with outside effects evaluated 1, reused 5/);
      assert.equal(readFileSync(join(repo.dir, 'calls.log'), 'utf8'), 'called\n');
    },
    { atmos: null },
  );
});
