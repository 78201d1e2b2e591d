import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type AffectedItem, describeAffected, describeAffectedReport } from '../../src/gitops/affected.ts';
import { runCli } from '../helpers/cli.ts';
import { sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { TempRepo } from './helpers.ts';

const repos: TempRepo[] = [];
after(() => {
  for (const r of repos) r.cleanup();
});

const brief = (items: AffectedItem[]) =>
  items.map((i) => `${i.component}@${i.stack}:${i.affected_all.join('+')}`).sort();

const ATMOS = `base_path: .
components:
  terraform:
    base_path: components/terraform
stacks:
  base_path: stacks
  included_paths: ["deploy/**/*"]
  excluded_paths: ["**/_defaults.yaml"]
  name_pattern: "{stage}"
`;

const stackFile = (stage: string, extra = '') => `import:
  - catalog/app
vars:
  stage: ${stage}
components:
  terraform:
    app:
      vars:
        size: small
        tags: {team: web, env: ${stage}}
    db:
      vars:
        engine: pg
      settings:
        depends_on:
          1: {component: app}
${extra}`;

/** A small repository: two stacks importing one catalog, a component using a local module, another plain one. */
function fixtureRepo(): TempRepo {
  const r = new TempRepo();
  repos.push(r);
  r.write('atmos.yaml', ATMOS);
  r.write(
    'stacks/catalog/app.yaml',
    'components:\n  terraform:\n    app:\n      vars:\n        replicas: 2\n    base:\n      metadata: {type: abstract, component: app}\n',
  );
  r.write('stacks/deploy/dev.yaml', stackFile('dev'));
  r.write('stacks/deploy/prod.yaml', stackFile('prod'));
  r.write('components/terraform/app/main.tf', 'module "naming" {\n  source = "../../../modules/naming"\n}\n');
  r.write('components/terraform/db/main.tf', 'variable "engine" {}\n');
  r.write('modules/naming/main.tf', 'output "name" {\n  value = "x"\n}\n');
  r.commit('initial');
  return r;
}

test('C2: matches the Atmos expected list (base = stacks-affected/, head = stacks/)', {
  skip: skipWithoutShared,
}, async () => {
  // Reads the Atmos conformance fixture from ../shared.
  const fx = join(sharedDir, 'conformance/atmos/tests/fixtures');
  const scen = 'tests/fixtures/scenarios/atmos-describe-affected-with-dependents-and-locked';
  const r = new TempRepo();
  repos.push(r);
  r.copy(join(fx, 'components/terraform/mock'), 'tests/fixtures/components/terraform/mock');
  r.copy(join(fx, 'scenarios/atmos-describe-affected-with-dependents-and-locked/atmos.yaml'), `${scen}/atmos.yaml`);
  r.copy(join(fx, 'scenarios/atmos-describe-affected-with-dependents-and-locked/stacks-affected'), `${scen}/stacks`);
  const base = r.commit('base');
  r.remove(`${scen}/stacks`);
  r.copy(join(fx, 'scenarios/atmos-describe-affected-with-dependents-and-locked/stacks'), `${scen}/stacks`);
  r.commit('head');
  const expected = JSON.parse(
    readFileSync(
      join(sharedDir, 'conformance/atmos/expected/describe-affected-with-dependents-and-locked.json'),
      'utf8',
    ),
  );
  const byKey = (items: Array<Record<string, unknown>>) =>
    Object.fromEntries(items.map((i) => [`${i.component}@${i.stack}`, i]));
  const cwd = join(r.dir, scen);
  const items = await describeAffected({ cwd, sha: base, includeSettings: true });
  assert.deepEqual(
    byKey(items as unknown as Array<Record<string, unknown>>),
    byKey(expected.process_templates_true_functions_true_exclude_locked_false),
  );
  const unlocked = await describeAffected({ cwd, sha: base, includeSettings: true, excludeLocked: true });
  const exp2 = (
    expected.process_templates_true_functions_true_exclude_locked_true as Array<Record<string, unknown>>
  ).map((i) => ({
    ...i,
    component_path: 'tests/fixtures/components/terraform/mock',
  }));
  assert.deepEqual(byKey(unlocked as unknown as Array<Record<string, unknown>>), byKey(exp2));

  const withDeps = await describeAffected({ cwd, sha: base, includeDependents: true });
  const vpc = withDeps.find((i) => i.component === 'vpc' && i.stack === 'ue1-network');
  const hub = withDeps.find((i) => i.component === 'tgw/hub' && i.stack === 'ue1-network');
  const connector = withDeps.find((i) => i.component === 'tgw/cross-region-hub-connector');
  assert.equal(hub?.included_in_dependents, true);
  assert.equal(vpc?.included_in_dependents, false);
  assert.deepEqual(connector?.dependents, []);
  const attachment = vpc?.dependents?.find((d) => d.component === 'tgw/attachment' && d.stack === 'ue1-network');
  assert.equal(attachment?.included_in_dependents, true);
  const nestedHub = vpc?.dependents?.find((d) => d.component === 'tgw/hub');
  assert.ok(nestedHub?.dependents.some((d) => d.component === 'tgw/attachment' && d.stack === 'ue1-network'));
});

test('reordering keys and reformatting a manifest, or renaming it, affects nothing', async () => {
  const r = fixtureRepo();
  const base = r.head();
  r.write(
    'stacks/deploy/dev.yaml',
    `# reformatted\nvars: { stage: dev }\nimport: [catalog/app]\ncomponents:\n  terraform:\n    db:\n      settings: {depends_on: {1: {component: app}}}\n      vars: {engine: pg}\n    app:\n      vars:\n        tags:\n          env: dev\n          team: web\n        size: small\n`,
  );
  r.git('mv', 'stacks/deploy/prod.yaml', 'stacks/deploy/production.yaml');
  r.commit('reformat and rename');
  const report = await describeAffectedReport({ cwd: r.dir, sha: base });
  assert.deepEqual(report.items, []);
  assert.ok(report.changedFiles.includes('stacks/deploy/production.yaml'));

  // Inlining what an import gave (the base reads a file the HEAD closure no longer has) changes nothing either.
  const base2 = r.head();
  r.write(
    'stacks/deploy/production.yaml',
    stackFile('prod')
      .replace('import:\n  - catalog/app\n', '')
      .replace('size: small', 'size: small\n        replicas: 2')
      .concat('    base:\n      metadata: {type: abstract, component: app}\n'),
  );
  r.commit('inline the catalog');
  assert.deepEqual(await describeAffected({ cwd: r.dir, sha: base2 }), []);
});

test('catalog, module, component folder and settings changes give Atmos reasons', async () => {
  const r = fixtureRepo();
  const base = r.head();
  r.write(
    'stacks/catalog/app.yaml',
    readFileSync(join(r.dir, 'stacks/catalog/app.yaml'), 'utf8').replace('replicas: 2', 'replicas: 3'),
  );
  r.commit('catalog');
  assert.deepEqual(brief(await describeAffected({ cwd: r.dir, sha: base })), [
    'app@dev:stack.vars',
    'app@prod:stack.vars',
  ]);

  const base2 = r.head();
  r.write('modules/naming/main.tf', 'output "name" {\n  value = "y"\n}\n');
  r.write('components/terraform/db/main.tf', 'variable "engine" {\n  type = string\n}\n');
  r.commit('code');
  assert.deepEqual(brief(await describeAffected({ cwd: r.dir, sha: base2 })), [
    'app@dev:component.module',
    'app@prod:component.module',
    'db@dev:component',
    'db@prod:component',
  ]);

  const base3 = r.head();
  r.write(
    'stacks/deploy/prod.yaml',
    stackFile('prod').replace('engine: pg', 'engine: mysql\n      metadata: {locked: true}'),
  );
  r.commit('prod db');
  assert.deepEqual(brief(await describeAffected({ cwd: r.dir, sha: base3 })), ['db@prod:stack.metadata+stack.vars']);
  assert.deepEqual(await describeAffected({ cwd: r.dir, sha: base3, excludeLocked: true }), []);
  const deps = await describeAffected({ cwd: r.dir, sha: base2, includeDependents: true, stack: 'dev' });
  const app = deps.find((i) => i.component === 'app');
  assert.deepEqual(
    app?.dependents?.map((d) => `${d.component}@${d.stack}`),
    ['db@dev'],
  );
  assert.equal(deps.find((i) => i.component === 'db')?.included_in_dependents, true);
});

test('deleted components and stacks are reported; abstract and disabled are skipped', async () => {
  const r = fixtureRepo();
  const base = r.head();
  r.remove('stacks/deploy/prod.yaml');
  r.write(
    'stacks/deploy/dev.yaml',
    stackFile('dev').replace(/ {4}db:[\s\S]*$/, '    extra:\n      metadata: {component: db, enabled: false}\n'),
  );
  r.commit('delete');
  const items = await describeAffected({ cwd: r.dir, sha: base });
  assert.deepEqual(items.map((i) => `${i.component}@${i.stack}:${i.affected}:${i.deletion_type}`).sort(), [
    'app@prod:deleted.stack:stack',
    'db@dev:deleted:component',
    'db@prod:deleted.stack:stack',
  ]);
});

test('merge, squash and rebase histories: --ref <before-merge> gives the same affected set', async () => {
  const results: string[][] = [];
  for (const style of ['merge', 'squash', 'rebase']) {
    const r = fixtureRepo();
    r.git('checkout', '-q', '-b', 'feature');
    r.write('stacks/deploy/dev.yaml', stackFile('dev').replace('size: small', 'size: large'));
    r.commit('feature 1');
    r.write('components/terraform/db/main.tf', 'variable "engine" {\n  default = "pg"\n}\n');
    r.commit('feature 2');
    r.git('checkout', '-q', 'main');
    r.write('stacks/deploy/prod.yaml', stackFile('prod').replace('team: web', 'team: ops'));
    r.commit('main moves on');
    // On the branch, the default base is the merge-base: main's own later change is not the PR's.
    r.git('checkout', '-q', 'feature');
    assert.deepEqual(brief(await describeAffected({ cwd: r.dir })), [
      'app@dev:stack.vars',
      'db@dev:component',
      'db@prod:component',
    ]);
    r.git('checkout', '-q', 'main');
    const before = r.head();
    if (style === 'merge') r.git('merge', '-q', '--no-ff', '-m', 'merge', 'feature');
    else if (style === 'squash') {
      r.git('merge', '-q', '--squash', 'feature');
      r.commit('squashed');
    } else {
      r.git('checkout', '-q', 'feature');
      r.git('rebase', '-q', 'main');
      r.git('checkout', '-q', 'main');
      r.git('merge', '-q', '--ff-only', 'feature');
    }
    results.push(brief(await describeAffected({ cwd: r.dir, ref: before })));
  }
  assert.deepEqual(results[0], ['app@dev:stack.vars', 'db@dev:component', 'db@prod:component']);
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});

test('uncommitted changes count only with includeUncommitted; the cache never changes the answer', async () => {
  const r = fixtureRepo();
  const base = r.head();
  r.write('stacks/deploy/dev.yaml', stackFile('dev').replace('engine: pg', 'engine: sqlite'));
  r.write('components/terraform/app/extra.tf', '# new file\n');
  assert.deepEqual(await describeAffected({ cwd: r.dir, sha: base }), []);
  const withWorkTree = await describeAffected({ cwd: r.dir, sha: base, includeUncommitted: true });
  assert.deepEqual(brief(withWorkTree), ['app@dev:component', 'app@prod:component', 'db@dev:stack.vars']);
  r.commit('now committed');
  for (let i = 0; i < 2; i++) {
    const cached = await describeAffected({ cwd: r.dir, sha: base });
    assert.deepEqual(cached, await describeAffected({ cwd: r.dir, sha: base, cache: false }));
  }
  assert.deepEqual(r.git('worktree', 'list').trim().split('\n').length, 1, 'temporary worktrees are removed');
  // --repo-path: the base as an already checked-out tree gives the same answer.
  const copy = join(r.dir, '..', `${r.dir.split('/').pop()}-base`);
  r.git('worktree', 'add', '-q', '--detach', copy, base);
  try {
    assert.deepEqual(
      await describeAffected({ cwd: r.dir, repoPath: copy }),
      await describeAffected({ cwd: r.dir, sha: base }),
    );
  } finally {
    r.git('worktree', 'remove', '--force', copy);
  }
});

test('CLI: describe affected --format matrix|yaml, and a bad ref is an actionable error', async () => {
  const r = fixtureRepo();
  const base = r.head();
  r.write('stacks/deploy/dev.yaml', stackFile('dev').replace('size: small', 'size: medium'));
  r.commit('change');
  const matrix = runCli(['describe', 'affected', '--sha', base, '--format', 'matrix'], { cwd: r.dir });
  assert.equal(matrix.code, 0, matrix.stderr);
  assert.deepEqual(JSON.parse(matrix.stdout), {
    include: [
      {
        stack: 'dev',
        component: 'app',
        component_type: 'terraform',
        component_path: 'components/terraform/app',
        stack_slug: 'dev-app',
      },
    ],
  });
  const yaml = runCli(['describe', 'affected', '--sha', base, '--format', 'yaml'], { cwd: r.dir });
  assert.match(yaml.stdout, /affected: stack.vars/);
  const bad = runCli(['describe', 'affected', '--ref', 'mian'], { cwd: r.dir });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /'mian' is not a commit/);
  assert.match(bad.stderr, /main/);
});
