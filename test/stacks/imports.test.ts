import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { describeComponent, describeManifest } from '../../src/services/describe.ts';
import { ATMOS_YAML_TEMPLATES, withRepo } from './fixtures.ts';

const app = 'components:\n  terraform:\n    app: {}\n';

async function varsOf(files: Record<string, string>, options: { atmos?: string } = {}, stack = 'deploy/prod') {
  return withRepo(
    files,
    async (repo) => (await describeComponent(await repo.engine(), 'app', stack)).description.vars,
    options,
  );
}

test('imports: globs merge their matches in lexical order; ** reaches nested folders', async () => {
  const vars = await varsOf({
    'stacks/catalog/b.yaml': 'vars: {who: b, b: 1}\n',
    'stacks/catalog/a.yaml': 'vars: {who: a, a: 1}\n',
    'stacks/mixins/x/deep/m.yaml': 'vars: {deep: true}\n',
    'stacks/deploy/prod.yaml': `import: ["catalog/*", "mixins/**/*"]\n${app}`,
  });
  assert.deepEqual(vars, { who: 'b', a: 1, b: 1, deep: true });
});

test('imports: the extension is optional (.yaml, .yml, .yaml.tmpl); x.yaml is replaced by x.yaml.tmpl', async () => {
  const vars = await varsOf({
    'stacks/catalog/one.yml': 'vars: {one: yml}\n',
    'stacks/catalog/two.yaml': 'vars: {two: plain}\n',
    'stacks/catalog/two.yaml.tmpl': 'vars: {two: "{{ printf "tmpl" }}"}\n',
    'stacks/catalog/three.yaml.tmpl': 'vars: {three: "{{ len "abc" }}"}\n',
    'stacks/deploy/prod.yaml': `import: [catalog/one, catalog/two.yaml, catalog/three]\n${app}`,
  });
  assert.deepEqual(vars, { one: 'yml', two: 'tmpl', three: '3' });
});

test('imports: ./ and ../ are relative to the importing file, other paths to the stacks folder', async () => {
  const vars = await varsOf(
    {
      'stacks/deploy/shared.yaml': 'vars: {shared: here}\n',
      'stacks/deploy/sub/prod.yaml': `import: [./../shared, ../../catalog/base, catalog/other]\n${app}`,
      'stacks/catalog/base.yaml': 'import: [./nested/inner]\nvars: {base: 1}\n',
      'stacks/catalog/nested/inner.yaml': 'vars: {inner: 1}\n',
      'stacks/catalog/other.yaml': 'vars: {other: 1}\n',
    },
    {},
    'deploy/sub/prod',
  );
  assert.deepEqual(vars, { shared: 'here', base: 1, inner: 1, other: 1 });
});

test('imports: object form with context (templated import), skip_if_missing and skip_templates_processing', async () => {
  const vars = await varsOf({
    'stacks/catalog/region.yaml': 'vars:\n  region: "{{ .region }}"\n  zone: "{{ .region }}-{{ .zone }}"\n',
    'stacks/catalog/raw.yaml': 'vars:\n  raw: "{{ .region }}"\n',
    'stacks/catalog/nested.yaml': 'import:\n  - path: catalog/region\n    context: {region: child, zone: z1}\n',
    'stacks/deploy/prod.yaml': [
      'import:',
      '  - path: catalog/nested',
      '    context: {region: parent}',
      '  - path: catalog/absent',
      '    skip_if_missing: true',
      '  - path: catalog/raw',
      '    context: {region: ignored}',
      '    skip_templates_processing: true',
      app,
    ].join('\n'),
  });
  // The parent's context wins over the child's and reaches the whole chain; other keys of the child's stay.
  assert.deepEqual(vars, { region: 'parent', zone: 'parent-z1', raw: '{{ .region }}' });
});

test('imports: import paths may be templates over the context and earlier vars (templates enabled)', async () => {
  const vars = await varsOf(
    {
      'stacks/catalog/size-small.yaml': 'vars: {cores: 2}\n',
      'stacks/catalog/region-eu.yaml': 'vars: {region: eu}\n',
      'stacks/catalog/pick.yaml': 'import: ["catalog/region-{{ .where }}"]\n',
      'stacks/deploy/prod.yaml': [
        'vars: {flavor: small}',
        'import:',
        '  - "catalog/size-{{ .vars.flavor }}"',
        '  - path: catalog/pick',
        '    context: {where: eu}',
        app,
      ].join('\n'),
    },
    { atmos: ATMOS_YAML_TEMPLATES },
  );
  assert.deepEqual(vars, { flavor: 'small', cores: 2, region: 'eu' });
});

test('imports: a templated import path with a missing value is an error naming the file', async () => {
  await withRepo(
    { 'stacks/deploy/prod.yaml': `import: ["catalog/{{ .vars.nope }}"]\n${app}` },
    async (repo) => {
      await assert.rejects((await repo.engine()).instances(), (error: unknown) => {
        assert.ok(error instanceof StrataError, String(error));
        assert.match(`${error.message} ${error.details ?? ''}`, /deploy\/prod\.yaml/);
        return true;
      });
    },
    { atmos: ATMOS_YAML_TEMPLATES },
  );
});

test('overrides are file-scoped: they reach the components of the file and its imports only; inline wins', async () => {
  await withRepo(
    {
      'stacks/catalog/team-a.yaml': [
        'import: [catalog/team-a-extra]',
        'overrides: {vars: {team: a, from: team-a}}',
        'terraform: {overrides: {vars: {tf_only: yes}}}',
        'components:',
        '  terraform:',
        '    a: {vars: {team: none}}',
        '  packer:',
        '    img: {vars: {}}',
      ].join('\n'),
      'stacks/catalog/team-a-extra.yaml':
        'overrides: {vars: {from: extra, extra: 1}}\ncomponents:\n  terraform:\n    a2: {}\n',
      'stacks/catalog/team-b.yaml': 'components:\n  terraform:\n    b: {vars: {team: b}}\n',
      // Imported before team-a: Atmos hands the overrides collected so far down to later imports, not earlier ones.
      'stacks/deploy/prod.yaml': 'import: [catalog/team-b, catalog/team-a]\n',
    },
    async (repo) => {
      const engine = await repo.engine();
      const vars = async (name: string, kind = 'terraform') =>
        (await engine.describeComponent(name, 'deploy/prod', { kind })).description.vars;
      assert.deepEqual(await vars('a'), { team: 'a', from: 'team-a', extra: 1, tf_only: 'yes' });
      // team-a-extra is imported by team-a, so team-a's overrides (which win over the imported ones) reach it too.
      assert.deepEqual(await vars('a2'), { team: 'a', from: 'team-a', extra: 1, tf_only: 'yes' });
      assert.deepEqual(await vars('b'), { team: 'b' });
      // terraform.overrides do not reach packer components; the global overrides do.
      assert.deepEqual(await vars('img', 'packer'), { team: 'a', from: 'team-a', extra: 1 });
    },
  );
});

test('a stack-level overrides section reaches every component the stack file and its imports define', async () => {
  const vars = await varsOf({
    'stacks/catalog/app.yaml': `${app}`,
    'stacks/deploy/prod.yaml': 'import: [catalog/app]\noverrides:\n  vars: {forced: 1}\n',
  });
  assert.deepEqual(vars, { forced: 1 });
});

test('!unset removes an inherited key, !append concatenates whatever the strategy', async () => {
  const vars = await varsOf({
    'stacks/catalog/base.yaml': 'vars: {keep: 1, drop: 2, list: [a]}\n',
    'stacks/deploy/prod.yaml': `import: [catalog/base]\nvars:\n  drop: !unset\n  list: !append [b]\n${app}`,
  });
  assert.deepEqual(vars, { keep: 1, list: ['a', 'b'] });
});

test('type-changing values: a later list, map or scalar replaces whatever was there', async () => {
  const vars = await varsOf({
    'stacks/catalog/base.yaml': 'vars: {a: [1], b: {x: 1}, c: text, d: {x: 1}}\n',
    'stacks/deploy/prod.yaml': `import: [catalog/base]\nvars: {a: {x: 1}, b: [1], c: null, d: {}}\n${app}`,
  });
  assert.deepEqual(vars, { a: { x: 1 }, b: [1], c: null, d: { x: 1 } });
});

test('describe manifest: the top-level manifest merged with its imports, before components are processed', async () => {
  await withRepo(
    {
      'stacks/catalog/base.yaml': 'vars: {a: 1}\nsettings: {s: 1}\n',
      'stacks/deploy/prod.yaml': `import: [catalog/base]\nvars: {b: 2}\n${app}`,
    },
    async (repo) => {
      const engine = await repo.engine();
      const manifest = await describeManifest(engine, 'deploy/prod.yaml');
      assert.deepEqual(manifest.vars, { a: 1, b: 2 });
      assert.deepEqual(manifest.settings, { s: 1 });
      assert.deepEqual(manifest.imports, ['catalog/base']);
      assert.equal(manifest.import, undefined);
      await assert.rejects(describeManifest(engine, 'deploy/prd'), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.match(error.hint ?? '', /Did you mean 'deploy\/prod'/);
        return true;
      });
    },
  );
});

test('imports: one .yaml.tmpl file imported with and without skip_templates_processing by two stacks', async () => {
  await withRepo(
    {
      'stacks/catalog/t.yaml.tmpl': 'vars:\n  r: \'{{ printf "rendered" }}\'\n',
      'stacks/deploy/a.yaml': `import:\n  - path: catalog/t\n    skip_templates_processing: true\n${app}`,
      'stacks/deploy/b.yaml': `import: [catalog/t]\n${app}`,
    },
    async (repo) => {
      const engine = await repo.engine();
      // Each import reads the file its own way (regression: the first reading was reused for both).
      assert.deepEqual((await describeComponent(engine, 'app', 'deploy/a')).description.vars, {
        r: '{{ printf "rendered" }}',
      });
      assert.deepEqual((await describeComponent(engine, 'app', 'deploy/b')).description.vars, { r: 'rendered' });
    },
  );
});

test('YAML scalars are read as Atmos (Go yaml.v3) reads them: dates stay text, 0644 is octal, 1_000 is 1000', async () => {
  const vars = await varsOf({
    'stacks/deploy/prod.yaml': `vars:\n  day: 2024-05-01\n  at: 2024-05-01T10:00:00Z\n  mode: 0644\n  neg: -017\n  big: 1_000_000\n  hex: 0x1F\n  zero: 0\n  flags: [yes, no, on, true]\n  base: &b {x: 1}\n  merged: {<<: *b, y: 2}\n${app}`,
  });
  assert.deepEqual(vars, {
    day: '2024-05-01',
    at: '2024-05-01T10:00:00Z',
    mode: 420,
    neg: -15,
    big: 1000000,
    hex: 31,
    zero: 0,
    flags: ['yes', 'no', 'on', true],
    base: { x: 1 },
    merged: { x: 1, y: 2 },
  });
});
