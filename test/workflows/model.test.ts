import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { StrataError } from '../../src/errors.ts';
import { formatCommand } from '../../src/exec/index.ts';
import { parseDuration, parseManifest, splitWords, withStack } from '../../src/workflows/index.ts';

test('formatCommand output splits back into the same words (any characters)', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'grapheme-ascii' }), { minLength: 1, maxLength: 6 }), (words) => {
      const [command, ...args] = words;
      assert.deepEqual(splitWords(formatCommand(command, args)), words);
    }),
    { numRuns: 300 },
  );
});

test('splitWords follows shell quoting (the Atmos fixture cases)', () => {
  assert.deepEqual(splitWords(`terraform plan --query '.settings.enabled == true' -s nonprod`), [
    'terraform',
    'plan',
    '--query',
    '.settings.enabled == true',
    '-s',
    'nonprod',
  ]);
  assert.deepEqual(splitWords('terraform plan mock -var="enabled=false" -var=\'foo=bar\''), [
    'terraform',
    'plan',
    'mock',
    '-var=enabled=false',
    '-var=foo=bar',
  ]);
  assert.deepEqual(splitWords('plan --query ".metadata.component == \\"mock\\""'), [
    'plan',
    '--query',
    '.metadata.component == "mock"',
  ]);
  assert.throws(() => splitWords(`echo 'open`), /unterminated single quote/);
});

test('withStack: the resolved stack replaces the command own -s and goes before --', () => {
  assert.deepEqual(
    withStack(splitWords('terraform plan mock --stack wrongstack -- -consolidate-warnings=false'), 'nonprod'),
    ['terraform', 'plan', 'mock', '-s', 'nonprod', '--', '-consolidate-warnings=false'],
  );
  assert.deepEqual(withStack(['terraform', 'plan', 'x', '-s=a', '--stack=b'], 'c'), [
    'terraform',
    'plan',
    'x',
    '-s',
    'c',
  ]);
  assert.deepEqual(withStack(['terraform', 'plan', 'x', '-s', 'a'], undefined), ['terraform', 'plan', 'x', '-s', 'a']);
  // After `--` everything belongs to the wrapped tool, even something that looks like -s.
  assert.deepEqual(withStack(['plan', 'x', '--', '-s', 'keep'], 'dev'), ['plan', 'x', '-s', 'dev', '--', '-s', 'keep']);
});

test('parseDuration', () => {
  assert.equal(parseDuration('30s', 't'), 30_000);
  assert.equal(parseDuration('5m', 't'), 300_000);
  assert.equal(parseDuration('1h30m', 't'), 5_400_000);
  assert.equal(parseDuration('250ms', 't'), 250);
  assert.equal(parseDuration(2, 't'), 2000);
  assert.equal(parseDuration('1.5', 't'), 1500);
  assert.throws(
    () => parseDuration('5 minutes', 'timeout of step x'),
    /invalid duration '5 minutes' for timeout of step x/,
  );
});

test('manifest: default step names, stack, needs, retry in both spellings, wait conditions', () => {
  const manifest = parseManifest(
    `workflows:
  deploy:
    description: Deploy
    stack: dev
    env: { A: "1" }
    steps:
      - command: terraform plan vpc
      - name: build
        type: shell
        command: make
        needs: []
        timeout: 2m
        retry: { max_attempts: 3, initial_delay: 100ms, backoff_strategy: exponential, max_delay: 1s }
      - type: wait
        until: { tcp: { host: 127.0.0.1, port: 5432 } }
        interval: 1s
        timeout: 30s
      - type: wait
        until: { http: { url: "http://127.0.0.1:8080/health", status: [200, 204] } }
`,
    '/x/deploy.yaml',
  );
  assert.deepEqual(manifest.names, ['deploy']);
  const wf = manifest.workflow('deploy');
  assert.deepEqual(
    wf.steps.map((s) => s.name),
    ['step1', 'build', 'step3', 'step4'],
  );
  assert.equal(wf.stack, 'dev');
  assert.equal(wf.steps[0].type, 'atmos');
  assert.equal(wf.steps[0].needs, undefined);
  assert.deepEqual(wf.steps[1].needs, []);
  assert.equal(wf.steps[1].timeoutMs, 120_000);
  assert.deepEqual(wf.steps[1].retry, {
    maxAttempts: 3,
    delayMs: 100,
    backoff: 'exponential',
    maxDelayMs: 1000,
    multiplier: 2,
    jitter: 0,
  });
  assert.deepEqual(wf.steps[2].wait, {
    until: { kind: 'tcp', host: '127.0.0.1', port: 5432 },
    intervalMs: 1000,
    timeoutMs: 30_000,
  });
  assert.deepEqual(wf.steps[3].wait?.until, { kind: 'http', url: 'http://127.0.0.1:8080/health', status: [200, 204] });
});

test('manifest errors point at the file and line', () => {
  const source = `workflows:
  ok:
    steps:
      - command: echo ok
        type: shell
  bad:
    steps:
      - command: echo
        tpye: shell
`;
  const manifest = parseManifest(source, '/x/w.yaml');
  // A broken workflow does not stop the others in the same file (as in Atmos).
  assert.equal(manifest.workflow('ok').steps.length, 1);
  assert.throws(
    () => manifest.workflow('bad'),
    (e: unknown) =>
      e instanceof StrataError &&
      /unknown key 'tpye'/.test(e.message) &&
      e.location?.line === 9 &&
      /type/.test(e.hint ?? ''),
  );
  assert.throws(
    () => parseManifest('workflows:\n  a:\n    steps:\n      - type: wait\n', '/x/w.yaml').workflow('a'),
    /wait step 'step1' has no condition/,
  );
  assert.throws(
    () => parseManifest('workflows: [\n', '/x/w.yaml'),
    (e: unknown) => e instanceof StrataError && e.location?.line !== undefined,
  );
  assert.throws(
    () =>
      parseManifest(
        'workflows:\n  a:\n    steps:\n      - name: x\n        command: a\n      - name: x\n        command: b\n',
        '/x/w.yaml',
      ).workflow('a'),
    /two steps named 'x'/,
  );
});
