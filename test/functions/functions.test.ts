import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { StrataError } from '../../src/errors.ts';
import { evaluateFunctions } from '../../src/functions/index.ts';
import { SecretRef } from '../../src/secrets/values.ts';
import { describeComponent } from '../../src/services/describe.ts';
import { loadEngine, YamlFunction } from '../../src/stacks/index.ts';
import { ATMOS_YAML_TEMPLATES, withRepo } from '../stacks/fixtures.ts';

const stack = (vars: string[], extra: string[] = []) =>
  [
    'components:',
    '  terraform:',
    '    app:',
    ...extra.map((l) => `      ${l}`),
    '      vars:',
    ...vars.map((v) => `        ${v}`),
  ].join('\n');

async function vars(files: Record<string, string>, atmos?: string): Promise<Record<string, unknown>> {
  return withRepo(
    files,
    async (repo) =>
      (await describeComponent(await repo.engine(), 'app', 'deploy/prod')).description.vars as Record<string, unknown>,
    atmos ? { atmos } : {},
  );
}

test('!env: the merged env section first, then the OS environment, then the default, else null', async () => {
  process.env.STRATA_FN_TEST_OS = 'from-os';
  process.env.STRATA_FN_TEST_BOTH = 'from-os';
  try {
    const result = await vars({
      'stacks/deploy/prod.yaml': `env: {STRATA_FN_TEST_BOTH: from-stack}\n${stack([
        'os: !env STRATA_FN_TEST_OS',
        'both: !env STRATA_FN_TEST_BOTH',
        'fallback: !env STRATA_FN_TEST_UNSET "the default"',
        'none: !env STRATA_FN_TEST_UNSET',
      ])}`,
    });
    assert.deepEqual(result, { os: 'from-os', both: 'from-stack', fallback: 'the default', none: null });
  } finally {
    delete process.env.STRATA_FN_TEST_OS;
    delete process.env.STRATA_FN_TEST_BOTH;
  }
});

test('!env of a secret-like name set in the environment is a secret reference, masked; others stay plain', async () => {
  process.env.STRATA_FN_TEST_API_TOKEN = 'fn-test-token-value';
  process.env.STRATA_FN_TEST_DB_PASSWORD = 'from-os';
  try {
    const result = await vars({
      'stacks/deploy/prod.yaml': `env: {STRATA_FN_TEST_DB_PASSWORD: from-stack}\n${stack([
        'token: !env STRATA_FN_TEST_API_TOKEN',
        'unset: !env STRATA_FN_TEST_UNSET_TOKEN fallback',
        'written: !env STRATA_FN_TEST_DB_PASSWORD',
      ])}`,
    });
    assert.ok(result.token instanceof SecretRef);
    assert.equal(JSON.stringify(result.token), '"*** (secret from env:STRATA_FN_TEST_API_TOKEN)"');
    assert.equal(await (result.token as SecretRef).resolve(), 'fn-test-token-value');
    // Unset: !env's usual default. Set in the stack's own env: section: plain text in the repository already.
    assert.equal(result.unset, 'fallback');
    assert.equal(result.written, 'from-stack');
  } finally {
    delete process.env.STRATA_FN_TEST_API_TOKEN;
    delete process.env.STRATA_FN_TEST_DB_PASSWORD;
  }
});

test('!exec: runs a shell command in base_path; JSON output is decoded, other output is text', async () => {
  const result = await vars({
    'stacks/deploy/prod.yaml': stack([
      `json: !exec 'echo "{\\"a\\": [1, 2], \\"b\\": true}"'`,
      'text: !exec printf "hello world"',
      'where: !exec cat marker.txt',
    ]),
    'marker.txt': 'at the base path\n',
  });
  assert.deepEqual(result, { json: { a: [1, 2], b: true }, text: 'hello world', where: 'at the base path' });
});

test('!exec: a failing command is a StrataError naming the function, the component and the file', async () => {
  await withRepo({ 'stacks/deploy/prod.yaml': stack(['bad: !exec echo oops >&2; exit 3']) }, async (repo) => {
    await assert.rejects(describeComponent(await repo.engine(), 'app', 'deploy/prod'), (error: unknown) => {
      assert.ok(error instanceof StrataError);
      assert.match(error.message, /!exec echo oops.*component 'app'.*exited with code 3/);
      assert.match(error.location?.file ?? '', /deploy\/prod\.yaml$/);
      assert.match(error.hint ?? '', /oops/);
      return true;
    });
  });
});

test('!include: YAML, JSON and other files, raw text, a query; ./ relative to the manifest, others to base_path', async () => {
  const result = await vars({
    'stacks/deploy/data.yaml': 'net: {cidr: 10.0.0.0/16, zones: [a, b]}\n',
    'stacks/deploy/data.json': '{"ports": [80, 443]}',
    'files/motd.txt': 'welcome\n',
    'stacks/deploy/prod.yaml': stack([
      'yaml: !include ./data.yaml',
      'json: !include ./data.json',
      'text: !include files/motd.txt',
      'raw: !include.raw ./data.json',
      'query: !include ./data.yaml .net.zones[1]',
    ]),
  });
  assert.deepEqual(result, {
    yaml: { net: { cidr: '10.0.0.0/16', zones: ['a', 'b'] } },
    json: { ports: [80, 443] },
    text: 'welcome\n',
    raw: '{"ports": [80, 443]}',
    query: 'b',
  });
});

test('!include: a missing file names the manifest and the line', async () => {
  await withRepo({ 'stacks/deploy/prod.yaml': stack(['x: !include ./nope.yaml']) }, async (repo) => {
    await assert.rejects((await repo.engine()).instances(), (error: unknown) => {
      assert.ok(error instanceof StrataError);
      assert.match(error.message, /!include \.\/nope\.yaml in stacks\/deploy\/prod\.yaml: file not found/);
      assert.equal(error.location?.line, 5);
      return true;
    });
  });
});

test('!include: invalid JSON is a StrataError naming the manifest and the included file', async () => {
  await withRepo(
    { 'stacks/deploy/bad.json': '{"a": ', 'stacks/deploy/prod.yaml': stack(['x: !include ./bad.json']) },
    async (repo) => {
      await assert.rejects((await repo.engine()).instances(), (error: unknown) => {
        assert.ok(error instanceof StrataError, String(error));
        assert.match(
          error.message,
          /!include \.\/bad\.json in stacks\/deploy\/prod\.yaml: invalid JSON in .*bad\.json/,
        );
        assert.equal(error.location?.line, 5);
        return true;
      });
    },
  );
});

test('!template renders with the component section and decodes JSON; !literal keeps text as written', async () => {
  const result = await vars(
    {
      'stacks/deploy/prod.yaml': stack([
        'zones: [a, b]',
        "list: !template '{{ toJson .vars.zones }}'",
        "name: !template '{{ .atmos_component }}-{{ .vars.zones | len }}'",
        'kept: !literal "{{ .not_rendered }}"',
      ]),
    },
    ATMOS_YAML_TEMPLATES,
  );
  assert.deepEqual(result, { zones: ['a', 'b'], list: ['a', 'b'], name: 'app-2', kept: '{{ .not_rendered }}' });
});

test('!unset and !append through imports; the component wins over its base', async () => {
  const result = await vars({
    'stacks/catalog/base.yaml': 'vars: {tags: [base], gone: 1, kept: 1}\n',
    'stacks/deploy/prod.yaml': `import: [catalog/base]\n${stack(['tags: !append [mine]', 'gone: !unset'])}`,
  });
  assert.deepEqual(result, { tags: ['base', 'mine'], kept: 1 });
});

test('!terraform.output and !terraform.state without a resolver fail with an error naming the function', async () => {
  await withRepo({}, async (repo) => {
    const context = {
      config: loadConfig({ cwd: repo.dir, env: {} }),
      section: {},
      stack: 'prod',
      component: 'app',
      kind: 'terraform',
    };
    const file = `${repo.dir}/stacks/deploy/prod.yaml`;
    for (const fn of [
      new YamlFunction('terraform.output', 'vpc vpc_id', file),
      new YamlFunction('terraform.state', 'vpc deploy/dev .subnets[0]', file),
    ]) {
      await assert.rejects(evaluateFunctions({ value: fn }, context), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.ok(error.message.startsWith(`${fn.toString()} in component 'app' (stack 'prod')`), error.message);
        assert.match(error.message, /nothing here resolves Terraform outputs/);
        assert.match(error.hint ?? '', /openEngine|resolvers\.terraformOutput/);
        assert.equal(error.location?.file, file);
        return true;
      });
    }
    // The arguments are checked first.
    await assert.rejects(
      evaluateFunctions(new YamlFunction('terraform.output', 'vpc', file), context),
      (error: unknown) => error instanceof StrataError && /expected 2 or 3 arguments/.test(error.message),
    );
  });
});

test('!terraform.output asks the resolver the engine was given, with the stack defaulting to the current one', async () => {
  const files = {
    'stacks/deploy/prod.yaml': stack([
      'vpc_id: !terraform.output vpc vpc_id',
      'subnet: !terraform.state vpc dev .subnets[0]',
    ]),
  };
  await withRepo(files, async (repo) => {
    const asked: unknown[] = [];
    const engine = await loadEngine({
      cwd: repo.dir,
      env: {},
      resolvers: {
        async terraformOutput(given, ref, mode) {
          assert.equal(given, engine);
          asked.push({ ...ref, mode });
          return `${mode}:${ref.component}@${ref.stack}`;
        },
      },
    });
    const { description } = await describeComponent(engine, 'app', 'deploy/prod');
    assert.deepEqual(description.vars, { vpc_id: 'output:vpc@deploy/prod', subnet: 'state:vpc@dev' });
    assert.deepEqual(asked, [
      { component: 'vpc', stack: 'deploy/prod', expression: 'vpc_id', mode: 'output' },
      { component: 'vpc', stack: 'dev', expression: '.subnets[0]', mode: 'state' },
    ]);
    // An engine opened without resolvers says what is missing instead of failing somewhere deeper.
    await assert.rejects(
      describeComponent(await loadEngine({ cwd: repo.dir, env: {} }), 'app', 'deploy/prod'),
      /!terraform\.output vpc vpc_id in component 'app' \(stack 'deploy\/prod'\): nothing here resolves Terraform outputs/,
    );
  });
});

test('processFunctions: false leaves every function unevaluated', async () => {
  await withRepo({ 'stacks/deploy/prod.yaml': stack(['home: !env HOME']) }, async (repo) => {
    const engine = await repo.engine({ processFunctions: false });
    const { description } = await describeComponent(engine, 'app', 'deploy/prod');
    assert.equal(JSON.parse(JSON.stringify(description.vars)).home, '!env HOME');
  });
});
