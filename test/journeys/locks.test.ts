// Journey: team locks in PostgreSQL through the installed CLI. Six concurrent `apply --affected`: exactly one
// applies, the five others exit non-zero naming the holder; the run rows say what really happened, including a
// failed apply and an interrupted one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { skipWithoutPostgres, startPostgresDatabase } from '../helpers/postgres.ts';
import { type CliRun, type Journey, journey, TERRAFORM_ATMOS_YAML, waitFor } from './helpers.ts';

const skip = skipWithoutPostgres || (spawnSync('terraform', ['version']).status === 0 ? false : 'no terraform');

let j: Journey;
let db: { url: string; stop(): void } | undefined;
let gate: string;

interface RunRow {
  lock_id: string;
  status: string;
  holder: string;
  operation: string;
}

async function runRows(): Promise<RunRow[]> {
  const client = new pg.Client({ connectionString: db?.url });
  await client.connect();
  try {
    const result = await client.query<RunRow>(
      'SELECT lock_id, status, holder, operation FROM strata_runs ORDER BY started_at',
    );
    return result.rows;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return [];
    throw error;
  } finally {
    await client.end();
  }
}

/** Commits the stack with `version`, and returns the commit before it. */
function commitVersion(version: string): string {
  const base = j.git('rev-parse', 'HEAD');
  j.write({ 'stacks/dev.yaml': stack(version) });
  j.git('commit', '-qam', `version ${version}`);
  return base;
}

function stack(version: string): string {
  return `vars:
  stage: dev
components:
  terraform:
    app:
      vars:
        release: "${version}"
        gate: ${gate}
        log: ${join(j.out, 'applies.log')}
`;
}

before(async () => {
  if (skip) return;
  j = await journey('locks');
  db = await startPostgresDatabase('strata');
  gate = join(j.out, 'gate');
  j.write({
    'atmos.yaml': TERRAFORM_ATMOS_YAML,
    '.gitignore': '.strata/\n.terraform/\nterraform.tfstate.d/\n*.tfvars.json\n',
    // Version 3 fails; the others log the apply and wait (bounded) for the gate, so the lock is held meanwhile.
    'components/terraform/app/main.tf': `variable "release" { type = string }
variable "gate" { type = string }
variable "log" { type = string }
resource "terraform_data" "app" {
  input            = var.release
  triggers_replace = [var.release]
  provisioner "local-exec" {
    command = var.release == "3" ? "exit 1" : "echo \${var.release} >> \${var.log}; for i in $(seq 1 600); do [ -f \${var.gate} ] && exit 0; sleep 0.1; done; exit 1"
  }
}
`,
    'stacks/dev.yaml': stack('1'),
  });
  j.git('init', '-q');
  j.git('add', '-A');
  j.git('commit', '-qm', 'version 1');
});

after(() => {
  db?.stop();
  j?.cleanup();
});

const apply = (base: string) => ['apply', '--affected', '--ref', base];

test('six concurrent apply --affected: one applies, five fail naming the holder, one run row', { skip }, async () => {
  const env = { STRATA_DATABASE_URL: db?.url };
  const base = commitVersion('2');
  const runs = Array.from({ length: 6 }, () => j.start(apply(base), { env }));
  const finished: CliRun[] = [];
  for (const run of runs) void run.done.then((result) => finished.push(result));
  assert.ok(await waitFor(() => finished.length >= 5, 90_000), 'five runs ended while the gate was closed');
  writeFileSync(gate, 'open');
  const results = await Promise.all(runs.map((run) => run.done));

  const winners = results.filter((r) => r.code === 0);
  const losers = results.filter((r) => r.code !== 0);
  assert.equal(winners.length, 1, results.map((r) => r.stdout + r.stderr).join('\n----\n'));
  assert.equal(losers.length, 5);
  const rows = await runRows();
  assert.deepEqual(
    rows.map((r) => [r.lock_id, r.operation, r.status]),
    [['app@dev', 'apply', 'succeeded']],
  );
  const winnerPid = runs[results.indexOf(winners[0])].child.pid;
  assert.match(rows[0].holder, new RegExp(`:${winnerPid}$`));
  for (const loser of losers) {
    assert.ok(loser.stderr.includes(rows[0].holder), `names the holder:\n${loser.stderr}`);
    assert.match(loser.stderr, /apply/);
    assert.match(loser.stderr, /since \d{4}-\d\d-\d\dT/);
  }
  assert.equal(readFileSync(join(j.out, 'applies.log'), 'utf8'), '2\n', 'terraform applied once');
});

test('a failed apply is recorded as failed, an interrupted one as interrupted', { skip }, async () => {
  const env = { STRATA_DATABASE_URL: db?.url };
  const failing = await j.strata(apply(commitVersion('3')), { env });
  assert.notEqual(failing.code, 0);
  assert.deepEqual(
    (await runRows()).map((r) => r.status),
    ['succeeded', 'failed'],
  );

  rmSync(gate);
  const base = commitVersion('4');
  const killed = j.start(apply(base), { env });
  const log = join(j.out, 'applies.log');
  assert.ok(await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('4'), 60_000));
  killed.child.kill('SIGTERM');
  const result = await killed.done;
  assert.notEqual(result.code, 0);
  assert.deepEqual(
    (await runRows()).map((r) => r.status),
    ['succeeded', 'failed', 'interrupted'],
  );
  const locks = spawnSync('psql', [db?.url ?? '', '-Atc', 'SELECT count(*) FROM strata_locks'], { encoding: 'utf8' });
  assert.equal(locks.stdout.trim(), '0', 'the interrupted run released its lock');
});
