// Drives the real Terraform at /usr/local/bin/terraform (built-in terraform_data only: no provider downloads here).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readTerraformOutput } from '../../src/components/terraform/outputs.ts';
import { runTerraform } from '../../src/components/terraform/runner.ts';
import type { ComponentInstance } from '../../src/data/instance.ts';
import type { StrataError } from '../../src/errors.ts';
import { ToolNotFoundError } from '../../src/exec/index.ts';
import { envSecret } from '../../src/secrets/values.ts';
import { BASIC_TF, makeConfig, makeInstance, tempDir, writeTree } from './helpers.ts';

/** Writes the environment variable STRATA_TF_TEST_SECRET where `var.out` says. */
const ENVCHECK_TF = `variable "out" { type = string }
variable "token" {
  type    = string
  default = ""
}
resource "terraform_data" "e" {
  input = var.token
  provisioner "local-exec" {
    command = "printf %s \\"$STRATA_TF_TEST_SECRET\\" > \${var.out}"
  }
}
`;

const dir = tempDir('tf');
const config = makeConfig(dir.path, { terraform: { auto_generate_backend_file: true } });
const quiet = { color: false, interactive: false, onLine: () => {} };

before(() => {
  writeTree(dir.path, {
    'components/terraform/app/main.tf': BASIC_TF,
    'components/terraform/custom/main.tf': BASIC_TF,
    'components/terraform/misconf/main.tf': BASIC_TF,
    'components/terraform/broken/main.tf': 'resource "terraform_data" "x" {\n  input = var.undeclared\n}\n',
    'components/terraform/envcheck/main.tf': ENVCHECK_TF,
  });
});
after(() => dir.cleanup());

function app(stack: string, extra: Partial<Parameters<typeof makeInstance>[1]> = {}): ComponentInstance {
  return makeInstance(config, {
    name: 'app',
    stack,
    vars: { name: `web-${stack}`, token: `s3cret-token-${stack}` },
    backend_type: 'local',
    backend: {},
    ...extra,
  });
}

/** An engine over hand-built instances, for readTerraformOutput. */
function engineOf(...instances: ComponentInstance[]) {
  return {
    config,
    describeComponent: async (component: string, stack: string) => {
      const found = instances.find((i) => i.name === component && i.stack === stack);
      if (!found) throw new Error(`no ${component} in ${stack}`);
      return found;
    },
  };
}

test('deploy in two stacks: one workspace each, state on disk, var file removed, outputs readable', async () => {
  const dev = app('dev');
  const prod = app('prod');
  const lines: string[] = [];
  const deployed = await runTerraform(config, dev, { verb: 'deploy', ...quiet, onLine: (l) => lines.push(l) });
  assert.equal(deployed.exitCode, 0, lines.join('\n'));
  // The sensitive variable's value never reaches what strata prints.
  assert.equal(
    lines.some((l) => l.includes('s3cret-token-dev')),
    false,
  );
  assert.equal((await runTerraform(config, prod, { verb: 'deploy', ...quiet })).exitCode, 0);
  const componentDir = dev.componentDir;
  for (const ws of ['dev', 'prod']) {
    const state = JSON.parse(readFileSync(join(componentDir, 'terraform.tfstate.d', ws, 'terraform.tfstate'), 'utf8'));
    assert.equal(state.outputs.workspace.value, ws);
  }
  assert.equal(existsSync(join(componentDir, 'dev-app.terraform.tfvars.json')), false);
  // An empty local backend is Terraform's implicit one: no backend.tf.json (see runner.ts prepareSteps).
  assert.equal(existsSync(join(componentDir, 'backend.tf.json')), false);

  const output = await runTerraform(config, prod, { verb: 'output', args: ['-json'], ...quiet, captureMain: true });
  assert.equal(JSON.parse(output.main?.stdout ?? '{}').name.value, 'web-prod-prod');

  // !terraform.state reads the file directly; !terraform.output runs terraform output -json.
  const engine = engineOf(dev, prod);
  assert.equal(
    await readTerraformOutput(engine, { component: 'app', stack: 'dev', expression: 'name' }, 'state'),
    'web-dev-dev',
  );
  assert.equal(
    await readTerraformOutput(engine, { component: 'app', stack: 'prod', expression: '.list[1]' }, 'output'),
    'second',
  );
  assert.equal(
    await readTerraformOutput(engine, { component: 'app', stack: 'prod', expression: '.missing // "d"' }, 'state'),
    'd',
  );
});

test('a component that was never applied: clear error naming it, or the default', async () => {
  const engine = engineOf(app('staging'));
  for (const mode of ['state', 'output'] as const) {
    await assert.rejects(
      readTerraformOutput(engine, { component: 'app', stack: 'staging', expression: 'name' }, mode),
      /component 'app' in stack 'staging' is not provisioned/,
    );
  }
  assert.equal(
    await readTerraformOutput(engine, { component: 'app', stack: 'staging', expression: 'name // "none"' }, 'state'),
    'none',
  );
});

test("the tool's exit code is strata's: plan -detailed-exitcode 2, broken config 1", async () => {
  const fresh = app('qa');
  const plan = await runTerraform(config, fresh, { verb: 'plan', args: ['-detailed-exitcode'], ...quiet });
  assert.equal(plan.exitCode, 2);
  assert.ok(existsSync(plan.planned.planfile), 'plan writes the planfile');
  // deploy --from-plan applies exactly that plan, then removes it.
  const applied = await runTerraform(config, fresh, { verb: 'deploy', fromPlan: true, ...quiet, captureMain: true });
  assert.equal(applied.exitCode, 0);
  assert.match(applied.main?.stdout ?? '', /Apply complete! Resources: 1 added/);
  assert.equal(existsSync(plan.planned.planfile), false);
  const broken = makeInstance(config, { name: 'broken', stack: 'dev' });
  const lines: string[] = [];
  const result = await runTerraform(config, broken, { verb: 'plan', ...quiet, onLine: (l) => lines.push(l) });
  assert.equal(result.exitCode, 1);
  assert.match(lines.join('\n'), /undeclared/);
});

test('missing terraform: an actionable error naming the tool and how to install it', async () => {
  const instance = app('dev', { command: 'terraform-not-installed' });
  await assert.rejects(runTerraform(config, instance, { verb: 'plan', ...quiet }), (error: ToolNotFoundError) => {
    assert.ok(error instanceof ToolNotFoundError);
    assert.match(error.message, /terraform-not-installed not found on PATH/);
    return true;
  });
});

test('workspace verb selects or creates the workspace; passthrough subcommands run as given', async () => {
  const instance = app('ws-test');
  assert.equal((await runTerraform(config, instance, { verb: 'workspace', ...quiet })).exitCode, 0);
  const show = await runTerraform(config, instance, {
    verb: 'workspace',
    args: ['show'],
    ...quiet,
    captureMain: true,
  });
  assert.equal(show.main?.stdout.trim(), 'ws-test');
  const validate = await runTerraform(config, instance, { verb: 'validate', ...quiet, captureMain: true });
  assert.equal(validate.exitCode, 0);
  assert.match(validate.main?.stdout ?? '', /The configuration is valid/);
});

test('a local backend with a custom path and workspace_dir: backend.tf.json, state where configured', async () => {
  const instance = makeInstance(config, {
    name: 'custom',
    stack: 'dev',
    vars: { name: 'c' },
    backend_type: 'local',
    backend: { path: 'state/default.tfstate', workspace_dir: 'state/workspaces' },
  });
  assert.equal((await runTerraform(config, instance, { verb: 'deploy', ...quiet })).exitCode, 0);
  const state = join(instance.componentDir, 'state/workspaces/dev/terraform.tfstate');
  assert.equal(JSON.parse(readFileSync(state, 'utf8')).outputs.name.value, 'c-dev');
  assert.equal(
    await readTerraformOutput(engineOf(instance), { component: 'custom', stack: 'dev', expression: 'name' }, 'state'),
    'c-dev',
  );
  // A second run initialises again (same configuration) without asking anything.
  assert.equal((await runTerraform(config, instance, { verb: 'plan', ...quiet })).exitCode, 0);
});

test('outputs are cached per stack+component: a second read does not touch the state again', async () => {
  const instance = app('cache');
  assert.equal((await runTerraform(config, instance, { verb: 'deploy', ...quiet })).exitCode, 0);
  const engine = engineOf(instance);
  const ref = { component: 'app', stack: 'cache', expression: 'name' };
  assert.equal(await readTerraformOutput(engine, ref, 'state'), 'web-cache-cache');
  rmSync(join(instance.componentDir, 'terraform.tfstate.d', 'cache'), { recursive: true });
  assert.equal(await readTerraformOutput(engine, { ...ref, expression: '.workspace' }, 'state'), 'cache');
  // A fresh engine (a new strata run) reads again and finds nothing.
  await assert.rejects(readTerraformOutput(engineOf(instance), ref, 'state'), /not provisioned/);
});

test('a var file that cannot be written is a clear error, and nothing runs', async () => {
  // No secret among its vars, so the var file goes into the component folder (Atmos's place).
  const instance = app('blocked', { vars: { name: 'web-blocked' } });
  // A folder where the var file should go makes the write fail (permissions do not stop root).
  mkdirSync(join(instance.componentDir, 'blocked-app.terraform.tfvars.json'));
  await assert.rejects(runTerraform(config, instance, { verb: 'plan', ...quiet }), (error: StrataError) => {
    assert.match(error.message, /cannot write .*blocked-app\.terraform\.tfvars\.json \(EISDIR\)/);
    return true;
  });
  assert.equal(existsSync(join(instance.componentDir, 'terraform.tfstate.d', 'blocked')), false);
});

test('a misconfigured backend: terraform init fails, strata names the backend settings to check', async () => {
  const instance = makeInstance(config, {
    name: 'misconf',
    stack: 'dev',
    vars: { name: 'm' },
    backend_type: 'pg',
    backend: { conn_str: 'postgres://nobody@127.0.0.1:1/none?sslmode=disable' },
  });
  const lines: string[] = [];
  const result = await runTerraform(config, instance, { verb: 'plan', ...quiet, onLine: (l) => lines.push(l) });
  assert.equal(result.exitCode, 1);
  const text = lines.join('\n');
  assert.match(text, /connection refused/);
  assert.match(
    text,
    /init failed for 'misconf' in stack 'dev'; check its backend settings \(backend_type: pg, written to backend\.tf\.json\)/,
  );
});

/** Every file under `root` whose text holds `needle`. */
function filesHolding(root: string, needle: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => readFileSync(path, 'latin1').includes(needle));
}

test('secrets: env values reach the environment only, vars a private var file; a saved plan is 0600', async () => {
  process.env.STRATA_TF_TEST_SECRET_SRC = 'env-secret-value-31337';
  process.env.STRATA_TF_TEST_VAR_SRC = 'var-secret-value-4242';
  try {
    const out = join(dir.path, 'envcheck-out.txt');
    const instance = makeInstance(config, {
      name: 'envcheck',
      stack: 'sec',
      vars: { out, token: envSecret('STRATA_TF_TEST_VAR_SRC') },
      env: { STRATA_TF_TEST_SECRET: envSecret('STRATA_TF_TEST_SECRET_SRC') },
      backend_type: 'local',
      backend: {},
    });
    const planned = await runTerraform(config, instance, { verb: 'plan', ...quiet });
    assert.equal(planned.exitCode, 0);
    assert.equal(statSync(planned.planned.planfile).mode & 0o777, 0o600, 'the planfile holds the values');
    assert.ok(planned.planned.privateDir && !existsSync(planned.planned.privateDir), 'the private folder is gone');
    const deployed = await runTerraform(config, instance, { verb: 'deploy', ...quiet });
    assert.equal(deployed.exitCode, 0);
    assert.equal(readFileSync(out, 'utf8'), 'env-secret-value-31337');
    for (const secret of ['env-secret-value-31337', 'var-secret-value-4242']) {
      const holding = filesHolding(instance.componentDir, secret).filter((f) => !f.includes('terraform.tfstate'));
      assert.deepEqual(holding, [], `${secret} is only in the state`);
    }
  } finally {
    delete process.env.STRATA_TF_TEST_SECRET_SRC;
    delete process.env.STRATA_TF_TEST_VAR_SRC;
  }
});

test('secrets: a secret in backend or providers is refused before anything runs', async () => {
  const instance = makeInstance(config, {
    name: 'envcheck',
    stack: 'refused',
    vars: { out: join(dir.path, 'never.txt') },
    backend_type: 'pg',
    backend: { conn_str: envSecret('STRATA_TF_TEST_CONN') },
  });
  await assert.rejects(runTerraform(config, instance, { verb: 'plan', ...quiet }), (error: StrataError) => {
    assert.match(error.message, /the backend section of 'envcheck' in stack 'refused' holds a secret/);
    assert.match(error.hint ?? '', /env:/);
    return true;
  });
  assert.equal(existsSync(join(instance.componentDir, 'backend.tf.json')), false);
});
