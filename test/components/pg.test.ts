// Terraform's pg backend against a throwaway PostgreSQL started here (one server for the whole file).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { readTerraformOutput } from '../../src/components/terraform/outputs.ts';
import { runTerraform } from '../../src/components/terraform/runner.ts';
import type { ComponentInstance } from '../../src/data/instance.ts';
import { type Postgres, postgresUnavailable, startPostgres } from '../helpers/postgres.ts';
import { makeConfig, makeInstance, SLOW_TF, tempDir, writeTree } from './helpers.ts';

const skip = postgresUnavailable();
const dir = tempDir('pg');
const config = makeConfig(dir.path, { terraform: { auto_generate_backend_file: true } });
const quiet = { color: false, interactive: false, onLine: () => {} };
let server: Postgres | undefined;
let connection = '';

before(async () => {
  if (skip) return;
  writeTree(dir.path, { 'components/terraform/slow/main.tf': SLOW_TF });
  server = await startPostgres();
  await server.createDatabase('tfstate');
  connection = server.connectionString('tfstate');
});
after(() => {
  server?.stop();
  dir.cleanup();
});

function slow(stack: string, vars: Record<string, unknown> = {}): ComponentInstance {
  return makeInstance(config, {
    name: 'slow',
    stack,
    vars: { name: `slow-${stack}`, ...vars },
    backend_type: 'pg',
    backend: { conn_str: connection, schema_name: 'strata_state' },
  });
}

const engineOf = (...instances: ComponentInstance[]) => ({
  config,
  describeComponent: async (component: string, stack: string) => {
    const found = instances.find((i) => i.name === component && i.stack === stack);
    if (!found) throw new Error(`no ${component} in ${stack}`);
    return found;
  },
});

test('pg backend: one row per workspace; !terraform.state reads PostgreSQL without terraform', { skip }, async () => {
  for (const stack of ['dev', 'prod']) {
    assert.equal((await runTerraform(config, slow(stack), { verb: 'deploy', ...quiet })).exitCode, 0);
  }
  const client = new pg.Client({ connectionString: connection });
  await client.connect();
  const rows = await client.query('SELECT name FROM strata_state.states ORDER BY name');
  await client.end();
  const names = rows.rows.map((r) => r.name);
  assert.ok(names.includes('dev') && names.includes('prod'), names.join(','));
  const engine = engineOf(slow('dev'), slow('prod'), slow('never'));
  assert.equal(
    await readTerraformOutput(engine, { component: 'slow', stack: 'prod', expression: 'name' }, 'state'),
    'slow-prod',
  );
  assert.equal(
    await readTerraformOutput(engine, { component: 'slow', stack: 'dev', expression: '.name' }, 'output'),
    'slow-dev',
  );
  await assert.rejects(
    readTerraformOutput(engine, { component: 'slow', stack: 'never', expression: 'name' }, 'state'),
    /'slow' in stack 'never' is not provisioned/,
  );
});

/** Starts a slow deploy and resolves once its provisioner runs, i.e. while it holds the state lock. */
function slowDeploy(instance: ComponentInstance, args: string[] = []) {
  let signalStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    signalStarted = resolve;
  });
  const lines: string[] = [];
  const done = runTerraform(config, instance, {
    verb: 'deploy',
    args,
    ...quiet,
    onLine: (line) => {
      lines.push(line);
      if (line.includes('Provisioning with')) signalStarted();
    },
  });
  return { started, done, lines };
}

test('two concurrent applies of one stack+component: the second fails with a clear lock error, state intact', {
  skip,
}, async () => {
  const first = slowDeploy(slow('dev', { sleep: 5, name: 'first' }));
  await first.started;
  const lines: string[] = [];
  const second = await runTerraform(config, slow('dev', { name: 'second' }), {
    verb: 'deploy',
    ...quiet,
    onLine: (line) => lines.push(line),
  });
  assert.equal(second.exitCode, 1);
  const text = lines.join('\n');
  assert.match(text, /Error acquiring the state lock/);
  assert.match(text, /the state of 'slow' in stack 'dev' is locked by another run/);
  assert.equal((await first.done).exitCode, 0, first.lines.join('\n'));
  const engine = engineOf(slow('dev'));
  assert.equal(
    await readTerraformOutput(engine, { component: 'slow', stack: 'dev', expression: 'name' }, 'state'),
    'first',
  );
});

test('with -lock-timeout the second apply waits for the lock and then succeeds', { skip }, async () => {
  const first = slowDeploy(slow('prod', { sleep: 2, name: 'one' }));
  await first.started;
  const second = await runTerraform(config, slow('prod', { name: 'two' }), {
    verb: 'deploy',
    args: ['-lock-timeout=60s'],
    ...quiet,
  });
  assert.equal((await first.done).exitCode, 0);
  assert.equal(second.exitCode, 0);
  const engine = engineOf(slow('prod'));
  assert.equal(
    await readTerraformOutput(engine, { component: 'slow', stack: 'prod', expression: 'name' }, 'state'),
    'two',
  );
});
