/** The stack commands through the real `strata` binary: exit codes 0/1/2, parseable output, no stack traces. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';
import { makeRepo, type Repo } from '../stacks/fixtures.ts';

const homelab = join(repoRoot, 'examples', 'homelab');
const noTrace = (stderr: string) => {
  assert.doesNotMatch(stderr, /Internal error/);
  assert.doesNotMatch(stderr, /^\s+at .*\.(ts|js):\d+/m, 'no stack trace');
};

let repo: Repo;
before(() => {
  repo = makeRepo({
    'components/terraform/vm/variables.tf': 'variable "name" {\n  type = string\n}\n',
    'schemas/vm.json': JSON.stringify({ type: 'object', properties: { vars: { required: ['size'] } } }),
    'stacks/deploy/prod.yaml': [
      'vars: {stage: prod}',
      'components:',
      '  terraform:',
      '    vm:',
      '      vars: {name: "a: b # not a comment", list: [1, "two"]}',
      '      settings: {validation: {shape: {schema_type: jsonschema, schema_path: vm.json}}}',
      '    db:',
      '      vars: {name: db}',
      '      settings: {depends_on: {"1": {component: vm}}}',
    ].join('\n'),
  });
});
after(() => repo.cleanup());

test('describe component on the homelab example: exit 0, YAML and JSON that parse to the same data', () => {
  const yaml = runCli(['describe', 'component', 'k3s-cluster', '-s', 'pve-prod'], { cwd: homelab });
  assert.equal(yaml.code, 0, yaml.stderr);
  const json = runCli(['describe', 'component', 'k3s-cluster', '-s', 'pve-prod', '--format', 'json'], { cwd: homelab });
  assert.equal(json.code, 0, json.stderr);
  const data = JSON.parse(json.stdout);
  assert.deepEqual(parseYaml(yaml.stdout), data);
  assert.equal(data.atmos_stack, 'pve-prod');
  assert.equal(data.component_info.component_type, 'terraform');
});

test('describe stacks --format json and validate stacks through the CLI', () => {
  const described = runCli(['describe', 'stacks', '--format', 'json'], { cwd: repo.dir });
  assert.equal(described.code, 0, described.stderr);
  const vars = JSON.parse(described.stdout)['deploy/prod'].components.terraform.vm.vars;
  assert.deepEqual(vars, { stage: 'prod', name: 'a: b # not a comment', list: [1, 'two'] });
  // `list` and `stage` are not declared by vm/variables.tf: warnings, so validation still succeeds.
  const validated = runCli(['validate', 'stacks'], { cwd: repo.dir });
  assert.equal(validated.code, 0, validated.stderr);
  assert.match(validated.stderr, /! vm@deploy\/prod: vars\.list is not declared/);
  assert.match(validated.stderr, /All stacks validated successfully/);
});

test('validate component: a schema failure is exit 1 with the schema errors', () => {
  const result = runCli(['validate', 'component', 'vm', '-s', 'deploy/prod'], { cwd: repo.dir });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Component validation failed/);
  assert.match(result.stderr, /shape \(vm\.json\):\n {2}- \/vars must have required property 'size'/);
  noTrace(result.stderr);
});

test('describe dependents and list components through the CLI', () => {
  const dependents = runCli(['describe', 'dependents', 'vm', '-s', 'deploy/prod'], { cwd: repo.dir });
  assert.equal(dependents.code, 0, dependents.stderr);
  assert.deepEqual(
    JSON.parse(dependents.stdout).map((d: { component: string }) => d.component),
    ['db'],
  );
  const listed = runCli(['list', 'components', '--format', 'json'], { cwd: repo.dir });
  assert.deepEqual(JSON.parse(listed.stdout), [
    { component: 'db', type: 'terraform', stacks: 1 },
    { component: 'vm', type: 'terraform', stacks: 1 },
  ]);
});

test('user errors exit 1 with file:line:col or a suggestion, never a stack trace', () => {
  const broken = makeRepo({ 'stacks/deploy/prod.yaml': 'vars:\n  a: [1, 2\n' });
  try {
    const syntax = runCli(['describe', 'stacks'], { cwd: broken.dir });
    assert.equal(syntax.code, 1);
    assert.match(syntax.stderr, /stacks\/deploy\/prod\.yaml:\d+:\d+/);
    noTrace(syntax.stderr);
  } finally {
    broken.cleanup();
  }
  const unknown = runCli(['describe', 'component', 'vm', '-s', 'deploy/prd'], { cwd: repo.dir });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /stack 'deploy\/prd' not found[\s\S]*Did you mean 'deploy\/prod'/);
  noTrace(unknown.stderr);
});

test('usage errors exit 2: a bad --format, a missing -s', () => {
  const format = runCli(['describe', 'stacks', '--format', 'xml'], { cwd: repo.dir });
  assert.equal(format.code, 2);
  assert.match(format.stderr, /invalid --format 'xml'/);
  const missing = runCli(['describe', 'component', 'vm'], { cwd: repo.dir });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--stack/);
  noTrace(missing.stderr);
});

test('-C/--chdir: discovery starts in that folder, before or after the command; a missing folder is exit 2', () => {
  const before = runCli(['-C', homelab, 'list', 'stacks'], { cwd: repo.dir });
  assert.equal(before.code, 0, before.stderr);
  assert.deepEqual(before.stdout.trim().split('\n'), ['pve-dev', 'pve-prod']);
  const after = runCli(['list', 'stacks', '--chdir', homelab], { cwd: repo.dir });
  assert.equal(after.stdout, before.stdout);
  const missing = runCli(['-C', join(repo.dir, 'nope'), 'list', 'stacks'], { cwd: repo.dir });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--chdir: '.*nope' is not a folder/);
  noTrace(missing.stderr);
});

test('validate component . / ./dir: the folder names the component; several users of one folder are ambiguous (exit 2)', () => {
  const shared = makeRepo({
    'schemas/ok.json': JSON.stringify({ type: 'object' }),
    'components/terraform/net/main.tf': '',
    'components/terraform/app/main.tf': '',
    'stacks/deploy/dev.yaml': [
      'components:',
      '  terraform:',
      '    app: {settings: {validation: {s: {schema_type: jsonschema, schema_path: ok.json}}}}',
      '    net-a: {metadata: {component: net}}',
      '    net-b: {metadata: {component: net}}',
    ].join('\n'),
  });
  try {
    const dot = runCli(['validate', 'component', '.', '-s', 'deploy/dev'], {
      cwd: join(shared.dir, 'components/terraform/app'),
    });
    assert.equal(dot.code, 0, dot.stderr);
    assert.match(dot.stderr, /Component validated successfully/);
    const relative = runCli(['validate', 'component', './app', '-s', 'deploy/dev'], {
      cwd: join(shared.dir, 'components/terraform'),
    });
    assert.equal(relative.code, 0, relative.stderr);
    const ambiguous = runCli(['describe', 'component', '.', '-s', 'deploy/dev'], {
      cwd: join(shared.dir, 'components/terraform/net'),
    });
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /ambiguous component path/);
    assert.match(ambiguous.stderr, /Matching components: net-a, net-b/);
    const outside = runCli(['validate', 'component', './stacks', '-s', 'deploy/dev'], { cwd: shared.dir });
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /not in a component directory/);
    noTrace(ambiguous.stderr + outside.stderr);
  } finally {
    shared.cleanup();
  }
});

test('describe locals through the CLI: YAML by stack name, -s filters', () => {
  const local = makeRepo({
    'stacks/deploy/dev.yaml':
      'locals: {a: one, b: "{{ .locals.a }}-two"}\ncomponents: {terraform: {app: {vars: {x: "{{ .locals.b }}"}}}}\n',
    'stacks/deploy/prod.yaml': 'components: {terraform: {app: {vars: {}}}}\n',
  });
  try {
    const all = runCli(['describe', 'locals'], { cwd: local.dir });
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(parseYaml(all.stdout), { 'deploy/dev': { locals: { a: 'one', b: 'one-two' } } });
    const one = runCli(['describe', 'locals', '-s', 'deploy/dev', '--format', 'json'], { cwd: local.dir });
    assert.deepEqual(JSON.parse(one.stdout), { 'deploy/dev': { locals: { a: 'one', b: 'one-two' } } });
    const component = runCli(['describe', 'component', 'app', '-s', 'deploy/dev', '--format', 'json'], {
      cwd: local.dir,
    });
    assert.equal(JSON.parse(component.stdout).vars.x, 'one-two');
  } finally {
    local.cleanup();
  }
});
