import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { summaryTable } from '../../src/cli/toolchains/render.ts';
import { contextPrefix, terraformEnv, terraformVarfileName, withFolderLock } from '../../src/components/common.ts';
import { cleanTargets, countChanges, planShell } from '../../src/components/terraform/extra.ts';
import { backendDocument, workspaceName } from '../../src/components/terraform/files.ts';
import {
  countsFromOutput,
  dependencyGraph,
  errorExcerpt,
  runTerraformMany,
} from '../../src/components/terraform/multi.ts';
import { planTerraform, runTerraform } from '../../src/components/terraform/runner.ts';
import { type StrataError, UsageError } from '../../src/errors.ts';
import { topologicalLevels } from '../../src/graph/index.ts';
import { globalMasker } from '../../src/util/mask.ts';
import { renderPlanText } from '../../src/util/plan.ts';
import { BASIC_TF, makeConfig, makeInstance, tempDir, writeTree } from './helpers.ts';

const config = makeConfig('/repo', { terraform: { auto_generate_backend_file: true } });

function args(planned: ReturnType<typeof planTerraform>, role: string): string[][] {
  return planned.steps.filter((s) => s.type === 'run' && s.role === role).map((s) => (s.type === 'run' ? s.args : []));
}

test('Atmos file names: <stack>-<component with / as ->', () => {
  const instance = makeInstance(config, { name: 'test/test-component-override', stack: 'tenant1-ue2-dev' });
  assert.equal(contextPrefix(instance), 'tenant1-ue2-dev-test-test-component-override');
  assert.equal(terraformVarfileName(instance), 'tenant1-ue2-dev-test-test-component-override.terraform.tfvars.json');
});

test('workspace: the engine value, else stack, else stack-component for a derived component', () => {
  assert.equal(workspaceName(config, makeInstance(config, { name: 'vpc', stack: 'dev', workspace: 'ws/x' })), 'ws-x');
  assert.equal(workspaceName(config, makeInstance(config, { name: 'vpc', stack: 'dev' })), 'dev');
  assert.equal(
    workspaceName(config, makeInstance(config, { name: 'vpc/b', stack: 'dev', component: 'vpc' })),
    'dev-vpc-b',
  );
  const off = makeConfig('/repo', { terraform: { workspaces_enabled: false } });
  assert.equal(workspaceName(off, makeInstance(off, { name: 'vpc', stack: 'dev' })), 'default');
});

test('plan: var file, backend, init, workspace select-or-create, then plan with -var-file and -out', () => {
  const instance = makeInstance(config, {
    name: 'vpc',
    stack: 'dev',
    vars: { cidr: '10.0.0.0/16' },
    backend_type: 's3',
    backend: { bucket: 'b', key: 'k' },
    providers: { aws: { region: 'us-east-1' } },
  });
  const planned = planTerraform(config, instance, { verb: 'plan', args: ['-target=x'], color: false });
  const writes = planned.steps.filter((s) => s.type === 'write');
  assert.deepEqual(
    writes.map((w) => (w.type === 'write' ? w.path : '')),
    [
      '/repo/components/terraform/vpc/dev-vpc.terraform.tfvars.json',
      '/repo/components/terraform/vpc/backend.tf.json',
      '/repo/components/terraform/vpc/providers_override.tf.json',
    ],
  );
  assert.deepEqual(JSON.parse(writes[1].type === 'write' ? writes[1].content : ''), {
    terraform: { backend: { s3: { bucket: 'b', key: 'k' } } },
  });
  assert.deepEqual(JSON.parse(writes[2].type === 'write' ? writes[2].content : ''), {
    provider: { aws: { region: 'us-east-1' } },
  });
  assert.ok(planned.steps.some((s) => s.type === 'delete' && s.path.endsWith('.terraform/environment')));
  assert.deepEqual(args(planned, 'init'), [['init', '-reconfigure', '-no-color']]);
  assert.deepEqual(args(planned, 'workspace'), [['workspace', 'select', '-no-color', 'dev']]);
  assert.deepEqual(args(planned, 'main'), [
    ['plan', '-no-color', '-var-file=dev-vpc.terraform.tfvars.json', '-out=dev-vpc.planfile', '-target=x'],
  ]);
});

test('deploy = apply -auto-approve; --from-plan applies the planfile; apply removes the var file afterwards', () => {
  const instance = makeInstance(config, { name: 'vpc', stack: 'dev' });
  const deploy = planTerraform(config, instance, { verb: 'deploy', color: true });
  assert.deepEqual(args(deploy, 'main'), [['apply', '-auto-approve', '-var-file=dev-vpc.terraform.tfvars.json']]);
  assert.ok(deploy.steps.some((s) => s.type === 'delete' && s.always && s.path === deploy.varfile));
  const fromPlan = planTerraform(config, instance, { verb: 'deploy', fromPlan: true, color: true });
  assert.deepEqual(args(fromPlan, 'main'), [['apply', '-auto-approve', 'dev-vpc.planfile']]);
  assert.equal(fromPlan.planfile, '/repo/components/terraform/vpc/dev-vpc.planfile');
});

test('init options: pass_vars, init_run_reconfigure false, deploy_run_init false, --skip-init, TF_WORKSPACE', () => {
  const custom = makeConfig('/repo', {
    terraform: { init: { pass_vars: true }, init_run_reconfigure: false, deploy_run_init: false },
  });
  const instance = makeInstance(custom, { name: 'vpc', stack: 'dev' });
  assert.deepEqual(args(planTerraform(custom, instance, { verb: 'plan', color: true }), 'init'), [
    ['init', '-var-file=dev-vpc.terraform.tfvars.json'],
  ]);
  assert.deepEqual(args(planTerraform(custom, instance, { verb: 'deploy', color: true }), 'init'), []);
  assert.deepEqual(args(planTerraform(config, instance, { verb: 'plan', skipInit: true }), 'init'), []);
  const pinned = planTerraform(config, instance, { verb: 'plan', env: { TF_WORKSPACE: 'x' } });
  assert.deepEqual(args(pinned, 'workspace'), []);
});

test('apply without -auto-approve and without a terminal is refused before anything runs', () => {
  const instance = makeInstance(config, { name: 'vpc', stack: 'dev' });
  assert.throws(() => planTerraform(config, instance, { verb: 'apply', interactive: false }), UsageError);
  assert.throws(
    () => planTerraform(config, instance, { verb: 'destroy', interactive: false }),
    (error: UsageError) => /pass -auto-approve/.test(error.hint ?? ''),
  );
  const auto = makeConfig('/repo', { terraform: { apply_auto_approve: true } });
  assert.deepEqual(args(planTerraform(auto, instance, { verb: 'apply', interactive: false, color: true }), 'main'), [
    ['apply', '-auto-approve', '-var-file=dev-vpc.terraform.tfvars.json'],
  ]);
});

test('locked and abstract components are refused with Atmos messages, before any file is written', async () => {
  const dir = tempDir('restrict');
  try {
    writeTree(dir.path, { 'components/terraform/mock/main.tf': BASIC_TF });
    const local = makeConfig(dir.path);
    const locked = makeInstance(local, { name: 'mock', stack: 'prod', locked: true });
    await assert.rejects(runTerraform(local, locked, { verb: 'deploy' }), (error: StrataError) => {
      assert.equal(error.message, 'locked component cannot be provisioned');
      assert.equal(error.details, "component 'mock' cannot be modified (metadata.locked: true)");
      return true;
    });
    const abstract = makeInstance(local, { name: 'mock', stack: 'prod', abstract: true });
    await assert.rejects(runTerraform(local, abstract, { verb: 'plan' }), /abstract component cannot be provisioned/);
    assert.equal(existsSync(join(dir.path, 'components/terraform/mock/prod-mock.terraform.tfvars.json')), false);
    // plan is allowed on a locked component (dry run: nothing is executed).
    const planned = await runTerraform(local, locked, { verb: 'plan', dryRun: true });
    assert.match(renderPlanText(planned.dryRun ?? { actions: [] }), /terraform plan/);
  } finally {
    dir.cleanup();
  }
});

test('a disabled component is skipped with a notice', async () => {
  const instance = makeInstance(config, { name: 'vpc', stack: 'dev', enabled: false });
  const result = await runTerraform(config, instance, { verb: 'plan' });
  assert.equal(result.exitCode, 0);
  assert.match(result.skipped ?? '', /is not enabled and skipped/);
});

test('dry run prints the files and commands with sensitive values masked', async () => {
  const dir = tempDir('dry');
  try {
    writeTree(dir.path, { 'components/terraform/app/main.tf': BASIC_TF });
    const local = makeConfig(dir.path);
    const instance = makeInstance(local, {
      name: 'app',
      stack: 'dev',
      vars: { name: 'web', token: 'dry-run-secret-value' },
    });
    const result = await runTerraform(local, instance, { verb: 'plan', dryRun: true, color: false });
    const text = renderPlanText(result.dryRun ?? { actions: [] });
    // `token` is declared sensitive: its var file goes to a private folder outside the repository, mode 0600.
    assert.match(text, /# write \S+\/strata-secret-XXXXXX\/dev-app\.terraform\.tfvars\.json \(mode 600\)/);
    assert.match(
      text,
      /terraform plan -no-color -var-file=\S+\/strata-secret-XXXXXX\/dev-app\.terraform\.tfvars\.json/,
    );
    assert.match(text, /"name": "web"/);
    assert.doesNotMatch(text, /dry-run-secret-value/);
    assert.equal(globalMasker.mask('x dry-run-secret-value'), 'x ***');
    assert.match(
      text,
      /\(cd components\/terraform\/app && terraform workspace select -no-color dev \|\| terraform workspace new -no-color dev\)/,
    );
    assert.equal(existsSync(join(dir.path, 'components/terraform/app/dev-app.terraform.tfvars.json')), false);
  } finally {
    dir.cleanup();
  }
});

test('backend documents: a type is required; cloud gets the workspace token', () => {
  assert.throws(() => backendDocument(makeInstance(config, { name: 'a', stack: 'dev' }), 'dev'), /has no backend_type/);
  const cloud = makeInstance(config, {
    name: 'a',
    stack: 'dev',
    backend_type: 'cloud',
    backend: { organization: 'o', workspaces: { name: 'app-{terraform_workspace}' } },
  });
  assert.deepEqual(backendDocument(cloud, 'dev'), {
    terraform: { cloud: { organization: 'o', workspaces: { name: 'app-dev' } } },
  });
});

test('the environment fixes a missing TF_CLI_CONFIG_FILE and keeps the stack env', () => {
  const instance = makeInstance(config, { name: 'a', stack: 'dev', env: { FOO: 1, BAR: { a: 1 }, GONE: null } });
  const env = terraformEnv(config, instance, { TF_CLI_CONFIG_FILE: '/nonexistent/.terraformrc' });
  assert.equal(env.TF_CLI_CONFIG_FILE, '');
  assert.equal(env.TF_IN_AUTOMATION, 'true');
  assert.equal(env.CHECKPOINT_DISABLE, '1');
  assert.equal(env.FOO, '1');
  assert.equal(env.BAR, '{"a":1}');
  assert.equal('GONE' in env && env.GONE === undefined, true);
  assert.equal(terraformEnv(config, instance, { TF_CLI_CONFIG_FILE: '/etc/hostname' }).TF_CLI_CONFIG_FILE, undefined);
});

test('shell: var file for plain terraform commands, level guard', () => {
  const instance = makeInstance(config, { name: 'a', stack: 'dev' });
  const steps = planShell(config, instance, { env: { SHELL: '/bin/bash' } });
  const main = steps.find((s) => s.type === 'run' && s.role === 'main');
  assert.ok(main && main.type === 'run');
  assert.equal(main.command, '/bin/bash');
  assert.equal(main.env.TF_CLI_ARGS_plan, '-var-file=/repo/components/terraform/a/dev-a.terraform.tfvars.json');
  assert.equal(main.env.STRATA_SHLVL, '1');
  assert.throws(() => planShell(config, instance, { env: { STRATA_SHLVL: '10' } }), /shells deep/);
});

test('plan counts: replacements count as add and destroy; apply summaries are parsed', () => {
  const plan = {
    resource_changes: [
      { change: { actions: ['create'] } },
      { change: { actions: ['update'] } },
      { change: { actions: ['delete', 'create'] } },
      { change: { actions: ['no-op'] } },
      { change: { actions: ['delete'] } },
    ],
  };
  assert.deepEqual(countChanges(plan), { add: 2, change: 1, destroy: 2 });
  assert.deepEqual(countsFromOutput('Apply complete! Resources: 3 added, 1 changed, 0 destroyed.'), {
    add: 3,
    change: 1,
    destroy: 0,
  });
  assert.deepEqual(countsFromOutput('Destroy complete! Resources: 2 destroyed.'), { add: 0, change: 0, destroy: 2 });
});

test('dependency graph from settings.depends_on and dependencies.components', () => {
  const a = makeInstance(config, { name: 'vpc', stack: 'dev' });
  const b = makeInstance(config, { name: 'db', stack: 'dev', settings: { depends_on: { 1: { component: 'vpc' } } } });
  const c = makeInstance(config, { name: 'app', stack: 'dev' });
  c.description.dependencies = { components: [{ component: 'db' }, { component: 'vpc', stack: 'prod' }] };
  const d = makeInstance(config, { name: 'vpc', stack: 'prod' });
  const nodes = dependencyGraph([c, b, a, d]);
  assert.deepEqual(topologicalLevels(nodes), [['vpc@dev', 'vpc@prod'], ['db@dev'], ['app@dev']]);
});

test('clean lists generated files only for the given stack', async () => {
  const dir = tempDir('clean');
  try {
    writeTree(dir.path, {
      'components/terraform/app/main.tf': BASIC_TF,
      'components/terraform/app/dev-app.terraform.tfvars.json': '{}',
      'components/terraform/app/prod-app.terraform.tfvars.json': '{}',
      'components/terraform/app/.terraform/environment': 'dev',
      'components/terraform/app/.terraform.lock.hcl': '',
      'components/terraform/app/terraform.tfstate.d/dev/terraform.tfstate': '{}',
    });
    const local = makeConfig(dir.path);
    const instance = makeInstance(local, { name: 'app', stack: 'dev' });
    const rel = (paths: string[]) => paths.map((p) => p.slice(instance.componentDir.length + 1)).sort();
    assert.deepEqual(rel(await cleanTargets(local, instance.componentDir, instance)), [
      '.terraform',
      '.terraform.lock.hcl',
      'dev-app.terraform.tfvars.json',
    ]);
    assert.deepEqual(
      rel(await cleanTargets(local, instance.componentDir, undefined, { everything: true, skipLockFile: true })),
      ['.terraform', 'dev-app.terraform.tfvars.json', 'prod-app.terraform.tfvars.json', 'terraform.tfstate.d'],
    );
  } finally {
    dir.cleanup();
  }
});

test('many components: destroy runs dependents first; a dry run prints each group in order', async () => {
  const vpc = makeInstance(config, { name: 'vpc', stack: 'dev' });
  const db = makeInstance(config, { name: 'db', stack: 'dev', settings: { depends_on: { 1: { component: 'vpc' } } } });
  const app = makeInstance(config, { name: 'app', stack: 'dev', settings: { depends_on: [{ component: 'db' }] } });
  const order = async (verb: string) => {
    let text = '';
    const result = await runTerraformMany(config, [vpc, db, app], {
      verb,
      dryRun: true,
      maxConcurrency: 1,
      output: 'grouped',
      write: (t) => {
        text += t;
      },
    });
    assert.equal(result.exitCode, 0);
    return [...text.matchAll(/^==> (\w+) \(stack dev\)/gm)].map((m) => m[1]);
  };
  assert.deepEqual(await order('plan'), ['vpc', 'db', 'app']);
  assert.deepEqual(await order('destroy'), ['app', 'db', 'vpc']);
  const table = summaryTable({
    results: [{ component: 'vpc', stack: 'dev', result: 'succeeded', add: 1, change: 0, destroy: 2, durationMs: 1500 }],
    exitCode: 0,
    durationMs: 1500,
    maxConcurrency: 4,
  });
  assert.match(table, /^vpc {8}dev {4}succeeded {4}1 {7}0 {8}2 {6}1\.5s$/m);
});

test('folder lock: tasks on one folder never overlap, other folders run alongside, failures release it', async () => {
  const active = new Map<string, number>();
  const seen: number[] = [];
  let together = 0;
  const task = (dir: string, fail = false) =>
    withFolderLock(dir, async () => {
      active.set(dir, (active.get(dir) ?? 0) + 1);
      seen.push(active.get(dir) ?? 0);
      together = Math.max(
        together,
        [...active.values()].reduce((a, b) => a + b, 0),
      );
      await new Promise((r) => setTimeout(r, 5));
      active.set(dir, (active.get(dir) ?? 1) - 1);
      if (fail) throw new Error('boom');
      return dir;
    });
  const results = await Promise.allSettled([task('a'), task('a', true), task('a'), task('b'), task('b')]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
  );
  assert.ok(
    seen.every((n) => n === 1),
    'never two tasks in one folder',
  );
  assert.equal(together, 2, 'folders a and b ran at the same time');
});

test('local backend with its own path: workspace_dir beside it; a changed backend reconfigures even when off', () => {
  const dir = tempDir('reconfigure');
  try {
    const off = makeConfig(dir.path, { terraform: { auto_generate_backend_file: true, init_run_reconfigure: false } });
    const store = (stage: string) =>
      makeInstance(off, {
        name: 'store',
        stack: stage,
        backend_type: 'local',
        backend: { path: `../state/${stage}.tfstate` },
      });
    const plan = (stage: string) => planTerraform(off, store(stage), { verb: 'plan', interactive: true, color: false });
    const backendFile = plan('dev').steps.find((s) => s.type === 'write' && s.path.endsWith('backend.tf.json'));
    assert.deepEqual(JSON.parse(backendFile?.type === 'write' ? backendFile.content : '{}'), {
      terraform: { backend: { local: { path: '../state/dev.tfstate', workspace_dir: '../state/dev.tfstate.d' } } },
    });
    // Never initialised: init_run_reconfigure: false is respected.
    assert.deepEqual(args(plan('dev'), 'init'), [['init', '-no-color']]);
    // Initialised for dev (as .terraform/terraform.tfstate records it): dev as is, prod reconfigures.
    const saved = { path: '../state/dev.tfstate', workspace_dir: '../state/dev.tfstate.d', unrelated: null };
    writeTree(dir.path, {
      'components/terraform/store/.terraform/terraform.tfstate': JSON.stringify({
        backend: { type: 'local', config: saved },
      }),
    });
    assert.deepEqual(args(plan('dev'), 'init'), [['init', '-no-color']]);
    assert.deepEqual(args(plan('prod'), 'init'), [['init', '-reconfigure', '-no-color']]);
  } finally {
    dir.cleanup();
  }
});

test("errorExcerpt: Terraform's error block without its box, else the last lines; bounded", () => {
  const output = [
    'Initializing the backend...',
    'Planning...',
    '╷',
    '│ Error: Reference to undeclared input variable',
    '│ ',
    '│   on main.tf line 2, in resource "terraform_data" "x":',
    '│    2:   input = var.nope',
    '╵',
  ];
  assert.equal(
    errorExcerpt(output),
    'Error: Reference to undeclared input variable\n\n  on main.tf line 2, in resource "terraform_data" "x":\n   2:   input = var.nope',
  );
  assert.equal(errorExcerpt(['a', 'b', 'killed']), 'a\nb\nkilled');
  assert.equal(errorExcerpt([]), undefined);
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('│ Error: boom', 'Error: plain', '╷', '│ ')), {
        maxLength: 500,
      }),
      (lines) => {
        const excerpt = errorExcerpt(lines, 40, 4000);
        if (excerpt === undefined) return;
        assert.ok(excerpt.length <= 4002, 'at most maxChars and a mark');
        assert.ok(excerpt.split('\n').length <= 41 + 1);
        const first = lines.find((line) => /^\s*[│╷╵]\s?Error: |^Error: /.test(line));
        if (first !== undefined) assert.ok(excerpt.startsWith('Error: '), excerpt.slice(0, 80));
      },
    ),
    { numRuns: 200 },
  );
});
