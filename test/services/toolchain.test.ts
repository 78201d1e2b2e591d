/** The typed services a program uses without the CLI: openEngine with strata's resolvers, and runToolchain. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/errors.ts';
import { describeComponent } from '../../src/services/describe.ts';
import { openEngine } from '../../src/services/engine.ts';
import { runToolchain } from '../../src/services/toolchain.ts';
import { renderPlanText } from '../../src/util/plan.ts';
import { withRepo } from '../stacks/fixtures.ts';

const files = {
  'components/terraform/vpc/main.tf': 'output "id" { value = "vpc-1" }\n',
  'components/terraform/app/main.tf': 'variable "vpc_id" {}\n',
  'stacks/deploy/prod.yaml': `components:
  terraform:
    vpc:
      vars: {}
    app:
      vars:
        vpc_id: !terraform.state vpc .id
      settings:
        depends_on: [vpc]
`,
  // What `terraform apply` left for vpc in the stack's workspace (local backend).
  'components/terraform/vpc/terraform.tfstate.d/deploy-prod/terraform.tfstate': JSON.stringify({
    version: 4,
    outputs: { id: { value: 'vpc-0a1b', type: 'string' } },
  }),
};

test("openEngine wires strata's resolvers: !terraform.state reads the Terraform toolchain's state", async () => {
  await withRepo(files, async (repo) => {
    const engine = await openEngine({ cwd: repo.dir, env: {} });
    const { instance } = await describeComponent(engine, 'app', 'deploy/prod');
    assert.equal(instance.description.vars.vpc_id, 'vpc-0a1b');
  });
});

test('runToolchain: a dry run is a DryRunPlan of files and commands, nothing written', async () => {
  await withRepo(files, async (repo) => {
    const engine = await openEngine({ cwd: repo.dir, env: {} });
    const result = await runToolchain(engine, {
      kind: 'terraform',
      verb: 'plan',
      component: 'app',
      stack: 'deploy/prod',
      args: ['-lock=false'],
      dryRun: true,
      color: false,
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(result.notices, []);
    const plan = result.dryRun;
    assert.ok(plan);
    const write = plan.actions.find((a) => a.kind === 'write');
    assert.equal(write?.path, join(repo.dir, 'components/terraform/app/deploy-prod-app.terraform.tfvars.json'));
    assert.match(write?.content ?? '', /"vpc_id": "vpc-0a1b"/);
    const main = plan.actions.filter((a) => a.kind === 'run').at(-1);
    assert.equal(main?.command?.program, 'terraform');
    assert.deepEqual(main?.command?.args, [
      'plan',
      '-no-color',
      '-var-file=deploy-prod-app.terraform.tfvars.json',
      '-out=deploy-prod-app.planfile',
      '-lock=false',
    ]);
    assert.match(renderPlanText(plan), /\(cd components\/terraform\/app && terraform plan -no-color /);
    assert.equal(existsSync(write?.path ?? ''), false, 'a dry run writes nothing');
  });
});

test('runToolchain: many instances in dependency order, and a clear error for an unknown one', async () => {
  await withRepo(files, async (repo) => {
    const engine = await openEngine({ cwd: repo.dir, env: {} });
    const output: string[] = [];
    const result = await runToolchain(engine, {
      kind: 'terraform',
      verb: 'plan',
      stack: 'deploy/prod',
      selection: {},
      args: [],
      dryRun: true,
      maxConcurrency: 1,
      output: 'grouped',
      onOutput: (text) => output.push(text),
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(
      result.many?.results.map((r) => [r.component, r.result]),
      [
        ['vpc', 'succeeded'],
        ['app', 'succeeded'],
      ],
    );
    assert.ok(output.join('').indexOf('==> vpc') < output.join('').indexOf('==> app'), 'vpc runs before app');
    await assert.rejects(
      runToolchain(engine, {
        kind: 'terraform',
        verb: 'plan',
        stack: 'deploy/prod',
        selection: { components: ['nope'] },
        args: [],
        dryRun: true,
      }),
      /unknown component\(s\) for --components: nope/,
    );
  });
});

test('runToolchain: clean asks through the request; without anyone to answer it refuses', async () => {
  await withRepo({ ...files, 'components/terraform/vpc/.terraform/x': 'cache' }, async (repo) => {
    const engine = await openEngine({ cwd: repo.dir, env: {} });
    const request = {
      kind: 'terraform' as const,
      verb: 'clean',
      component: 'vpc',
      stack: 'deploy/prod',
      args: [],
      dryRun: false,
    };
    await assert.rejects(runToolchain(engine, request), (error: unknown) => error instanceof UsageError);
    const asked: string[][] = [];
    const kept = await runToolchain(engine, {
      ...request,
      confirm: async (targets) => {
        asked.push(targets);
        return false;
      },
    });
    assert.equal(kept.exitCode, 1);
    assert.ok(asked[0].includes(join(repo.dir, 'components/terraform/vpc/.terraform')));
    assert.ok(existsSync(join(repo.dir, 'components/terraform/vpc/.terraform/x')));
    const cleaned = await runToolchain(engine, { ...request, confirm: async () => true });
    assert.equal(cleaned.exitCode, 0);
    assert.ok(cleaned.notices.includes(`Deleted ${join(repo.dir, 'components/terraform/vpc/.terraform')}`));
    assert.equal(existsSync(join(repo.dir, 'components/terraform/vpc/.terraform')), false);
  });
});
