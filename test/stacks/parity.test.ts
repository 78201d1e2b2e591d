// Atmos parity, round two (issue 18): derived components, metadata.component, naming fallbacks, component kinds,
// multi-document files, section shapes and !include of HCL files with jq queries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeComponent, describeStacks, listComponents, listStacks } from '../../src/services/describe.ts';
import { ATMOS_YAML, withRepo } from './fixtures.ts';

test('derived components: metadata.component naming a folder gives <stack>-<component> workspaces', async () => {
  await withRepo(
    {
      'components/terraform/infra/vpc/main.tf': '',
      'stacks/deploy/dev.yaml': [
        'components:',
        '  terraform:',
        '    vpc-1: {metadata: {component: infra/vpc}, vars: {cidr: 10.1.0.0/16}}',
        '    vpc-2: {metadata: {component: infra/vpc}, vars: {cidr: 10.2.0.0/16}}',
        '    legacy: {component: infra/vpc}',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const workspace = async (c: string) => (await engine.describeComponent(c, 'deploy/dev')).description.workspace;
      assert.equal(await workspace('vpc-1'), 'deploy-dev-vpc-1');
      assert.equal(await workspace('vpc-2'), 'deploy-dev-vpc-2');
      // A legacy `component:` naming no stack component keeps the component's own folder (and workspace).
      const legacy = await engine.describeComponent('legacy', 'deploy/dev');
      assert.equal(legacy.description.component, 'legacy');
      assert.equal(legacy.description.workspace, 'deploy-dev');
      const stacks = await describeStacks(engine);
      assert.equal(stacks['deploy/dev'].components.terraform['vpc-2'].workspace, 'deploy-dev-vpc-2');
    },
  );
});

test('metadata.component names the folder and never inherits; a legacy component: does', async () => {
  await withRepo(
    {
      'stacks/deploy/dev.yaml': [
        'components:',
        '  terraform:',
        '    cluster: {vars: {name: main, size: 3}}',
        '    my/instance: {metadata: {component: cluster}, vars: {name: test}}',
        '    old/instance: {component: cluster, vars: {name: old}}',
        '    older/instance: {component: old/instance}',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const mine = (await describeComponent(engine, 'my/instance', 'deploy/dev')).description;
      assert.deepEqual(mine.vars, { name: 'test' });
      assert.deepEqual(mine.inheritance, []);
      assert.equal(mine.component, 'cluster');
      assert.equal(mine.workspace, 'deploy-dev-my-instance');
      const old = (await describeComponent(engine, 'old/instance', 'deploy/dev')).description;
      assert.deepEqual(old.vars, { name: 'old', size: 3 });
      assert.deepEqual(old.inheritance, ['cluster']);
      // A legacy chain ends in its deepest stack component: that is the folder.
      const older = (await describeComponent(engine, 'older/instance', 'deploy/dev')).description;
      assert.equal(older.component, 'cluster');
      assert.deepEqual(older.vars, { name: 'old', size: 3 });
    },
  );
});

test('a name_pattern without a known token falls back to the manifest file name', async () => {
  await withRepo(
    {
      'stacks/deploy/a.yaml': 'vars: {environment: a}\ncomponents: {terraform: {app: {}}}\n',
      'stacks/deploy/b.yaml': 'vars: {environment: b}\ncomponents: {terraform: {app: {}}}\n',
    },
    async (repo) => assert.deepEqual(await listStacks(await repo.engine()), ['deploy/a', 'deploy/b']),
    { atmos: ATMOS_YAML.replace('stacks:\n', 'stacks:\n  name_pattern: "{stack}"\n') },
  );
});

test('component kinds: Packer has no workspace; a kind atmos.yaml does not declare is no component', async () => {
  await withRepo(
    {
      'stacks/deploy/dev.yaml': [
        'components:',
        '  terraform: {app: {}}',
        '  packer: {image: {}}',
        '  argo: {apps: {vars: {a: 1}}}',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const image = await engine.describeComponent('image', 'deploy/dev');
      assert.equal('workspace' in image.description, false);
      const rows = await listComponents(engine);
      assert.deepEqual(
        rows.map((r) => `${r.type}/${r.component}`),
        ['terraform/app', 'packer/image'],
      );
    },
  );
});

test('a multi-document manifest (or a trailing ---) is read as its first document', async () => {
  await withRepo(
    {
      'stacks/deploy/dev.yaml': 'vars: {stage: dev}\ncomponents: {terraform: {app: {}}}\n---\n',
      'stacks/deploy/two.yaml':
        'components: {terraform: {app: {vars: {n: 1}}}}\n---\ncomponents: {terraform: {other: {}}}\n',
    },
    async (repo) => {
      const engine = await repo.engine();
      assert.deepEqual(await listStacks(engine), ['deploy/dev', 'deploy/two']);
      assert.deepEqual(
        (await listComponents(engine, { stack: 'deploy/two' })).map((r) => r.component),
        ['app'],
      );
    },
  );
});

test('a section that is not a map is an error naming it, not an empty map', async () => {
  await withRepo(
    { 'stacks/deploy/dev.yaml': 'components:\n  terraform:\n    app:\n      vars: [a, b]\n' },
    async (repo) => {
      await assert.rejects(
        (await repo.engine()).instances(),
        /'components\.terraform\.app\.vars' must be a map, got a list/,
      );
    },
  );
});

test('!include reads .tfvars, .tf and .hcl files as data, and a jq query selects from them', async () => {
  await withRepo(
    {
      'config/dev.tfvars': 'cidr = "10.0.0.0/16"\nazs = ["a", "b"]\ntags = { team = "core", n = 2 }\n',
      'config/extra.hcl': 'enabled = true\n',
      'config/data.json': '{"users": {"github-dependabot": {"key": "k1"}}, "list": [1, 2, 3]}',
      'stacks/deploy/dev.yaml': [
        'components:',
        '  terraform:',
        '    vpc:',
        '      vars: !include config/dev.tfvars',
        '    app:',
        '      vars:',
        '        first_az: !include config/dev.tfvars .azs[0]',
        '        team: !include config/dev.tfvars .tags.team',
        '        missing: !include config/dev.tfvars .nothing // "fallback"',
        '        enabled: !include config/extra.hcl .enabled',
        `        key: !include config/data.json '.users["github-dependabot"].key'`,
        '        count: !include config/data.json .list | length',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const vpc = (await describeComponent(engine, 'vpc', 'deploy/dev')).description;
      assert.deepEqual(vpc.vars, { cidr: '10.0.0.0/16', azs: ['a', 'b'], tags: { team: 'core', n: 2 } });
      const app = (await describeComponent(engine, 'app', 'deploy/dev')).description;
      assert.deepEqual(app.vars, {
        first_az: 'a',
        team: 'core',
        missing: 'fallback',
        enabled: true,
        key: 'k1',
        count: 3,
      });
    },
  );
});

test('!include: invalid HCL names the file and line; remote files are refused with a clear message', async () => {
  await withRepo(
    {
      'config/bad.tfvars': 'a = "x"\nb = {\n',
      'stacks/deploy/dev.yaml': 'components:\n  terraform:\n    app:\n      vars: !include config/bad.tfvars\n',
    },
    async (repo) => {
      await assert.rejects((await repo.engine()).instances(), /invalid HCL in .*bad\.tfvars/);
      repo.write('stacks/deploy/dev.yaml', 'settings: !include https://example.com/x.yaml .a\n');
      await assert.rejects((await repo.engine()).instances(), /remote includes are not supported/);
    },
  );
});

test("auth: atmos.yaml's auth is the lowest layer of every component's auth; stack auth merges over it", async () => {
  await withRepo(
    {
      'stacks/deploy/dev.yaml': [
        'auth: {identities: {admin: {kind: aws/assume-role, default: true}}}',
        'components:',
        '  terraform:',
        '    app: {auth: {identities: {admin: {principal: {assume_role: arn:role/app}}}}}',
        '    other: {vars: {}}',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const app = (await describeComponent(engine, 'app', 'deploy/dev')).description;
      assert.deepEqual(app.auth, {
        providers: { sso: { kind: 'aws/iam-identity-center', region: 'eu-west-1' } },
        identities: {
          admin: {
            kind: 'aws/assume-role',
            via: { provider: 'sso' },
            default: true,
            principal: { assume_role: 'arn:role/app' },
          },
        },
      });
      const other = (await describeComponent(engine, 'other', 'deploy/dev')).description;
      assert.deepEqual((other.auth as { providers: unknown }).providers, {
        sso: { kind: 'aws/iam-identity-center', region: 'eu-west-1' },
      });
    },
    {
      atmos: `${ATMOS_YAML}auth:\n  providers: {sso: {kind: aws/iam-identity-center, region: eu-west-1}}\n  identities: {admin: {kind: aws/permission-set, via: {provider: sso}}}\n`,
    },
  );
});

test('!template maps deep-merge with the maps of other layers (Atmos deferred merge); atmos.Component inside !template', async () => {
  await withRepo(
    {
      'stacks/deploy/dev.yaml': [
        'settings: {defaults: {a: 1, b: {c: 2, d: 3}}}',
        'components:',
        '  terraform:',
        '    net: {vars: {cidr: 10.0.0.0/16}}',
        '    base:',
        '      metadata: {type: abstract}',
        "      vars: {config: !template '{{ toJson .settings.defaults }}'}",
        '    app:',
        '      metadata: {inherits: [base]}',
        '      vars:',
        '        config: {b: {d: 30, e: 4}, f: 5}',
        '        net: !template \'{{ toJson (atmos.Component "net" .atmos_stack).vars }}\'',
        '    over:',
        '      vars:',
        '        config: {keep: yes}',
        '    over-child:',
        '      metadata: {inherits: [over]}',
        '      vars: {config: !template \'{"added": true}\'}',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      const app = (await describeComponent(engine, 'app', 'deploy/dev')).description as {
        vars: Record<string, unknown>;
      };
      assert.deepEqual(app.vars.config, { a: 1, b: { c: 2, d: 30, e: 4 }, f: 5 });
      assert.deepEqual(app.vars.net, { cidr: '10.0.0.0/16' });
      const child = (await describeComponent(engine, 'over-child', 'deploy/dev')).description as {
        vars: Record<string, unknown>;
      };
      assert.deepEqual(child.vars.config, { keep: 'yes', added: true });
      // Unevaluated (--process-functions false), the value is what a plain replace shows.
      const raw = await repo.engine({ processFunctions: false });
      const shown = JSON.parse(JSON.stringify((await raw.describeComponent('app', 'deploy/dev')).description));
      assert.deepEqual(shown.vars.config, { b: { d: 30, e: 4 }, f: 5 });
    },
  );
});
