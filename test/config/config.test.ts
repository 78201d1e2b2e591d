import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeConfig, discoverConfigFiles, loadConfig } from '../../src/config/index.ts';
import { StrataError, UsageError } from '../../src/errors.ts';
import { describeComponent } from '../../src/services/describe.ts';
import { ATMOS_YAML, withRepo } from '../stacks/fixtures.ts';

const NO_GIT_ROOT = { ATMOS_GIT_ROOT_BASEPATH: 'false' };

test('discovery: the working directory first, then its parents (nearest wins)', async () => {
  await withRepo({ 'a/atmos.yaml': 'base_path: "./inner"\n', 'a/b/c/.keep': '' }, (repo) => {
    assert.deepEqual(discoverConfigFiles({ cwd: repo.dir, env: NO_GIT_ROOT }), [join(repo.dir, 'atmos.yaml')]);
    assert.deepEqual(discoverConfigFiles({ cwd: join(repo.dir, 'a/b/c'), env: NO_GIT_ROOT }), [
      join(repo.dir, 'a/atmos.yaml'),
    ]);
    // base_path `./x` written in the file is relative to that file's folder, not to the working directory.
    const config = loadConfig({ cwd: join(repo.dir, 'a/b/c'), env: NO_GIT_ROOT });
    assert.equal(config.basePath, join(repo.dir, 'a/inner'));
    assert.equal(config.configDir, join(repo.dir, 'a'));
  });
});

test('discovery: strata.yaml is accepted, atmos.yaml is preferred when both exist', async () => {
  await withRepo(
    { 'only/strata.yaml': 'base_path: "."\n', 'both/strata.yaml': '', 'both/atmos.yaml': '' },
    (repo) => {
      assert.deepEqual(discoverConfigFiles({ cwd: join(repo.dir, 'only'), env: {} }), [
        join(repo.dir, 'only/strata.yaml'),
      ]);
      assert.deepEqual(discoverConfigFiles({ cwd: join(repo.dir, 'both'), env: {} }), [
        join(repo.dir, 'both/atmos.yaml'),
      ]);
    },
    { atmos: null },
  );
});

test('discovery and base_path inside a real git repository (git init)', async () => {
  await withRepo(
    { 'repo/atmos.yaml': 'base_path: infra\n', 'repo/infra/stacks/.keep': '', 'repo/deep/er/.keep': '' },
    (repo) => {
      const root = join(repo.dir, 'repo');
      execFileSync('git', ['init', '-q', root]);
      assert.deepEqual(discoverConfigFiles({ cwd: join(root, 'deep/er'), env: {} }), [join(root, 'atmos.yaml')]);
      // A bare base_path is taken from the git root when that folder exists there ...
      const viaFlag = loadConfig({ cwd: join(root, 'deep/er'), configPath: join(root, 'atmos.yaml'), env: {} });
      assert.equal(viaFlag.basePath, join(root, 'infra'));
      // ... and from the config folder with ATMOS_GIT_ROOT_BASEPATH=false.
      const other = join(root, 'deep/atmos.yaml');
      repo.write('repo/deep/atmos.yaml', 'base_path: infra\n');
      assert.equal(loadConfig({ cwd: root, configPath: other, env: {} }).basePath, join(root, 'infra'));
      assert.equal(loadConfig({ cwd: root, configPath: other, env: NO_GIT_ROOT }).basePath, join(root, 'deep/infra'));
    },
    { atmos: null },
  );
});

test('discovery: ATMOS_CLI_CONFIG_PATH is merged after the working directory file and stops the parent search', async () => {
  await withRepo(
    {
      'atmos.yaml': 'stacks: {name_pattern: "{stage}"}\n',
      'cwd/atmos.yaml': 'stacks: {name_pattern: "{tenant}", base_path: from-cwd}\n',
      'elsewhere/atmos.yaml': 'stacks: {name_pattern: "{environment}"}\n',
      'nocfg/.keep': '',
    },
    (repo) => {
      const env = { ATMOS_CLI_CONFIG_PATH: join(repo.dir, 'elsewhere') };
      const files = discoverConfigFiles({ cwd: join(repo.dir, 'cwd'), env });
      assert.deepEqual(files, [join(repo.dir, 'cwd/atmos.yaml'), join(repo.dir, 'elsewhere/atmos.yaml')]);
      const config = loadConfig({ cwd: join(repo.dir, 'cwd'), env });
      assert.equal(config.stacks.namePattern, '{environment}');
      assert.equal(config.stacks.basePath, join(repo.dir, 'elsewhere/from-cwd'));
      // Without a file in the working directory, the parent's atmos.yaml is not used.
      assert.deepEqual(discoverConfigFiles({ cwd: join(repo.dir, 'nocfg'), env }), [
        join(repo.dir, 'elsewhere/atmos.yaml'),
      ]);
      assert.throws(
        () => discoverConfigFiles({ cwd: repo.dir, env: { ATMOS_CLI_CONFIG_PATH: join(repo.dir, 'nocfg') } }),
        (error: unknown) => error instanceof UsageError && /ATMOS_CLI_CONFIG_PATH/.test(error.message),
      );
    },
    { atmos: null },
  );
});

test('discovery: --config takes a file or a folder and replaces discovery; a missing path is a usage error', async () => {
  await withRepo(
    { 'cfg/strata.yaml': 'stacks: {base_path: s}\n', 'cfg/custom.yml': 'stacks: {base_path: t}\n' },
    (repo) => {
      assert.deepEqual(discoverConfigFiles({ cwd: repo.dir, configPath: 'cfg', env: {} }), [
        join(repo.dir, 'cfg/strata.yaml'),
      ]);
      assert.deepEqual(discoverConfigFiles({ cwd: repo.dir, configPath: 'cfg/custom.yml', env: {} }), [
        join(repo.dir, 'cfg/custom.yml'),
      ]);
      assert.throws(
        () => discoverConfigFiles({ cwd: repo.dir, configPath: 'nope', env: {} }),
        (error: unknown) => error instanceof UsageError && error.exitCode === 2 && /nope/.test(error.message),
      );
    },
  );
});

test('no config file anywhere: the built-in defaults (Atmos layout under the working directory)', async () => {
  await withRepo(
    { 'x/.keep': '' },
    (repo) => {
      const config = loadConfig({ cwd: join(repo.dir, 'x'), env: NO_GIT_ROOT });
      assert.deepEqual(config.configFiles, []);
      assert.equal(config.stacks.basePath, join(repo.dir, 'x/stacks'));
      assert.deepEqual(config.stacks.includedPaths, ['orgs/**/*']);
      assert.equal(config.templates.enabled, true);
      assert.equal(config.listMergeStrategy, 'replace');
    },
    { atmos: null },
  );
});

test('base_path: absolute as is; from --base-path or ATMOS_BASE_PATH relative to the working directory', async () => {
  await withRepo({ 'sub/.keep': '' }, (repo) => {
    const cwd = join(repo.dir, 'sub');
    const configPath = join(repo.dir, 'atmos.yaml');
    assert.equal(loadConfig({ cwd, configPath, env: {} }).basePath, repo.dir);
    assert.equal(loadConfig({ cwd, configPath, env: {}, basePath: './here' }).basePath, join(cwd, 'here'));
    assert.equal(loadConfig({ cwd, configPath, env: { ATMOS_BASE_PATH: '..' } }).basePath, repo.dir);
    assert.equal(loadConfig({ cwd, configPath, env: { ATMOS_BASE_PATH: '/opt/x' } }).basePath, '/opt/x');
    const config = loadConfig({ cwd, configPath, env: {}, basePath: '/srv/infra' });
    assert.equal(config.stacks.basePath, '/srv/infra/stacks');
    assert.equal(config.components.terraform.basePath, '/srv/infra/components/terraform');
    assert.equal(config.raw.base_path, '/srv/infra');
  });
});

test('ATMOS_* environment variables override the file', async () => {
  await withRepo({}, (repo) => {
    const config = loadConfig({
      cwd: repo.dir,
      env: {
        ATMOS_STACKS_BASE_PATH: 'other-stacks',
        ATMOS_STACKS_INCLUDED_PATHS: 'a/**/*, b/*',
        ATMOS_STACKS_EXCLUDED_PATHS: '**/_x.yaml',
        ATMOS_STACKS_NAME_PATTERN: '{tenant}-{stage}',
        ATMOS_STACKS_NAME_TEMPLATE: '{{ .vars.stage }}',
        ATMOS_COMPONENTS_TERRAFORM_COMMAND: 'tofu',
        ATMOS_COMPONENTS_PACKER_BASE_PATH: 'images',
        ATMOS_WORKFLOWS_BASE_PATH: 'wf',
        ATMOS_TEMPLATES_SETTINGS_ENABLED: 'true',
        ATMOS_SETTINGS_LIST_MERGE_STRATEGY: 'append',
      },
    });
    assert.equal(config.stacks.basePath, join(repo.dir, 'other-stacks'));
    assert.deepEqual(config.stacks.includedPaths, ['a/**/*', 'b/*']);
    assert.deepEqual(config.stacks.excludedPaths, ['**/_x.yaml']);
    assert.equal(config.stacks.namePattern, '{tenant}-{stage}');
    assert.equal(config.stacks.nameTemplate, '{{ .vars.stage }}');
    assert.equal(config.components.terraform.command, 'tofu');
    assert.equal(config.components.packer.basePath, join(repo.dir, 'images'));
    assert.equal(config.workflows.basePath, join(repo.dir, 'wf'));
    assert.equal(config.templates.enabled, true);
    assert.equal(config.listMergeStrategy, 'append');
    const described = describeConfig(config);
    assert.equal((described.components as { terraform: { command: string } }).terraform.command, 'tofu');
    assert.deepEqual(described.config_files, [join(repo.dir, 'atmos.yaml')]);
    assert.equal(described.stacksBaseAbsolutePath, join(repo.dir, 'other-stacks'));
  });
});

const listRepo = (strategy: string | undefined) => ({
  'stacks/catalog/base.yaml': 'components:\n  terraform:\n    app:\n      vars:\n        l: [a, {x: 1, y: 1}, c]\n',
  'stacks/deploy/prod.yaml':
    'import: [catalog/base]\ncomponents:\n  terraform:\n    app:\n      vars:\n        l: [z, {y: 2}]\n',
  ...(strategy ? { 'atmos.yaml': `${ATMOS_YAML}settings:\n  list_merge_strategy: ${strategy}\n` } : {}),
});

test('settings.list_merge_strategy: replace (default), append, merge; from the file or ATMOS_SETTINGS_LIST_MERGE_STRATEGY', async () => {
  const expected: Record<string, unknown> = {
    default: ['z', { y: 2 }],
    replace: ['z', { y: 2 }],
    append: ['a', { x: 1, y: 1 }, 'c', 'z', { y: 2 }],
    merge: ['a', { x: 1, y: 2 }, 'c'],
  };
  for (const [strategy, list] of Object.entries(expected)) {
    await withRepo(listRepo(strategy === 'default' ? undefined : strategy), async (repo) => {
      const { description } = await describeComponent(await repo.engine(), 'app', 'deploy/prod');
      assert.deepEqual((description.vars as { l: unknown }).l, list, strategy);
    });
  }
  await withRepo(listRepo(undefined), async (repo) => {
    const engine = await repo.engine({ env: { ATMOS_SETTINGS_LIST_MERGE_STRATEGY: 'append' } });
    const { description } = await describeComponent(engine, 'app', 'deploy/prod');
    assert.equal((description.vars as { l: unknown[] }).l.length, 5);
  });
});

test('settings.list_merge_strategy: an unknown value names the file and the valid values', async () => {
  await withRepo(listRepo('concat'), async (repo) => {
    await assert.rejects(repo.engine(), (error: unknown) => {
      assert.ok(error instanceof StrataError);
      assert.match(error.message, /invalid settings\.list_merge_strategy 'concat' in .*atmos\.yaml/);
      assert.match(error.hint ?? '', /replace, append, merge/);
      return true;
    });
  });
  await withRepo(listRepo(undefined), async (repo) => {
    await assert.rejects(
      repo.engine({ env: { ATMOS_SETTINGS_LIST_MERGE_STRATEGY: 'deep' } }),
      /invalid settings\.list_merge_strategy 'deep' in ATMOS_SETTINGS_LIST_MERGE_STRATEGY/,
    );
  });
});

test('a config file that is not a map, or is not valid YAML, is a StrataError with its path', async () => {
  await withRepo({}, (repo) => {
    repo.write('atmos.yaml', '- a\n- b\n');
    assert.throws(
      () => loadConfig({ cwd: repo.dir, env: {} }),
      (error: unknown) => error instanceof StrataError && error.location?.file === join(repo.dir, 'atmos.yaml'),
    );
    repo.write('atmos.yaml', 'stacks:\n  base_path: [a\n');
    assert.throws(
      () => loadConfig({ cwd: repo.dir, env: {} }),
      (error: unknown) => error instanceof StrataError && error.location?.line !== undefined,
    );
  });
});

test('atmos.yaml import: and atmos.d/: merged in order, the importing file wins; describe config shows the result', async () => {
  await withRepo(
    {
      'atmos.yaml': [
        'import: [config/stacks.yaml, "config/extra/*.yaml"]',
        'stacks: {name_template: "{{ .vars.stage }}"}',
        'logs: {level: Debug}',
        '',
      ].join('\n'),
      'config/stacks.yaml': 'import: [./nested]\nstacks: {base_path: from-import, name_template: "{{ .vars.x }}"}\n',
      'config/nested.yaml': 'stacks: {included_paths: ["deploy/**/*"]}\n',
      'config/extra/b.yaml': 'workflows: {base_path: wf-b}\n',
      'config/extra/a.yaml': 'workflows: {base_path: wf-a}\nlogs: {level: Trace}\n',
      'atmos.d/10-templates.yaml': 'templates: {settings: {enabled: true}}\nworkflows: {base_path: from-atmos-d}\n',
      'atmos.d/sub/deep.yaml': 'templates: {settings: {evaluations: 2}}\n',
    },
    (repo) => {
      const config = loadConfig({ cwd: repo.dir, env: NO_GIT_ROOT });
      // The file itself beats its imports; later imports beat earlier ones; imports beat atmos.d/.
      assert.equal(config.stacks.nameTemplate, '{{ .vars.stage }}');
      assert.equal(config.stacks.basePath, join(repo.dir, 'from-import'));
      assert.deepEqual(config.stacks.includedPaths, ['deploy/**/*']);
      assert.equal(config.workflows.basePath, join(repo.dir, 'wf-b'));
      assert.equal(config.templates.enabled, true);
      assert.equal(config.templates.evaluations, 2);
      assert.equal((config.raw.logs as { level: string }).level, 'Debug');
      assert.equal(config.configDir, repo.dir);
      assert.equal(config.configFiles.at(-1), join(repo.dir, 'atmos.yaml'));
      assert.ok(config.configFiles.includes(join(repo.dir, 'config/nested.yaml')));
      const described = describeConfig(config);
      assert.equal('import' in described, false);
      assert.equal((described.stacks as { base_path: string }).base_path, 'from-import');
    },
    { atmos: null },
  );
});

test('atmos.yaml import: a missing file and a remote URL are errors naming the importing file', async () => {
  await withRepo(
    { 'atmos.yaml': 'import: [config/nope]\n', 'remote/atmos.yaml': 'import: ["https://example.com/a.yaml"]\n' },
    (repo) => {
      assert.throws(
        () => loadConfig({ cwd: repo.dir, env: NO_GIT_ROOT }),
        (error: unknown) => error instanceof StrataError && /import 'config\/nope'.*not found/.test(error.message),
      );
      assert.throws(
        () => loadConfig({ cwd: join(repo.dir, 'remote'), env: NO_GIT_ROOT }),
        (error: unknown) => error instanceof StrataError && /remote imports are not supported/.test(error.message),
      );
    },
    { atmos: null },
  );
});

test('describe config: terraform deploy_run_init and init_run_reconfigure are false when atmos.yaml omits them (Atmos)', async () => {
  await withRepo(
    {
      'atmos.yaml': 'components: {terraform: {base_path: components/terraform}}\n',
      'set/atmos.yaml': 'components: {terraform: {deploy_run_init: true, init_run_reconfigure: true}}\n',
    },
    (repo) => {
      const omitted = describeConfig(loadConfig({ cwd: repo.dir, env: NO_GIT_ROOT })).components as Record<
        string,
        Record<string, unknown>
      >;
      assert.equal(omitted.terraform.deploy_run_init, false);
      assert.equal(omitted.terraform.init_run_reconfigure, false);
      // The runner reads the file's own keys: omitted, it keeps initialising before deploy (docs/configuration.md).
      const raw = loadConfig({ cwd: repo.dir, env: NO_GIT_ROOT }).components.terraform.raw;
      assert.equal(raw.deploy_run_init, undefined);
      assert.equal(raw.init_run_reconfigure, undefined);
      const set = describeConfig(loadConfig({ cwd: join(repo.dir, 'set'), env: NO_GIT_ROOT })).components as Record<
        string,
        Record<string, unknown>
      >;
      assert.equal(set.terraform.deploy_run_init, true);
      assert.equal(set.terraform.init_run_reconfigure, true);
    },
    { atmos: null },
  );
});

test('validate config: profiles are reported as not supported (they are not merged)', async () => {
  const { validateConfig } = await import('../../src/services/validate-config.ts');
  await withRepo(
    { 'atmos.yaml': 'base_path: "."\nprofiles: {default: ci}\n' },
    (repo) => {
      const problems = validateConfig(loadConfig({ cwd: repo.dir, env: NO_GIT_ROOT }), { checkPaths: false });
      const profile = problems.find((p) => /profiles are not supported/.test(p.message));
      assert.equal(profile?.severity, 'warning');
      assert.equal(profile?.line, 2);
    },
    { atmos: null },
  );
});
