/** Engine limits (issue 13): each hostile input ends quickly in an error naming the file and the limit. */
import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LimitError, readFileBounded } from '../../src/data/limits.ts';
import { StrataError } from '../../src/errors.ts';
import { type EngineOptions, loadEngine } from '../../src/stacks/index.ts';
import { runCli } from '../helpers/cli.ts';
import { ATMOS_YAML, ATMOS_YAML_TEMPLATES, makeRepo, withRepo } from './fixtures.ts';
import { BILLION_LAUGHS } from './hostile-inputs.ts';

const component = (vars: string[], extra: string[] = []) =>
  [
    'components:',
    '  terraform:',
    '    app:',
    ...extra.map((l) => `      ${l}`),
    '      vars:',
    ...vars.map((v) => `        ${v}`),
  ].join('\n');

/** The error (or the vars) of describing every instance, and how long it took. */
async function evaluate(
  files: Record<string, string>,
  atmos = ATMOS_YAML,
  options: EngineOptions = {},
): Promise<{ error?: StrataError; vars?: Record<string, unknown>; ms: number }> {
  return withRepo(
    files,
    async (repo) => {
      const started = Date.now();
      try {
        const engine = await loadEngine({ cwd: repo.dir, env: {}, ...options });
        const [instance] = await engine.instances();
        return { vars: instance?.description.vars as Record<string, unknown>, ms: Date.now() - started };
      } catch (error) {
        if (!(error instanceof StrataError)) throw error;
        return { error, ms: Date.now() - started };
      }
    },
    { atmos },
  );
}

test('a billion-laughs manifest fails at once with file:line and the limit, before anything expands it', async () => {
  assert.ok(BILLION_LAUGHS.length < 400);
  const { error, ms } = await evaluate({ 'stacks/deploy/prod.yaml': `${BILLION_LAUGHS}${component(['x: 1'])}` });
  assert.ok(error instanceof LimitError, String(error));
  assert.match(error.message, /prod\.yaml: the YAML expands to more than 2000000 values .*limits\.max_yaml_values/);
  assert.equal(error.location?.line, 2, 'the line of the first alias');
  assert.ok(ms < 2000, `${ms} ms`);
});

test('aliases within the budget still work; the budget is limits.max_yaml_values', async () => {
  const files = { 'stacks/deploy/prod.yaml': `base: &b {a: 1, b: 2}\n${component(['x: *b', 'y: *b'])}` };
  assert.deepEqual((await evaluate(files)).vars, { x: { a: 1, b: 2 }, y: { a: 1, b: 2 } });
  const tight = await evaluate(files, `${ATMOS_YAML}limits:\n  max_yaml_values: 5\n`);
  assert.match(tight.error?.message ?? '', /more than 5 values/);
});

test('a stack file over limits.max_file_bytes is refused, naming the file and the limit', async () => {
  const { error } = await evaluate(
    { 'stacks/deploy/prod.yaml': `${component(['x: 1'])}\n# ${'padding '.repeat(200)}\n` },
    `${ATMOS_YAML}limits:\n  max_file_bytes: 1000\n`,
  );
  assert.ok(error instanceof LimitError);
  assert.match(
    error.message,
    /stack manifest stacks\/deploy\/prod\.yaml is too large: \d+ bytes, over the limit of 1000 bytes \(limits\.max_file_bytes\)/,
  );
});

test('!include of a device or a huge file reads at most the limit and fails quickly', async () => {
  const atmos = `${ATMOS_YAML}limits:\n  include_outside_repository: true\n  max_file_bytes: 100000\n`;
  for (const target of ['/dev/zero', './big.txt']) {
    const { error, ms } = await evaluate(
      {
        'stacks/deploy/prod.yaml': component([`x: !include.raw ${target}`]),
        'stacks/deploy/big.txt': 'x'.repeat(200_000),
      },
      atmos,
    );
    assert.ok(error instanceof LimitError, `${target}: ${error}`);
    assert.match(error.message, /too large: .*limit of 100000 bytes \(limits\.max_file_bytes\)/);
    assert.equal(error.location?.file.endsWith('prod.yaml'), true);
    assert.ok(ms < 2000, `${target}: ${ms} ms`);
  }
  assert.throws(() => readFileBounded('/dev/zero', 10, 'zero'), /zero is too large: over the limit of 10 bytes/);
});

test('!include outside the repository is refused by default, allowed by limits.include_outside_repository, never in the controller', async () => {
  const files = { 'stacks/deploy/prod.yaml': component(['host: !include.raw /etc/hostname']) };
  const refused = await evaluate(files);
  assert.match(refused.error?.message ?? '', /!include.raw \/etc\/hostname: \/etc\/hostname is outside the repository/);
  assert.match(refused.error?.hint ?? '', /include_outside_repository/);
  const allowed = `${ATMOS_YAML}limits:\n  include_outside_repository: true\n`;
  assert.equal(typeof (await evaluate(files, allowed)).vars?.host, 'string');
  const controller = await evaluate(files, allowed, { context: 'controller' });
  assert.match(controller.error?.message ?? '', /outside the repository/);
  // A link inside the repository to a file outside it is outside too.
  await withRepo({ 'stacks/deploy/prod.yaml': component(['host: !include.raw ./link']) }, async (repo) => {
    symlinkSync('/etc/hostname', join(repo.dir, 'stacks/deploy/link'));
    await assert.rejects(
      async () => (await loadEngine({ cwd: repo.dir, env: {} })).instances(),
      /outside the repository/,
    );
  });
  // Inside the repository, as before.
  const inside = await evaluate({
    'stacks/deploy/prod.yaml': component(['x: !include ../../catalog/x.yaml', 'y: !include catalog/x.yaml .a']),
    'catalog/x.yaml': 'a: 1\n',
  });
  assert.deepEqual(inside.vars, { x: { a: 1 }, y: 1 });
});

test('template budgets: loops, output and time end in an error naming the component and the file', async () => {
  const cases: Array<[string, RegExp]> = [
    ['{{ range until 100000000 }}x{{ end }}', /more than 1000000 loop iterations .*limits\.max_template_iterations/],
    // Whichever runs out first: the iterations or the time.
    [
      '{{ range until 100000 }}{{ range until 100 }}{{ end }}{{ end }}',
      /limits\.(max_template_iterations|template_timeout_ms)/,
    ],
    ['{{ repeat 100000000 "ab" }}', /more than 8388608 characters \(limits\.max_template_output\)/],
    ['{{ strings.Repeat 400000000 "a" }}', /more than 8388608 characters \(limits\.max_template_output\)/],
    [
      '{{ regexMatch "^(a+)+$" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" }}',
      /longer than 300 ms \(limits\.template_timeout_ms\)/,
    ],
  ];
  for (const [template, expected] of cases) {
    const { error, ms } = await evaluate(
      { 'stacks/deploy/prod.yaml': component([`x: '${template}'`]) },
      `${ATMOS_YAML_TEMPLATES}limits:\n  template_timeout_ms: 300\n`,
    );
    assert.match(error?.message ?? '', expected, template);
    assert.match(error?.message ?? '', /deploy\/prod\/app/, 'names the stack and component');
    assert.match(error?.location?.file ?? '', /prod\.yaml$/, 'names the file');
    assert.ok(ms < 3000, `${template}: ${ms} ms`);
  }
});

test('a regex that could backtrack still gives Go-compatible results on ordinary input', async () => {
  const { vars } = await evaluate(
    {
      'stacks/deploy/prod.yaml': component([
        `a: '{{ regexReplaceAll "(a|ab)*c" "xabac-abc" "<$0>" }}'`,
        `b: '{{ regexFindAll "([a-z]+-?)+" "${'ab-'.repeat(30)} cd" -1 | len }}'`,
        `c: '{{ regexSplit "(x+)+" "axxbxc" -1 | join "," }}'`,
      ]),
    },
    ATMOS_YAML_TEMPLATES,
  );
  assert.deepEqual(vars, { a: 'x<abac>-<abc>', b: '2', c: 'a,b,c' });
});

function chain(count: number): Record<string, string> {
  const files: Record<string, string> = { 'stacks/deploy/prod.yaml': `import: [chain/c0]\n${component(['x: 1'])}` };
  for (let i = 0; i < count; i++)
    files[`stacks/chain/c${i}.yaml`] = `${i + 1 < count ? `import: [chain/c${i + 1}]\n` : ''}vars: {v${i}: ${i}}\n`;
  return files;
}

test('a 3,000-file import chain is a clear error naming the chain, not a RangeError; a deep legal chain works', async () => {
  const long = await evaluate(chain(3000));
  assert.ok(long.error instanceof LimitError, String(long.error));
  assert.match(long.error.message, /import chain longer than 200 files \(limits\.max_chain_depth\)/);
  assert.match(long.error.details ?? '', /stacks\/deploy\/prod\.yaml -> stacks\/chain\/c0\.yaml -> .*… \d+ more … -> /);
  assert.ok(long.ms < 5000, `${long.ms} ms`);
  const legal = await evaluate(chain(199));
  assert.equal(Object.keys(legal.vars ?? {}).length, 200);
});

test('deep inheritance: a legal chain works, one past limits.max_chain_depth is an error naming it', async () => {
  const inheriting = (count: number) => {
    const lines = ['components:', '  terraform:', '    b0:', '      metadata: {type: abstract}', '      vars: {v0: 0}'];
    for (let i = 1; i <= count; i++)
      lines.push(`    b${i}:`, `      metadata: {type: abstract, inherits: [b${i - 1}]}`, `      vars: {v${i}: ${i}}`);
    lines.push('    app:', `      metadata: {inherits: [b${count}]}`, '      vars: {x: 1}');
    return { 'stacks/deploy/prod.yaml': lines.join('\n') };
  };
  const withLimit = (n: number) => `${ATMOS_YAML}limits:\n  max_chain_depth: ${n}\n`;
  const legal = await withRepo(inheriting(150), async (repo) => {
    const engine = await loadEngine({ cwd: repo.dir, env: {} });
    return (await engine.instances({ component: 'app' }))[0].description.vars as Record<string, unknown>;
  });
  assert.equal(Object.keys(legal).length, 152);
  const { error } = await evaluate(inheriting(150), withLimit(100));
  assert.match(
    error?.message ?? '',
    /component inheritance deeper than 100 levels \(limits\.max_chain_depth\): b\d+ -> b\d+ -> b\d+ -> … ->/,
  );
});

test('!exec is shown, not run, when describing (context inspect) unless limits.exec_in_describe', async () => {
  await withRepo({ 'stacks/deploy/prod.yaml': component(['out: !exec touch ran && echo yes']) }, async (repo) => {
    const inspect = await loadEngine({ cwd: repo.dir, env: {}, context: 'inspect' });
    const [shown] = await inspect.instances();
    assert.equal(JSON.parse(JSON.stringify(shown.description.vars)).out, '!exec touch ran && echo yes');
    assert.equal(existsSync(join(repo.dir, 'ran')), false);
    const run = await loadEngine({ cwd: repo.dir, env: {} });
    assert.equal((await run.instances())[0].description.vars.out, 'yes');
    assert.equal(existsSync(join(repo.dir, 'ran')), true);
  });
  const asked = await evaluate(
    { 'stacks/deploy/prod.yaml': component(['out: !exec echo asked']) },
    `${ATMOS_YAML}limits:\n  exec_in_describe: true\n`,
    { context: 'inspect' },
  );
  assert.equal(asked.vars?.out, 'asked');
});

test('limits: in the configuration must be known keys with positive whole numbers', async () => {
  for (const [limits, expected] of [
    ['max_file_bytes: -1', /limits\.max_file_bytes must be a positive whole number/],
    ['max_file_byte: 10', /unknown key limits\.max_file_byte/],
    ['exec_in_describe: yes please', /limits\.exec_in_describe must be true or false/],
  ] as const) {
    const { error } = await evaluate(
      { 'stacks/deploy/prod.yaml': component(['x: 1']) },
      `${ATMOS_YAML}limits:\n  ${limits}\n`,
    );
    assert.match(error?.message ?? '', expected);
  }
});

test('describe (the CLI) shows !exec instead of running it; the controller refuses imports outside the repository', async () => {
  await withRepo({ 'stacks/deploy/prod.yaml': component(['out: !exec touch ran && echo yes']) }, (repo) => {
    const result = runCli(['describe', 'component', 'app', '-s', 'deploy/prod', '--format', 'json'], { cwd: repo.dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).vars.out, '!exec touch ran && echo yes');
    assert.equal(existsSync(join(repo.dir, 'ran')), false);
  });
  const outside = makeRepo({ 'shared.yaml': 'vars: {a: 1}\n' }, { atmos: null });
  try {
    const files = { 'stacks/deploy/prod.yaml': `import: [${relativeTo(outside.dir)}/shared]\n${component(['x: 1'])}` };
    assert.deepEqual((await evaluate(files)).vars, { a: 1, x: 1 }, 'the command line follows Atmos');
    const refused = await evaluate(files, ATMOS_YAML, { context: 'controller' });
    assert.match(refused.error?.message ?? '', /shared\.yaml is outside the repository/);
  } finally {
    outside.cleanup();
  }
});

test('a stacks folder that links elsewhere counts as inside the repository', async () => {
  const elsewhere = makeRepo(
    { 'deploy/prod.yaml': component(['x: !include ./values.yaml']), 'deploy/values.yaml': 'a: 1\n' },
    { atmos: null },
  );
  try {
    await withRepo({}, async (repo) => {
      symlinkSync(elsewhere.dir, join(repo.dir, 'stacks'));
      const engine = await loadEngine({ cwd: repo.dir, env: {} });
      assert.deepEqual((await engine.instances())[0].description.vars, { x: { a: 1 } });
    });
  } finally {
    elsewhere.cleanup();
  }
});

/** An import path from the stacks folder of a repository made by makeRepo to `dir`. */
function relativeTo(dir: string): string {
  return `../../../${dir.split('/').slice(-1)[0]}`;
}

test('5,000-level inheritance and 5,000-file import chains assemble (linear, no deep recursion) under a raised limit', async () => {
  const depth = 5000;
  const lines = [
    'components:',
    '  terraform:',
    '    b0:',
    '      metadata: {type: abstract}',
    '      vars: {level: 0, first: true}',
  ];
  for (let i = 1; i <= depth; i++)
    lines.push(`    b${i}:`, `      metadata: {type: abstract, inherits: [b${i - 1}]}`, `      vars: {level: ${i}}`);
  lines.push('    app:', `      metadata: {inherits: [b${depth}]}`);
  const files: Record<string, string> = { 'stacks/deploy/inherit.yaml': lines.join('\n') };
  files['stacks/deploy/imports.yaml'] = `import: [chain/c0]\n${component(['x: 1'])}`;
  for (let i = 0; i < depth; i++)
    files[`stacks/chain/c${i}.yaml`] =
      `${i + 1 < depth ? `import: [chain/c${i + 1}]\n` : ''}vars: {level: ${i}, c${i % 3}: ${i}}\n`;
  await withRepo(
    files,
    async (repo) => {
      const start = performance.now();
      const engine = await loadEngine({ cwd: repo.dir, env: {}, cache: false });
      const [app] = await engine.instances({ stack: 'deploy/inherit', component: 'app' });
      assert.deepEqual(app.description.vars, { level: depth, first: true });
      assert.equal((app.description.inheritance as string[]).length, depth + 1);
      const [imported] = await engine.instances({ stack: 'deploy/imports' });
      assert.deepEqual(imported.description.vars, { level: 0, c0: 0, c1: 1, c2: 2, x: 1 });
      const manifest = engine.manifests().find((m) => m.key === 'deploy/imports');
      assert.equal(manifest?.files.length, depth + 1);
      assert.equal(manifest?.files[0].depth, depth);
      const ms = performance.now() - start;
      assert.ok(ms < 20_000, `${ms} ms`);
    },
    { atmos: `${ATMOS_YAML}limits:\n  max_chain_depth: 10000\n` },
  );
});
