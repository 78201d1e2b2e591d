// `doctor backend` and `--bootstrap` on an s3 backend, against s3rver and dynalite on loopback: green from nothing,
// and each way it goes red, with its fix.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type AwsTarget, dynamodbRequest } from '../../src/components/terraform/aws.ts';
import { bootstrapBackend, doctorBackend } from '../../src/gitops/doctor.ts';
import { tempDir, writeTree } from '../components/helpers.ts';
import { FAKE_KEYS, type FakeAws, startFakeAws } from '../helpers/aws.ts';
import { runCli } from '../helpers/cli.ts';

const skip = spawnSync('terraform', ['version']).status === 0 ? false : 'terraform is not installed';
const TOOL_ENV = { CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '' };
const dirs: Array<{ path: string; cleanup: () => void }> = [];
let aws: FakeAws;

before(async () => {
  if (!skip) aws = await startFakeAws({ buckets: ['existing'] });
});
after(async () => {
  await aws?.stop();
  for (const d of dirs) d.cleanup();
});

const target = (): AwsTarget => ({
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', source: 'test' },
  s3Endpoint: aws.s3,
  pathStyle: true,
  dynamodbEndpoint: aws.dynamodb,
});

/** A project whose `web` component in stack `dev` has this s3 backend. */
function project(backend: Record<string, unknown>, env: Record<string, string> = FAKE_KEYS): string {
  const dir = tempDir('doctor-s3');
  dirs.push(dir);
  writeTree(dir.path, {
    'atmos.yaml':
      'base_path: .\ncomponents:\n  terraform:\n    base_path: components/terraform\n    auto_generate_backend_file: true\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\n',
    'components/terraform/web/main.tf': 'resource "terraform_data" "this" {}\n',
    'stacks/dev.yaml': `vars:\n  stage: dev\nenv: ${JSON.stringify(env)}\ncomponents:\n  terraform:\n    web:\n      backend_type: s3\n      backend:\n        s3: ${JSON.stringify(backend)}\n`,
  });
  return dir.path;
}

/** A loopback port nothing listens on (taken, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const failed = (report: Awaited<ReturnType<typeof doctorBackend>>) => report.checks.filter((c) => !c.ok);

test('bootstrap from nothing: bucket and lock table created, then doctor is green', { skip }, async () => {
  const cwd = project(aws.backend('fresh', { dynamodb_table: 'fresh-locks' }));
  const run = runCli(['doctor', 'backend', 'web', '-s', 'dev', '--bootstrap', '--format', 'json'], {
    cwd,
    env: TOOL_ENV,
  });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const report = JSON.parse(run.stdout);
  assert.deepEqual(
    report.bootstrap.map((s: { step: string; result: string }) => `${s.step}: ${s.result}`),
    ['bucket: created', 'versioning: unsupported', 'lock table: created'],
  );
  assert.equal(report.ok, true, run.stdout);
  const steps = report.checks.map((c: { step: string }) => c.step);
  assert.deepEqual(steps.slice(0, 4), ['credentials', 'bucket reachable', 'versioning on', 'lock']);
  assert.ok(steps.includes('second taker is refused'), steps.join(', '));
  assert.equal(report.checks[2].warning, true);
  // Real artifacts: the bucket in s3rver's folder, the table in dynalite with Terraform's key.
  assert.ok(existsSync(join(aws.dir, 'fresh')));
  const table = await dynamodbRequest(target(), 'DescribeTable', { TableName: 'fresh-locks' });
  assert.deepEqual(JSON.parse(table.body).Table.KeySchema, [{ AttributeName: 'LockID', KeyType: 'HASH' }]);
  // Once more: everything exists already (the bootstrap alone: the lock proof above needs no second run).
  const again = await bootstrapBackend({ cwd, component: 'web', stack: 'dev' });
  assert.deepEqual(
    again.steps?.map((s) => s.result),
    ['exists', 'unsupported', 'exists'],
  );
});

test('--bootstrap --print writes the Terraform for the bucket and table; terraform fmt accepts it', { skip }, () => {
  const cwd = project(aws.backend('acme-tfstate', { dynamodb_table: 'tf-locks' }));
  const run = runCli(['doctor', 'backend', 'web', '-s', 'dev', '--bootstrap', '--print'], { cwd, env: TOOL_ENV });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /resource "aws_s3_bucket" "state" \{\n {2}bucket = "acme-tfstate"/);
  assert.match(run.stdout, /resource "aws_s3_bucket_versioning" "state"[\s\S]*status = "Enabled"/);
  assert.match(run.stdout, /resource "aws_s3_bucket_public_access_block" "state"/);
  assert.match(run.stdout, /resource "aws_dynamodb_table" "lock"/);
  assert.match(run.stdout, /name {9}= "tf-locks"[\s\S]*hash_key {5}= "LockID"/);
  const file = join(cwd, 'bootstrap.tf');
  writeFileSync(file, run.stdout);
  const fmt = spawnSync('terraform', ['fmt', '-check', file], { encoding: 'utf8' });
  assert.equal(fmt.status, 0, fmt.stdout + fmt.stderr);
  assert.ok(!existsSync(join(aws.dir, 'acme-tfstate')), 'print creates nothing');
});

test('red: a missing bucket, with the bootstrap command as the fix', { skip }, async () => {
  const cwd = project(aws.backend('nowhere', { dynamodb_table: 'tf-locks' }));
  const report = await doctorBackend({ cwd, component: 'web', stack: 'dev' });
  assert.equal(report.ok, false);
  assert.deepEqual(failed(report), [
    {
      step: 'bucket reachable',
      ok: false,
      detail: 'HEAD s3://nowhere answered 404 (no such bucket)',
      fix: 'strata doctor backend web -s dev --bootstrap',
    },
  ]);
  const cli = runCli(['doctor', 'backend', 'web', '-s', 'dev'], { cwd, env: TOOL_ENV });
  assert.equal(cli.code, 1);
  assert.match(cli.stdout, /fix: strata doctor backend web -s dev --bootstrap/);
});

test('red: no lock table, a table without LockID, no locking at all', { skip }, async () => {
  const missing = await doctorBackend({
    cwd: project(aws.backend('existing', { dynamodb_table: 'absent' })),
    component: 'web',
    stack: 'dev',
  });
  assert.deepEqual(failed(missing), [
    {
      step: 'lock',
      ok: false,
      detail: "DynamoDB table 'absent' does not exist",
      fix: 'strata doctor backend web -s dev --bootstrap',
    },
  ]);
  const created = await dynamodbRequest(target(), 'CreateTable', {
    TableName: 'wrong-key',
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  });
  assert.equal(created.status, 200, created.body);
  const wrong = await doctorBackend({
    cwd: project(aws.backend('existing', { dynamodb_table: 'wrong-key' })),
    component: 'web',
    stack: 'dev',
  });
  assert.match(failed(wrong)[0]?.detail ?? '', /table 'wrong-key' has hash key 'id'; Terraform needs 'LockID'/);
  const none = await doctorBackend({ cwd: project(aws.backend('existing')), component: 'web', stack: 'dev' });
  assert.equal(failed(none)[0]?.step, 'lock');
  assert.match(failed(none)[0]?.fix ?? '', /dynamodb_table .* or use_lockfile: true/);
});

test('red: no credentials anywhere, and an endpoint nobody listens on', { skip }, async () => {
  const bare = await doctorBackend({
    cwd: project(aws.backend('existing', { dynamodb_table: 'tf-locks' }), {
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_ACCESS_KEY_ID: '',
    }),
    component: 'web',
    stack: 'dev',
  });
  assert.equal(failed(bare)[0]?.step, 'credentials');
  assert.match(failed(bare)[0]?.detail ?? '', /no keys for profile 'default' in \/nonexistent\/credentials/);
  assert.match(failed(bare)[0]?.fix ?? '', /AWS_ACCESS_KEY_ID/);

  const port = await closedPort();
  const down = await doctorBackend({
    cwd: project(aws.backend('existing', { endpoints: { s3: `http://127.0.0.1:${port}`, dynamodb: aws.dynamodb } })),
    component: 'web',
    stack: 'dev',
  });
  assert.equal(failed(down)[0]?.step, 'bucket reachable');
  assert.match(
    failed(down)[0]?.detail ?? '',
    new RegExp(`cannot reach S3 at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
  );
});

test('red: use_lockfile on a server without conditional writes lets a second taker in', { skip }, async () => {
  const report = await doctorBackend({
    cwd: project(aws.backend('existing', { use_lockfile: true })),
    component: 'web',
    stack: 'dev',
  });
  assert.equal(report.ok, false, JSON.stringify(report, null, 2));
  assert.equal(report.checks.find((c) => c.step === 'lock')?.ok, true);
  const refused = report.checks.find((c) => c.step === 'second taker is refused');
  assert.equal(refused?.ok, false);
  assert.match(refused?.detail ?? '', /this backend does not lock/);
});
