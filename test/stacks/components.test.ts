import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { describeComponent, describeStacks, listComponents, listStacks } from '../../src/services/describe.ts';
import { componentProvenance } from '../../src/stacks/provenance.ts';
import { ATMOS_YAML, ATMOS_YAML_TEMPLATES, withRepo } from './fixtures.ts';

const INHERITANCE = {
  'stacks/catalog/bases.yaml': [
    'components:',
    '  terraform:',
    '    root:',
    '      metadata: {type: abstract, component: network, custom: {owner: root}, enabled: true}',
    '      vars: {a: root, b: root, c: root, list: [root]}',
    '      settings: {from: root}',
    '    middle:',
    '      metadata: {type: abstract, inherits: [root], custom: {tier: middle}}',
    '      vars: {b: middle}',
    '    mixin:',
    '      metadata: {type: abstract}',
    '      vars: {b: mixin, m: 1}',
  ].join('\n'),
  'stacks/deploy/prod.yaml': [
    'import: [catalog/bases]',
    'components:',
    '  terraform:',
    '    leaf:',
    '      metadata: {inherits: [middle, mixin], component: network}',
    '      vars: {c: leaf}',
    '    off:',
    '      metadata: {inherits: [root], enabled: false}',
    '    frozen:',
    '      metadata: {locked: true}',
  ].join('\n'),
};

test('inheritance: multi-level and multiple bases merge left to right, the component wins', async () => {
  await withRepo(INHERITANCE, async (repo) => {
    const { description, instance } = await describeComponent(await repo.engine(), 'leaf', 'deploy/prod');
    assert.deepEqual(description.vars, { a: 'root', b: 'mixin', c: 'leaf', list: ['root'], m: 1 });
    assert.deepEqual(description.settings, { from: 'root' });
    // Most derived first, as Atmos prints it.
    assert.deepEqual(description.inheritance, ['mixin', 'middle', 'root']);
    assert.equal(description.component, 'network');
    assert.equal(instance.componentDir, `${repo.dir}/components/terraform/network`);
    // Metadata is inherited (stacks.inherit.metadata defaults to true) except `type` and `inherits`.
    assert.deepEqual(description.metadata, {
      component: 'network',
      custom: { owner: 'root', tier: 'middle' },
      enabled: true,
      inherits: ['middle', 'mixin'],
    });
    assert.equal(instance.abstract, false);
  });
});

test('inheritance: a long chain lists every base, in the same place of the section, with templates rendered', async () => {
  const lines = ['components:', '  terraform:', '    b0: {metadata: {type: abstract}, vars: {v: 0}}'];
  for (let i = 1; i < 100; i++) lines.push(`    b${i}: {metadata: {type: abstract, inherits: [b${i - 1}]}}`);
  lines.push('    short: {metadata: {inherits: [b0]}, vars: {name: "{{ .atmos_component }}"}}');
  lines.push('    leaf: {metadata: {inherits: [b99]}, vars: {name: "{{ .atmos_component }}"}}');
  const files = { 'stacks/deploy/prod.yaml': lines.join('\n') };
  await withRepo(
    files,
    async (repo) => {
      const stacks = await describeStacks(await repo.engine());
      const components = stacks['deploy/prod'].components.terraform as Record<string, Record<string, unknown>>;
      const expected = Array.from({ length: 100 }, (_, i) => `b${99 - i}`);
      assert.deepEqual(components.leaf.inheritance, expected);
      assert.deepEqual(Object.keys(components.leaf), Object.keys(components.short));
      assert.deepEqual(components.leaf.vars, { v: 0, name: 'leaf' });
      const json = JSON.parse(JSON.stringify(stacks));
      assert.deepEqual(json['deploy/prod'].components.terraform.leaf.inheritance, expected);
      assert.deepEqual(json['deploy/prod'].components.terraform.b99.inheritance, expected.slice(1));
    },
    { atmos: ATMOS_YAML_TEMPLATES },
  );
});

test('inheritance: abstract components are listed only on request but still described; enabled and locked', async () => {
  await withRepo(INHERITANCE, async (repo) => {
    const engine = await repo.engine();
    const names = (await listComponents(engine)).map((r) => r.component);
    assert.deepEqual(names, ['frozen', 'leaf', 'off']);
    assert.deepEqual(
      (await listComponents(engine, { abstract: true })).map((r) => r.component),
      ['frozen', 'leaf', 'middle', 'mixin', 'off', 'root'],
    );
    const stacks = await describeStacks(engine);
    assert.ok(stacks['deploy/prod'].components.terraform.root, 'abstract components appear in describe stacks');
    const [off] = await engine.instances({ component: 'off' });
    assert.equal(off.enabled, false);
    assert.equal(off.locked, false);
    const [frozen] = await engine.instances({ component: 'frozen' });
    assert.equal(frozen.locked, true);
    assert.equal(frozen.enabled, true);
  });
});

test('inheritance: with stacks.inherit.metadata false, metadata stays per component', async () => {
  await withRepo(
    INHERITANCE,
    async (repo) => {
      const { description } = await describeComponent(await repo.engine(), 'leaf', 'deploy/prod');
      assert.deepEqual(description.metadata, { inherits: ['middle', 'mixin'], component: 'network' });
      assert.deepEqual(description.vars, { a: 'root', b: 'mixin', c: 'leaf', list: ['root'], m: 1 });
      const [off] = await (await repo.engine()).instances({ component: 'off' });
      assert.equal(off.enabled, false);
    },
    { atmos: ATMOS_YAML.replace('stacks:\n', 'stacks:\n  inherit: {metadata: false}\n') },
  );
});

test('inheritance: the workspace of a derived component is <stack>-<component>', async () => {
  await withRepo(
    {
      'stacks/deploy/prod.yaml': [
        'components:',
        '  terraform:',
        '    vpc: {}',
        '    vpc/blue: {metadata: {component: vpc}}',
        '    pinned: {metadata: {terraform_workspace: fixed/name}}',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const workspace = async (c: string) => (await engine.describeComponent(c, 'deploy/prod')).description.workspace;
      assert.equal(await workspace('vpc'), 'deploy-prod');
      assert.equal(await workspace('vpc/blue'), 'deploy-prod-vpc-blue');
      assert.equal(await workspace('pinned'), 'fixed-name');
    },
  );
});

const NAMING = {
  'stacks/deploy/acme/prod.yaml': 'vars: {tenant: acme, stage: prod}\ncomponents:\n  terraform:\n    app: {}\n',
  'stacks/deploy/acme/named.yaml':
    'name: custom-name\nvars: {tenant: acme, stage: named}\ncomponents:\n  terraform:\n    app: {}\n',
  'stacks/deploy/plain.yaml': 'components:\n  terraform:\n    app: {}\n',
};

test('stack names: name: > name_template > name_pattern > manifest path', async () => {
  const withStacks = (extra: string) => ATMOS_YAML.replace('stacks:\n', `stacks:\n${extra}`);
  const cases: Array<[string, string[]]> = [
    ['', ['custom-name', 'deploy/acme/prod', 'deploy/plain']],
    ['  name_pattern: "{tenant}-{stage}"\n', ['acme-prod', 'custom-name', 'deploy/plain']],
    [
      '  name_pattern: "{tenant}-{stage}"\n  name_template: "{{ .vars.stage }}.{{ .vars.tenant }}"\n',
      ['custom-name', 'deploy/plain', 'prod.acme'],
    ],
  ];
  for (const [stacks, expected] of cases) {
    await withRepo(NAMING, async (repo) => assert.deepEqual(await listStacks(await repo.engine()), expected, stacks), {
      atmos: withStacks(stacks),
    });
  }
});

test('stack names: a stack has a single identity; its file name is rejected with a did-you-mean', async () => {
  await withRepo(
    NAMING,
    async (repo) => {
      const engine = await repo.engine();
      assert.equal((await describeComponent(engine, 'app', 'acme-prod')).description.atmos_stack, 'acme-prod');
      await assert.rejects(describeComponent(engine, 'app', 'deploy/acme/prod'), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.match(error.message, /stack 'deploy\/acme\/prod' not found/);
        assert.match(error.hint ?? '', /Did you mean 'acme-prod'\?/);
        return true;
      });
      await assert.rejects(describeComponent(engine, 'app', 'acme-prd'), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.match(error.hint ?? '', /acme-prod/);
        return true;
      });
      // describe stacks -s accepts the manifest path as well as the name (Atmos's shouldFilterByStack).
      assert.deepEqual(Object.keys(await describeStacks(engine, { stacks: ['deploy/acme/prod'] })), ['acme-prod']);
    },
    { atmos: ATMOS_YAML.replace('stacks:\n', 'stacks:\n  name_pattern: "{tenant}-{stage}"\n') },
  );
});

const TEMPLATES = {
  'stacks/deploy/prod.yaml': [
    'vars: {stage: prod}',
    'settings: {team: core}',
    'components:',
    '  terraform:',
    '    app:',
    '      vars:',
    '        who: "{{ .atmos_component }}@{{ .atmos_stack }}"',
    '        ws: "{{ .workspace }}"',
    '        team: "{{ .settings.team }}-{{ .vars.stage | upper }}"',
    '        chained: "{{ .vars.who }}"',
    '        escaped: "{{`{{ .atmos_component }}`}}"',
    '        missing: "{{ .vars.nope }}"',
    '        "{{ .vars.stage }}_key": 1',
  ].join('\n'),
};

test('templates in component sections: .vars, .settings, .atmos_component, .atmos_stack, .workspace; escapes', async () => {
  await withRepo(
    TEMPLATES,
    async (repo) => {
      const { description } = await describeComponent(await repo.engine(), 'app', 'deploy/prod');
      assert.deepEqual(description.vars, {
        stage: 'prod',
        who: 'app@deploy/prod',
        ws: 'deploy-prod',
        team: 'core-PROD',
        // One pass: a value that renders to a template is not rendered again.
        chained: '{{ .atmos_component }}@{{ .atmos_stack }}',
        escaped: '{{ .atmos_component }}',
        missing: '<no value>',
        prod_key: 1,
      });
    },
    { atmos: ATMOS_YAML_TEMPLATES },
  );
});

test('templates: evaluations: 2 renders the output again; templates are off unless enabled', async () => {
  await withRepo(
    TEMPLATES,
    async (repo) => {
      const vars = (await describeComponent(await repo.engine(), 'app', 'deploy/prod')).description.vars as Record<
        string,
        unknown
      >;
      assert.equal(vars.chained, 'app@deploy/prod');
      assert.equal(vars.escaped, 'app');
    },
    { atmos: `${ATMOS_YAML_TEMPLATES}    evaluations: 2\n` },
  );
  await withRepo(TEMPLATES, async (repo) => {
    const vars = (await describeComponent(await repo.engine(), 'app', 'deploy/prod')).description.vars as Record<
      string,
      unknown
    >;
    assert.equal(vars.who, '{{ .atmos_component }}@{{ .atmos_stack }}');
    const forced = await describeComponent(await repo.engine({ processTemplates: true }), 'app', 'deploy/prod');
    assert.equal((forced.description.vars as Record<string, unknown>).who, 'app@deploy/prod');
  });
});

test('provenance: each value names the file and line that set it, and the import depth', async () => {
  await withRepo(
    {
      'stacks/catalog/base.yaml': [
        'terraform:', // 1
        '  backend_type: s3', // 2
        '  backend:', // 3
        '    s3:', // 4
        '      bucket: state', // 5
        'components:', // 6
        '  terraform:', // 7
        '    app:', // 8
        '      vars:', // 9
        '        size: small', // 10
        '        region: eu', // 11
      ].join('\n'),
      'stacks/deploy/prod.yaml': [
        'import: [catalog/base]', // 1
        'vars:', // 2
        '  stage: prod', // 3
        'overrides:', // 4
        '  vars: {forced: 1}', // 5
        'components:', // 6
        '  terraform:', // 7
        '    app:', // 8
        '      vars:', // 9
        '        size: large', // 10
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const { instance } = await describeComponent(engine, 'app', 'deploy/prod');
      const provenance = componentProvenance(engine, instance);
      assert.deepEqual(provenance.get('vars.size'), { file: 'deploy/prod.yaml', line: 10, depth: 1 });
      assert.deepEqual(provenance.get('vars.region'), { file: 'catalog/base.yaml', line: 11, depth: 2 });
      assert.deepEqual(provenance.get('vars.stage'), { file: 'deploy/prod.yaml', line: 3, depth: 1 });
      assert.deepEqual(provenance.get('vars.forced'), { file: 'deploy/prod.yaml', line: 5, depth: 1 });
      assert.deepEqual(provenance.get('backend_type'), { file: 'catalog/base.yaml', line: 2, depth: 2 });
      // The described backend is the `backend.s3` entry (regression: backend values had no origin).
      assert.deepEqual(provenance.get('backend.bucket'), { file: 'catalog/base.yaml', line: 5, depth: 2 });
    },
  );
});
