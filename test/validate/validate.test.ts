import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { validateComponent, validateStacks } from '../../src/services/validate.ts';
import { parseHclType, typeMismatch } from '../../src/validate/variables.ts';
import { withRepo } from '../stacks/fixtures.ts';

const VARIABLES_TF = `
variable "name" {
  type = string
}
variable "cores" {
  type    = number
  default = 2
}
variable "enabled" {
  type    = bool
  default = true
}
variable "tags" {
  type    = list(string)
  default = []
}
variable "labels" {
  type    = map(string)
  default = {}
}
variable "node" {
  type = object({
    host    = string
    port    = optional(number, 22)
    disks   = optional(list(object({ size = number })), [])
  })
  default = null
}
variable "anything" {
  default = null
}
`;

const component = (vars: Record<string, unknown>) =>
  `components:\n  terraform:\n    vm:\n      vars: ${JSON.stringify(vars)}\n`;

async function problemsFor(vars: Record<string, unknown>) {
  return withRepo(
    { 'components/terraform/vm/variables.tf': VARIABLES_TF, 'stacks/deploy/prod.yaml': component(vars) },
    async (repo) => validateStacks(await repo.engine()),
  );
}

test('validate stacks: values that match the declared variables give no problem', async () => {
  const problems = await problemsFor({
    name: 'vm1',
    cores: '4', // Terraform converts number strings
    enabled: 'false',
    tags: ['a', 1],
    labels: { a: 'b', n: 1 },
    node: { host: 'h', disks: [{ size: 10 }] },
    anything: { free: ['form'] },
  });
  assert.deepEqual(problems, []);
});

test('validate stacks: an undeclared var is a warning with did-you-mean', async () => {
  const problems = await problemsFor({ name: 'x', core: 4 });
  assert.equal(problems.length, 1);
  assert.equal(problems[0].severity, 'warning');
  assert.match(problems[0].message, /vm@deploy\/prod: vars\.core is not declared/);
  assert.equal(problems[0].hint, "Did you mean 'cores'?");
});

test('validate stacks: a required variable without a value is an error', async () => {
  const problems = await problemsFor({ cores: 1 });
  assert.equal(problems.length, 1);
  assert.equal(problems[0].severity, 'error');
  assert.match(problems[0].message, /required variable 'name' has no value/);
  assert.match(problems[0].hint ?? '', /set vars\.name/);
});

test('validate stacks: type mismatches for string, number, bool, list, map and object', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: ['a'] }, /vars\.name: expected a string, got a list/],
    [{ cores: 'four' }, /vars\.cores: expected a number, got string "four"/],
    [{ enabled: 'yes' }, /vars\.enabled: expected a bool/],
    [{ tags: 'a,b' }, /vars\.tags: expected a list/],
    [{ tags: [{ a: 1 }] }, /vars\.tags: expected a string at \[0\], got a map/],
    [{ labels: ['x'] }, /vars\.labels: expected a map/],
    [{ node: { port: 22 } }, /vars\.node: attribute 'host' is required/],
    [{ node: { host: 'h', port: 'ssh' } }, /expected a number at \.port/],
    [{ node: { host: 'h', disks: [{ size: 'big' }] } }, /expected a number at \.disks\[0\]\.size/],
  ];
  for (const [vars, expected] of cases) {
    const problems = await problemsFor({ name: 'x', ...vars });
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0].severity, 'error');
    assert.match(problems[0].message, expected);
    assert.match(problems[0].message, /declared type .* in .*variables\.tf/);
  }
});

test('HCL types: parsing and conversion rules of nested types with optional attributes', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: hcl2json gives type constraints as ${...} interpolations
  const type = parseHclType('${map(object({ a = string, b = optional(list(number), [1, 2]) }))}');
  assert.equal(typeMismatch({ k: { a: 'x' } }, type), undefined);
  assert.equal(typeMismatch({ k: { a: 'x', b: [1, '2'] } }, type), undefined);
  assert.match(typeMismatch({ k: { a: 'x', b: ['z'] } }, type) ?? '', /expected a number at \.k\.b\[0\]/);
  assert.equal(typeMismatch('{{ .vars.x }}', parseHclType('number')), undefined, 'templates are not checked');
  assert.throws(() => parseHclType('list(strin)'), /unknown type 'strin'/);
});

test('validate stacks: a missing component folder is a warning; abstract and disabled components are not checked', async () => {
  const problems = await withRepo(
    {
      'components/terraform/vm/variables.tf': VARIABLES_TF,
      'stacks/deploy/prod.yaml': [
        'components:',
        '  terraform:',
        '    base: {metadata: {type: abstract, component: vm}, vars: {nope: 1}}',
        '    off: {metadata: {component: vm, enabled: false}}',
        '    vms: {vars: {anything: 1}}',
      ].join('\n'),
    },
    async (repo) => validateStacks(await repo.engine()),
  );
  // `vms` has no folder: only that is reported (seed properties 4 and 12), as a warning.
  assert.deepEqual(
    problems.map((p) => [p.severity, p.component, p.hint]),
    [['warning', 'vms', "Did you mean 'vm'?"]],
  );
  assert.match(problems[0].message, /the terraform component folder 'vms' does not exist in components\/terraform/);
  assert.match(problems[0].file ?? '', /stacks\/deploy\/prod\.yaml$/);
});

const SCHEMA_07 = JSON.stringify({
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { vars: { type: 'object', required: ['name'], properties: { cores: { type: 'integer', minimum: 1 } } } },
});
const SCHEMA_2020 = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    vars: { type: 'object', properties: { tags: { type: 'array', prefixItems: [{ const: 'first' }] } } },
  },
});

function schemaRepo(vars: Record<string, unknown>) {
  return {
    'schemas/vm-07.json': SCHEMA_07,
    'schemas/vm-2020.json': SCHEMA_2020,
    'stacks/deploy/prod.yaml': [
      'components:',
      '  terraform:',
      '    vm:',
      `      vars: ${JSON.stringify(vars)}`,
      '      settings:',
      '        validation:',
      '          draft7: {schema_type: jsonschema, schema_path: vm-07.json}',
      '          draft2020: {schema_type: jsonschema, schema_path: vm-2020.json}',
      '          old: {schema_type: jsonschema, schema_path: missing.json, disabled: true}',
      '          policy: {schema_type: opa, schema_path: vm.rego}',
    ].join('\n'),
  };
}

test('validate component: JSON Schema draft-07 and 2020-12 pass; OPA is reported as skipped', async () => {
  await withRepo(schemaRepo({ name: 'a', cores: 2, tags: ['first', 'x'] }), async (repo) => {
    const results = await validateComponent(await repo.engine(), 'vm', 'deploy/prod');
    assert.deepEqual(
      results.map((r) => [r.name, r.ok, r.errors]),
      [
        ['draft7', true, []],
        ['draft2020', true, []],
        ['policy', true, []],
      ],
    );
    assert.match(results[2].skipped ?? '', /opa/);
  });
});

test('validate component: failures list each schema error with its path', async () => {
  await withRepo(schemaRepo({ cores: 0, tags: ['second'] }), async (repo) => {
    const results = await validateComponent(await repo.engine(), 'vm', 'deploy/prod');
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    assert.equal(byName.draft7.ok, false);
    assert.deepEqual(byName.draft7.errors.sort(), [
      "/vars must have required property 'name'",
      '/vars/cores must be >= 1',
    ]);
    assert.equal(byName.draft2020.ok, false);
    assert.deepEqual(byName.draft2020.errors, ['/vars/tags/0 must be equal to constant']);
    // --schema-path: one schema given on the command line instead of settings.validation.
    const adhoc = await validateComponent(await repo.engine(), 'vm', 'deploy/prod', {
      schemaPath: 'vm-2020.json',
      schemaType: 'jsonschema',
    });
    assert.deepEqual(
      adhoc.map((r) => r.ok),
      [false],
    );
  });
});

test('validate component: a missing schema file is a StrataError with a hint', async () => {
  await withRepo(schemaRepo({ name: 'a' }), async (repo) => {
    await assert.rejects(
      validateComponent(await repo.engine(), 'vm', 'deploy/prod', {
        schemaPath: 'nope.json',
        schemaType: 'jsonschema',
      }),
      (error: unknown) =>
        error instanceof StrataError &&
        /schema file .* not found/.test(error.message) &&
        /base_path/.test(error.hint ?? ''),
    );
  });
});

test('validate stacks --stack: only that stack; a misspelt name is reported, not silently valid', async () => {
  await withRepo(
    {
      'components/terraform/vm/variables.tf': VARIABLES_TF,
      'stacks/deploy/prod.yaml': component({ name: 'ok' }),
      'stacks/deploy/dev.yaml': component({ cores: 'many' }),
    },
    async (repo) => {
      const engine = await repo.engine();
      assert.deepEqual(await validateStacks(engine, { stack: 'deploy/prod' }), []);
      assert.equal((await validateStacks(engine, { stack: 'deploy/dev' })).length, 2);
      const problems = await validateStacks(engine, { stack: 'deploy/prd' });
      assert.equal(problems.length, 1);
      assert.match(problems[0].message, /stack 'deploy\/prd' not found/);
      assert.match(problems[0].hint ?? '', /deploy\/prod/);
    },
  );
});

test('validate stacks: Packer components are checked against their *.pkr.hcl variables', async () => {
  const problems = await withRepo(
    {
      'components/packer/image/variables.pkr.hcl':
        'variable "vm_name" {\n  type = string\n}\nvariable "disk_gb" {\n  type    = number\n  default = 20\n}\n',
      'components/packer/image/main.pkr.hcl': 'build {\n  sources = []\n}\n',
      'stacks/deploy/prod.yaml': 'components:\n  packer:\n    image:\n      vars: {disk_gb: [1], disk: 2}\n',
    },
    async (repo) => validateStacks(await repo.engine()),
  );
  assert.deepEqual(
    problems.map((p) => [p.severity, p.message.replace(/ \(.*$/, '')]),
    [
      ['error', 'image@deploy/prod: vars.disk_gb: expected a number, got a list'],
      ['warning', 'image@deploy/prod: vars.disk is not declared by the component'],
      ['error', "image@deploy/prod: required variable 'vm_name' has no value"],
    ],
  );
});
