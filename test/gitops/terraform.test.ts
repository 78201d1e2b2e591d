import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { doctorBackend } from '../../src/gitops/doctor.ts';
import { applyAffected, planAffected } from '../../src/gitops/plan.ts';
import { runCli } from '../helpers/cli.ts';
import { skipWithoutPostgres, startPostgresDatabase } from '../helpers/postgres.ts';
import { TempRepo } from './helpers.ts';

const repos: TempRepo[] = [];
let pg: { url: string; stop(): void } | undefined;
before(async () => {
  if (!skipWithoutPostgres) pg = await startPostgresDatabase();
});
after(() => {
  pg?.stop();
  for (const r of repos) r.cleanup();
});

const MAIN = `variable "size" {
  type = string
}
variable "env" {
  type = string
}
resource "terraform_data" "this" {
  input            = "\${var.env}-\${var.size}"
  triggers_replace = [var.env]
}
`;

function stack(env: string, backend = 'backend_type: local') {
  return `vars:
  stage: dev
  env: ${env}
terraform:
  ${backend}
components:
  terraform:
    web:
      vars: {size: small}
    dns:
      vars: {size: tiny}
      settings:
        depends_on:
          1: {component: web}
`;
}

function repo(): TempRepo {
  const r = new TempRepo();
  repos.push(r);
  r.write(
    'atmos.yaml',
    'base_path: .\ncomponents:\n  terraform:\n    base_path: components/terraform\n    auto_generate_backend_file: true\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\n',
  );
  r.write('.gitignore', '.terraform/\n*.planfile\n*.tfvars.json\nbackend.tf.json\nterraform.tfstate*\n.strata/\n');
  r.write('stacks/dev.yaml', stack('one'));
  r.write('components/terraform/web/main.tf', MAIN);
  r.write('components/terraform/dns/main.tf', MAIN);
  r.commit('base');
  return r;
}

test('plan --affected plans in dependency order and saves plans; apply --affected applies them; changed inputs are refused', async () => {
  const r = repo();
  const base = r.head();
  r.write('stacks/dev.yaml', stack('two'));
  r.commit('change env for both');
  const output: string[] = [];
  const plan = await planAffected({
    cwd: r.dir,
    sha: base,
    write: (t) => output.push(t),
    summaryFile: join(r.dir, 'plan.md'),
  });
  assert.equal(plan.exitCode, 0, output.join(''));
  assert.deepEqual(
    plan.instances.map((i) => [i.component, i.result, i.add, i.change, i.destroy]),
    [
      ['web', 'succeeded', 1, 0, 0],
      ['dns', 'succeeded', 1, 0, 0],
    ],
  );
  const markdown = readFileSync(join(r.dir, 'plan.md'), 'utf8');
  assert.match(markdown, /## strata plan: 2 affected instances/);
  assert.match(markdown, /\+ terraform_data\.this \(create\)/);
  for (const f of ['dev-web.planfile', 'dev-web.plan.json', 'dev-web.digest.json', 'dev-dns.planfile'])
    assert.ok(existsSync(join(r.dir, '.strata/plans', f)), f);

  const applied = await applyAffected({ cwd: r.dir, sha: base, write: () => {} });
  assert.equal(applied.exitCode, 0, JSON.stringify(applied));
  assert.deepEqual(
    applied.instances.map((i) => [i.component, i.result, i.fromPlan]),
    [
      ['web', 'applied', true],
      ['dns', 'applied', true],
    ],
  );
  const state = JSON.parse(
    readFileSync(join(r.dir, 'components/terraform/web/terraform.tfstate.d/dev/terraform.tfstate'), 'utf8'),
  );
  assert.deepEqual(state.resources[0].instances[0].attributes.input, { value: 'two-small', type: 'string' });

  // Plan again (through the CLI, as JSON), then change the component's code: the saved plan no longer matches and
  // is refused.
  const base2 = r.head();
  r.write('stacks/dev.yaml', stack('three'));
  r.commit('env three');
  const json = runCli(['plan', '--affected', '--sha', base2, '--format', 'json', '--summary', 'plan2.md'], {
    cwd: r.dir,
  });
  assert.equal(json.code, 0, json.stderr);
  const again = JSON.parse(json.stdout) as { instances: Array<{ component: string; add: number; destroy: number }> };
  assert.deepEqual(
    again.instances.map((i) => [i.component, i.add, i.destroy]),
    [
      ['web', 1, 1],
      ['dns', 1, 1],
    ],
  );
  assert.deepEqual(JSON.parse(json.stdout).totals, { add: 2, change: 0, destroy: 2 });
  assert.match(readFileSync(join(r.dir, 'plan2.md'), 'utf8'), /\[!CAUTION\]/);
  r.write('components/terraform/web/main.tf', `${MAIN}# edited after the plan\n`);
  const refused = await applyAffected({ cwd: r.dir, sha: base2, write: () => {} });
  assert.equal(refused.exitCode, 1);
  assert.deepEqual(
    refused.instances.map((i) => [i.component, i.result]),
    [
      ['web', 'refused'],
      ['dns', 'skipped'],
    ],
  );
  assert.match(refused.instances[0].error ?? '', /inputs of web@dev changed since its plan was made/);
});

test('doctor backend proves state locking on the local backend', async () => {
  const r = repo();
  const report = await doctorBackend({ cwd: r.dir, component: 'web', stack: 'dev' });
  assert.equal(report.ok, true, JSON.stringify(report, null, 2));
  const refused = report.checks.find((c) => c.step === 'second taker is refused');
  assert.equal(refused?.ok, true);
});

test('doctor backend proves state locking on the pg backend', { skip: skipWithoutPostgres }, async () => {
  const r = repo();
  r.write('stacks/dev.yaml', stack('one', `backend_type: pg\n  backend:\n    pg:\n      conn_str: "${pg?.url}"`));
  r.commit('pg backend');
  // The CLI's JSON is doctorBackend's report: one run proves both.
  const cli = runCli(['doctor', 'backend', 'web', '-s', 'dev', '--format', 'json'], { cwd: r.dir });
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  const report = JSON.parse(cli.stdout) as Awaited<ReturnType<typeof doctorBackend>>;
  assert.equal(report.ok, true, JSON.stringify(report, null, 2));
  assert.equal(report.backend_type, 'pg');
  assert.match(report.checks.find((c) => c.step === 'second taker is refused')?.detail ?? '', /locked|Lock/);
});

test("plan --affected summary: attribute changes of a real plan, terraform's own error for a failed one, the working tree as the range", async () => {
  const r = repo();
  const base = r.head();
  // Uncommitted: a new size for web (an attribute change) and a component Terraform cannot plan.
  r.write(
    'stacks/dev.yaml',
    stack('one').replace('size: small', 'size: large').concat('    broken:\n      vars: {}\n'),
  );
  r.write('components/terraform/broken/main.tf', 'resource "terraform_data" "x" {\n  input = var.nope\n}\n');
  const env = {
    ...process.env,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/infra',
    GITHUB_RUN_ID: '7',
  };
  const plan = await planAffected({ cwd: r.dir, sha: base, includeUncommitted: true, env, write: () => {} });
  const markdown = plan.summary.markdown;
  assert.match(markdown, new RegExp(`\\(${base.slice(0, 7)}\\.\\.\\.working tree\\)`));
  assert.match(markdown, /\+ terraform_data\.this \(create\)\n {4}id: \(known after apply\)\n {4}input: "one-large"/);
  assert.match(markdown, /broken in dev: plan failed/);
  assert.match(markdown, /Error: Reference to undeclared input variable/);
  assert.match(markdown, /on main\.tf line 2/);
  assert.doesNotMatch(markdown, /[│╷╵]/, "Terraform's box is taken off");
  const failed = JSON.parse(readFileSync(join(r.dir, '.strata/plans/dev-broken.failed.json'), 'utf8'));
  assert.match(failed.details, /undeclared input variable/, 'kept for the summary gathered from CI jobs');
  assert.equal(failed.logUrl, 'https://github.com/acme/infra/actions/runs/7');
  assert.match(markdown, /\[the job's log\]\(https:\/\/github\.com\/acme\/infra\/actions\/runs\/7\)/);
});
