// Terraform's pg backend against a throwaway PostgreSQL started here (one server for the whole file).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { readTerraformOutput } from '../../src/components/terraform/outputs.ts';
import { runTerraform } from '../../src/components/terraform/runner.ts';
import type { ComponentInstance } from '../../src/data/instance.ts';
import { type Postgres, postgresUnavailable, startPostgres } from '../helpers/postgres.ts';
import { HOLD_TF, makeConfig, makeInstance, tempDir, writeTree } from './helpers.ts';

const skip = postgresUnavailable();
const dir = tempDir('pg');
const config = makeConfig(dir.path, { terraform: { auto_generate_backend_file: true } });
const quiet = { color: false, interactive: false, onLine: () => {} };
let server: Postgres | undefined;
let connection = '';
/** A signal folder already released: an apply given it does not wait. */
const released = join(dir.path, 'released');

before(async () => {
  if (skip) return;
  writeTree(dir.path, { 'components/terraform/slow/main.tf': HOLD_TF, 'released/release': '' });
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
    vars: { name: `slow-${stack}`, signal_dir: released, ...vars },
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

/** A signal folder of its own: an apply given it holds the state lock until `release()`. */
function holdFolder(name: string): { signal_dir: string; release: () => void } {
  const signal_dir = join(dir.path, name);
  mkdirSync(signal_dir);
  return { signal_dir, release: () => writeFileSync(join(signal_dir, 'release'), '') };
}

/** Starts a held deploy and resolves once its provisioner runs, i.e. while it holds the state lock. */
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
  const hold = holdFolder('hold-dev');
  const first = slowDeploy(slow('dev', { signal_dir: hold.signal_dir, name: 'first' }));
  const lines: string[] = [];
  try {
    await first.started;
    const second = await runTerraform(config, slow('dev', { name: 'second' }), {
      verb: 'deploy',
      ...quiet,
      onLine: (line) => lines.push(line),
    });
    assert.equal(second.exitCode, 1);
  } finally {
    hold.release();
  }
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
  const hold = holdFolder('hold-prod');
  const first = slowDeploy(slow('prod', { signal_dir: hold.signal_dir, name: 'one' }));
  const lines: string[] = [];
  let second: Awaited<ReturnType<typeof runTerraform>>;
  try {
    await first.started;
    // Terraform says it is acquiring the lock only once it has waited for it (400 ms): then let the first go.
    second = await runTerraform(config, slow('prod', { name: 'two' }), {
      verb: 'deploy',
      args: ['-lock-timeout=60s'],
      ...quiet,
      onLine: (line) => {
        lines.push(line);
        if (line.includes('Acquiring state lock')) hold.release();
      },
    });
  } finally {
    hold.release();
  }
  assert.equal((await first.done).exitCode, 0);
  assert.equal(second.exitCode, 0, lines.join('\n'));
  assert.match(lines.join('\n'), /Acquiring state lock/, 'the second apply waited for the lock');
  const engine = engineOf(slow('prod'));
  assert.equal(
    await readTerraformOutput(engine, { component: 'slow', stack: 'prod', expression: 'name' }, 'state'),
    'two',
  );
});
