// Stack `locals:` (Atmos): file-scoped template variables at file, kind and component scope.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { describeComponent, listStacks } from '../../src/services/describe.ts';
import { ATMOS_YAML_TEMPLATES, withRepo } from './fixtures.ts';

const DEV = `settings: {version: v1, team: platform}
vars: {stage: dev}
locals:
  full_name: "{{ .locals.name_prefix }}-{{ .locals.stage_name }}"
  name_prefix: "{{ .locals.namespace }}-{{ .locals.environment }}"
  namespace: acme
  environment: development
  stage_name: "{{ .vars.stage }}"
  app_version: "{{ .settings.version }}"
  upper: '{{ .locals.namespace | upper }}'
  home: !env STRATA_TEST_LOCAL_HOME
  fallback: !env STRATA_TEST_LOCAL_UNSET fallback-value
  tags: {Team: "{{ .settings.team }}", Env: "{{ .locals.environment }}"}
terraform:
  locals: {environment: tf-env, kind_only: yes-kind}
  vars: {kind_var: "{{ .locals.environment }}"}
components:
  terraform:
    app:
      locals: {extra: "{{ .locals.kind_only }}-comp"}
      vars:
        name: "{{ .locals.full_name }}"
        version: "{{ .locals.app_version }}"
        upper: "{{ .locals.upper }}"
        home: "{{ .locals.home }}"
        fallback: "{{ .locals.fallback }}"
        extra: "{{ .locals.extra }}"
        env: "{{ .locals.environment }}"
        team: "{{ .locals.tags.Team }}"
        self: "{{ .atmos_component }}"
`;

test('locals: dependency order, .vars/.settings, !env, kind and component scopes; never printed', async () => {
  process.env.STRATA_TEST_LOCAL_HOME = '/home/test';
  try {
    await withRepo(
      { 'stacks/deploy/dev.yaml': DEV },
      async (repo) => {
        const engine = await repo.engine();
        const app = (await describeComponent(engine, 'app', 'deploy/dev')).description;
        assert.deepEqual(app.vars, {
          stage: 'dev',
          kind_var: 'tf-env',
          name: 'acme-development-dev',
          version: 'v1',
          upper: 'ACME',
          home: '/home/test',
          fallback: 'fallback-value',
          extra: 'yes-kind-comp',
          env: 'tf-env',
          team: 'platform',
          self: 'app',
        });
        assert.equal('locals' in app, false);
        const described = await engine.locals();
        assert.deepEqual(Object.keys(described), ['deploy/dev']);
        const { locals, terraform } = described['deploy/dev'] as {
          locals: Record<string, unknown>;
          terraform: { locals: Record<string, unknown> };
        };
        assert.equal(locals.full_name, 'acme-development-dev');
        assert.deepEqual(locals.tags, { Team: 'platform', Env: 'development' });
        assert.equal(terraform.locals.environment, 'tf-env');
        assert.equal(terraform.locals.namespace, 'acme');
      },
      { atmos: ATMOS_YAML_TEMPLATES },
    );
  } finally {
    delete process.env.STRATA_TEST_LOCAL_HOME;
  }
});

test("locals are file-scoped: an importer neither sees nor passes on its imports' locals; a stack name from locals", async () => {
  await withRepo(
    {
      'stacks/catalog/base.yaml': [
        'locals: {owner: catalog-team}',
        'components: {terraform: {app: {vars: {owner: "{{ .locals.owner }}"}}}}',
        '',
      ].join('\n'),
      'stacks/deploy/prod.yaml': [
        'import: [catalog/base]',
        'locals: {region: eu, stage: prod}',
        'name: "{{ .locals.stage }}-{{ .locals.region }}"',
        'components: {terraform: {app: {vars: {region: "{{ .locals.region }}", leaked: "{{ .locals.owner }}"}}}}',
        '',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      assert.deepEqual(await listStacks(engine), ['prod-eu']);
      const app = (await describeComponent(engine, 'app', 'prod-eu')).description as { vars: Record<string, unknown> };
      assert.equal(app.vars.owner, 'catalog-team');
      assert.equal(app.vars.region, 'eu');
      // The importer's own locals do not hold the catalog's: the reference is left for the component stage.
      assert.equal(app.vars.leaked, '<no value>');
      assert.deepEqual(await engine.locals('prod-eu'), { 'prod-eu': { locals: { region: 'eu', stage: 'prod' } } });
    },
    { atmos: ATMOS_YAML_TEMPLATES },
  );
});

test('locals: a cycle is an error naming the file and the chain', async () => {
  await withRepo(
    {
      'stacks/deploy/dev.yaml':
        'locals: {a: "{{ .locals.b }}", b: "{{ .locals.c }}", c: "{{ .locals.a }}"}\ncomponents: {terraform: {app: {vars: {}}}}\n',
    },
    async (repo) => {
      const engine = await repo.engine();
      await assert.rejects(
        () => engine.instances(),
        (error: unknown) =>
          error instanceof StrataError &&
          /circular dependency in locals of stacks\/deploy\/dev.yaml: a -> b -> c -> a/.test(error.message),
      );
    },
  );
});
