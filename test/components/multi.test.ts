// `strata terraform plan --all | --components` with the real terraform: dependency order, parallelism, summary,
// and the measured throughput of --max-concurrency 4 (20 components) over 1 (five of them).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { cliEnv, makeRepo } from './fixture.ts';

const TINY_TF = `variable "name" {
  type = string
}

resource "terraform_data" "this" {
  input = var.name
}

output "name" {
  value = terraform_data.this.output
}
`;

/** c00 <- c01..c04 <- c05..c12 <- c13..c19: levels of 1, 4, 8 and 7 components. */
function needsOf(i: number): number[] {
  if (i === 0) return [];
  if (i <= 4) return [0];
  if (i <= 12) return [1 + ((i - 5) % 4)];
  return [5 + ((i - 13) % 8)];
}

const names = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`);
const components: Record<string, unknown> = {};
const files: Record<string, string> = {};
names.forEach((name, i) => {
  const needs = needsOf(i).map((n) => names[n]);
  // Both Atmos spellings: the legacy settings.depends_on map and dependencies.components.
  components[name] =
    i % 2 === 0
      ? { vars: { name }, settings: { depends_on: Object.fromEntries(needs.map((n, k) => [k + 1, { component: n }])) } }
      : { vars: { name }, dependencies: { components: needs.map((n) => ({ component: n })) } };
  files[`components/terraform/${name}/main.tf`] = TINY_TF;
});
files['components/terraform/broken/main.tf'] = 'resource "terraform_data" "x" {\n  input = var.nope\n}\n';

const repo = makeRepo(
  'multi',
  {
    __stacks: {
      dev: { components: { terraform: components } },
      bad: {
        components: {
          terraform: {
            broken: {},
            after: {
              metadata: { component: 'c00' },
              vars: { name: 'a' },
              settings: { depends_on: { 1: { component: 'broken' } } },
            },
            independent: { metadata: { component: 'c01' }, vars: { name: 'i' } },
          },
        },
      },
    },
  },
  files,
);
after(() => repo.cleanup());

interface Summary {
  results: Array<{ component: string; result: string; add?: number; startedMs: number; durationMs: number }>;
  exitCode: number;
  durationMs: number;
}

/** Plans `selected` (every component with --all, else through --components) in stack dev. */
function planAll(concurrency: number, selected: string[] = names): { summary: Summary; log: string } {
  const which = selected === names ? ['--all'] : ['--components', selected.join(',')];
  const result = runCli(
    [
      'terraform',
      'plan',
      ...which,
      '-s',
      'dev',
      '--max-concurrency',
      String(concurrency),
      '--format',
      'json',
      '--output',
      'grouped',
    ],
    {
      cwd: repo.path,
      env: cliEnv(),
    },
  );
  assert.equal(result.code, 0, result.stderr.slice(-3000));
  return { summary: JSON.parse(result.stdout) as Summary, log: result.stderr };
}

const overlaps = (summary: Summary) =>
  summary.results.some((a) =>
    summary.results.some((b) => a !== b && b.startedMs >= a.startedMs && b.startedMs < a.startedMs + a.durationMs),
  );

/** c00, then c01..c04: four components free to run together once c00 is done. */
const SERIAL = names.slice(0, 5);

test('plan --all on 20 components: dependency order, grouped output, counts; speed-up of 4 over 1', async (t) => {
  const parallel = planAll(4);
  // One at a time is shown on c00..c04 (c01..c04 are independent: any overlap among them fails below);
  // the other fifteen would only repeat the same serial wait.
  const serial = planAll(1, SERIAL);
  for (const [{ summary, log }, planned] of [
    [parallel, names],
    [serial, SERIAL],
  ] as const) {
    assert.deepEqual(summary.results.map((r) => r.component).sort(), [...planned]);
    for (const r of summary.results) {
      assert.equal(r.result, 'succeeded');
      assert.equal(r.add, 1, `${r.component} plans one resource`);
    }
    // Every component starts after the components it needs finished.
    const byName = new Map(summary.results.map((r) => [r.component, r]));
    planned.forEach((name) => {
      for (const need of needsOf(names.indexOf(name))) {
        const before = byName.get(names[need]);
        const me = byName.get(name);
        assert.ok(before && me && me.startedMs >= before.startedMs + before.durationMs, `${name} after ${names[need]}`);
      }
    });
    // Grouped: each component's block is contiguous (its header, then only its own lines).
    const headers = [...log.matchAll(/^==> (c\d\d) \(stack dev\): terraform plan$/gm)].map((m) => m[1]);
    assert.equal(headers.length, planned.length);
  }
  assert.equal(overlaps(serial.summary), false, '--max-concurrency 1 runs one at a time');
  assert.equal(overlaps(parallel.summary), true, '--max-concurrency 4 runs independent components together');
  // Throughput (components per second), as the two runs plan different numbers of components.
  const perComponent = (summary: Summary) => summary.durationMs / summary.results.length / 1000;
  const speedup = perComponent(serial.summary) / perComponent(parallel.summary);
  const line = `plan --all: --max-concurrency 1 ${perComponent(serial.summary).toFixed(2)} s per component (${
    SERIAL.length
  }), 4 ${perComponent(parallel.summary).toFixed(2)} s per component (${names.length}), speed-up x${speedup.toFixed(2)}`;
  t.diagnostic(line);
  process.stderr.write(`${line}\n`);
});

test('--components runs only those (a dependency outside the selection is not run); table summary', () => {
  const result = runCli(['terraform', 'plan', '--components', 'c05,c01', '-s', 'dev'], {
    cwd: repo.path,
    env: cliEnv(),
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /COMPONENT\s+STACK\s+RESULT\s+ADD\s+CHANGE\s+DESTROY\s+DURATION/);
  assert.match(result.stdout, /^c05\s+dev\s+succeeded\s+1\s+0\s+0\s+\d+\.\ds$/m);
  assert.match(result.stdout, /2 component\(s\): 2 succeeded/);
  // Live (the default): every line prefixed with its plain stack/component label (no terminal here).
  assert.match(result.stdout, /^dev\/c01 \| ==> terraform plan$/m);
  assert.match(result.stdout, /^dev\/c05 \| .*Plan: 1 to add/m);
  // c01 is planned before c05, which needs it.
  assert.ok(result.stdout.indexOf('dev/c01 | <== succeeded') < result.stdout.indexOf('dev/c05 | ==> terraform plan'));
  assert.doesNotMatch(result.stdout, /dev\/c00/);
});

test('--output grouped keeps each component block whole under a header; a bad --output is a usage error', () => {
  const result = runCli(['terraform', 'plan', '--components', 'c05,c01', '-s', 'dev', '--output', 'grouped'], {
    cwd: repo.path,
    env: cliEnv(),
  });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stdout.indexOf('==> c01 (stack dev)') < result.stdout.indexOf('==> c05 (stack dev)'));
  assert.doesNotMatch(result.stdout, /^dev\/c0\d \| /m);
  const bad = runCli(['terraform', 'plan', '--components', 'c01', '-s', 'dev', '--output', 'tree'], {
    cwd: repo.path,
    env: cliEnv(),
  });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid --output 'tree'/);
});

test('a failure skips its dependents; --continue-on-error keeps independent ones; exit code 1', () => {
  const result = runCli(['terraform', 'plan', '--all', '-s', 'bad', '--continue-on-error', '--format', 'json'], {
    cwd: repo.path,
    env: cliEnv(),
  });
  assert.equal(result.code, 1, result.stderr);
  const summary = JSON.parse(result.stdout) as Summary;
  const outcome = Object.fromEntries(summary.results.map((r) => [r.component, r.result]));
  assert.deepEqual(outcome, { broken: 'failed', after: 'skipped', independent: 'succeeded' });
  assert.match(result.stderr, /var\.nope|undeclared/i);
});
