// Terraform's real s3 backend against s3rver (S3) and dynalite (DynamoDB) on loopback: the backend strata generates,
// per-stack state objects, the lock, and !terraform.state read straight from S3.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { type AwsTarget, dynamodbRequest } from '../../src/components/terraform/aws.ts';
import { readState, readTerraformOutput } from '../../src/components/terraform/outputs.ts';
import { stateObjectKey } from '../../src/components/terraform/s3.ts';
import { loadEngine } from '../../src/stacks/index.ts';
import { FAKE_KEYS, type FakeAws, pathWithoutTerraform, startFakeAws } from '../helpers/aws.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';
import { BACKEND_ATMOS_YAML } from '../journeys/helpers.ts';
import { HOLD_TF, SLOW_TF, tempDir, writeTree } from './helpers.ts';

const skip = spawnSync('terraform', ['version']).status === 0 ? false : 'terraform is not installed';
const dir = tempDir('s3');
const TOOL_ENV = { CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '' };
let aws: FakeAws;

function stack(
  stage: string,
  backend: Record<string, unknown>,
  components: string,
  env: Record<string, string> = FAKE_KEYS,
) {
  return `vars:
  stage: ${stage}
env: ${JSON.stringify(env)}
terraform:
  backend_type: s3
  backend:
    s3: ${JSON.stringify(backend)}
components:
  terraform:
${components}`;
}

const target = (): AwsTarget => ({
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', source: 'test' },
  s3Endpoint: aws.s3,
  pathStyle: true,
  dynamodbEndpoint: aws.dynamodb,
});

const STORE = (stage: string, sleep = 0) => `    infra/slow:
      vars: {name: item-${stage}, sleep: ${sleep}}
`;

before(async () => {
  if (skip) return;
  aws = await startFakeAws({ buckets: ['tfstate'] });
  const backend = aws.backend('tfstate', { dynamodb_table: 'tf-locks' });
  writeTree(dir.path, {
    'atmos.yaml': BACKEND_ATMOS_YAML,
    'components/terraform/infra/slow/main.tf': SLOW_TF,
    'stacks/dev.yaml': stack('dev', backend, STORE('dev')),
    'stacks/prod.yaml': stack(
      'prod',
      backend,
      `${STORE('prod')}    reader:
      metadata: {component: infra/slow}
      vars:
        name: !terraform.state infra/slow dev .name
`,
    ),
    'stacks/qa.yaml': stack('qa', { ...backend, bucket: 'missing-bucket' }, STORE('qa')),
    'stacks/files.yaml': stack('files', backend, STORE('files'), {
      AWS_SHARED_CREDENTIALS_FILE: join(dir.path, 'aws-credentials'),
      AWS_PROFILE: 'lab',
    }),
    'stacks/nokeys.yaml': stack('nokeys', backend, STORE('nokeys'), {
      AWS_SHARED_CREDENTIALS_FILE: join(dir.path, 'aws-credentials'),
    }),
    'aws-credentials': '[default]\n# nothing here\n[lab]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n',
    'stacks/badkeys.yaml': stack('badkeys', backend, STORE('badkeys'), {
      AWS_ACCESS_KEY_ID: 'NOBODY',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    }),
    'stacks/ops.yaml': stack(
      'ops',
      { ...backend, profile: 'ops', assume_role: { role_arn: 'arn:aws:iam::1:role/tf' }, role_arn: 'r', encrypt: true },
      STORE('ops'),
    ),
  });
  const table = await dynamodbRequest(target(), 'CreateTable', {
    TableName: 'tf-locks',
    AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  });
  assert.equal(table.status, 200, table.body);
});
after(async () => {
  await aws?.stop();
  dir.cleanup();
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { cwd: dir.path, env: { ...TOOL_ENV, ...env } });

test('the generated s3 backend: Atmos key prefix per component, role and profile passed through', {
  skip,
}, async () => {
  const described = cli(['describe', 'component', 'infra/slow', '-s', 'prod', '--format', 'json']);
  assert.equal(described.code, 0, described.stderr);
  const prod = JSON.parse(described.stdout);
  assert.equal(prod.backend.workspace_key_prefix, 'infra-slow');
  assert.equal(prod.workspace, 'prod');
  assert.equal(prod.backend_type, 's3');
  const dev = JSON.parse(cli(['describe', 'component', 'infra/slow', '-s', 'dev', '--format', 'json']).stdout);
  assert.equal(dev.workspace, 'dev');
  assert.equal(dev.backend.dynamodb_table, 'tf-locks');

  const generated = cli(['terraform', 'generate', 'backend', 'infra/slow', '-s', 'ops']);
  assert.equal(generated.code, 0, generated.stderr);
  const file = JSON.parse(readFileSync(join(dir.path, 'components/terraform/infra/slow/backend.tf.json'), 'utf8'));
  const s3 = file.terraform.backend.s3;
  assert.equal(s3.profile, 'ops');
  assert.deepEqual(s3.assume_role, { role_arn: 'arn:aws:iam::1:role/tf' });
  assert.equal(s3.workspace_key_prefix, 'infra-slow');
  assert.equal(s3.key, 'terraform.tfstate');
  assert.deepEqual([s3.role_arn, s3.encrypt, s3.use_path_style], ['r', true, true]);
  assert.deepEqual(s3.endpoints, { s3: aws.s3, dynamodb: aws.dynamodb });
  // strata does not assume roles: such a backend's outputs are left to `terraform output`.
  const engine = await loadEngine({ cwd: dir.path });
  const ops = await engine.describeComponent('infra/slow', 'ops', { kind: 'terraform' });
  assert.equal(await readState(engine.config, ops), 'unsupported');
});

test('two stacks deploy to their own state objects; !terraform.state reads S3 without Terraform', { skip }, () => {
  for (const stage of ['dev', 'prod']) {
    const run = cli(['terraform', 'deploy', 'infra/slow', '-s', stage]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
  }
  assert.deepEqual(aws.objects('tfstate'), ['infra-slow/dev/terraform.tfstate', 'infra-slow/prod/terraform.tfstate']);
  const state = (stage: string) =>
    JSON.parse(readFileSync(join(aws.dir, 'tfstate', 'infra-slow', stage, 'terraform.tfstate._S3rver_object'), 'utf8'));
  assert.equal(state('dev').outputs.name.value, 'item-dev');
  assert.equal(state('prod').outputs.name.value, 'item-prod');

  // No terraform on PATH: the value can only come from S3 itself.
  const described = cli(['describe', 'component', 'reader', '-s', 'prod', '--format', 'json'], {
    PATH: pathWithoutTerraform(),
  });
  assert.equal(described.code, 0, described.stderr);
  assert.equal(JSON.parse(described.stdout).vars.name, 'item-dev');
});

test('a missing bucket or state object: errors name the stack, component, bucket and key', { skip }, async () => {
  const engine = await loadEngine({ cwd: dir.path });
  await assert.rejects(
    readTerraformOutput(engine, { component: 'infra/slow', stack: 'qa', expression: 'name' }, 'state'),
    (error: Error & { details?: string; hint?: string }) => {
      assert.match(
        error.message,
        /'infra\/slow' in stack 'qa' from s3:\/\/missing-bucket\/infra-slow\/qa\/terraform\.tfstate/,
      );
      assert.match(error.details ?? '', /bucket 'missing-bucket' does not exist/);
      assert.match(error.hint ?? '', /strata doctor backend infra\/slow -s qa --bootstrap/);
      return true;
    },
  );
  const described = cli(['describe', 'component', 'infra/slow', '-s', 'qa', '--format', 'json']);
  assert.equal(described.code, 0);
  const never = JSON.parse(described.stdout);
  assert.equal(
    stateObjectKey({ key: never.backend.key, workspaceKeyPrefix: never.backend.workspace_key_prefix }, 'qa'),
    'infra-slow/qa/terraform.tfstate',
  );
});

test('credentials from a shared credentials file profile; a state object not written yet is "not provisioned"', {
  skip,
}, async () => {
  const engine = await loadEngine({ cwd: dir.path });
  await assert.rejects(
    readTerraformOutput(engine, { component: 'infra/slow', stack: 'files', expression: 'name' }, 'state'),
    (error: Error & { details?: string }) => {
      assert.match(error.message, /component 'infra\/slow' in stack 'files' is not provisioned/);
      assert.match(error.details ?? '', /no state object s3:\/\/tfstate\/infra-slow\/files\/terraform\.tfstate/);
      return true;
    },
  );
  assert.equal(
    await readTerraformOutput(
      engine,
      { component: 'infra/slow', stack: 'files', expression: '.name // "none"' },
      'state',
    ),
    'none',
  );
  await assert.rejects(
    readTerraformOutput(engine, { component: 'infra/slow', stack: 'nokeys', expression: 'name' }, 'state'),
    (error: Error & { details?: string }) => {
      assert.match(
        error.message,
        /'infra\/slow' in stack 'nokeys' from s3:\/\/tfstate\/infra-slow\/nokeys\/terraform\.tfstate/,
      );
      assert.match(error.details ?? '', /no AWS credentials: .*no keys for profile 'default' in .*aws-credentials/);
      return true;
    },
  );
});

/** The CLI started without blocking (the servers and the other runs go on meanwhile). */
function startCli(cwd: string, args: string[]) {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'strata.js'), ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...TOOL_ENV },
  });
  let text = '';
  let stdout = '';
  let signal: () => void = () => {};
  const provisioning = new Promise<void>((resolve) => {
    signal = resolve;
  });
  const collect = (chunk: Buffer) => {
    text += chunk.toString();
    if (text.includes('Provisioning with')) signal();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    collect(chunk);
  });
  child.stderr.on('data', collect);
  const done = new Promise<{ code: number; text: string; stdout: string }>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? 1, text, stdout })),
  );
  return { provisioning, done };
}

test('six concurrent applies on one stack: one holds the DynamoDB lock, five are refused naming the holder', {
  skip,
}, async () => {
  const signals = join(dir.path, 'signals');
  writeTree(dir.path, {
    'components/terraform/hold/main.tf': HOLD_TF,
    'signals/.keep': '',
    'stacks/lock.yaml': stack(
      'lock',
      aws.backend('tfstate', { dynamodb_table: 'tf-locks' }),
      `    hold:\n      vars: {name: first, signal_dir: ${signals}}\n`,
    ),
  });
  // Six checkouts of the repository, as six CI runners would have.
  const checkouts = Array.from({ length: 6 }, (_, i) => {
    const copy = join(dir.path, `..`, `${basename(dir.path)}-runner-${i}`);
    cpSync(dir.path, copy, { recursive: true, filter: (from) => !from.includes('.terraform') });
    return copy;
  });
  try {
    const first = startCli(checkouts[0], ['terraform', 'deploy', 'hold', '-s', 'lock']);
    await first.provisioning;
    const others = await Promise.all(
      checkouts.slice(1).map((cwd) => startCli(cwd, ['terraform', 'deploy', 'hold', '-s', 'lock']).done),
    );
    // A multi-component run's summary (what PR comments are made of) names the holder too.
    const all = await startCli(checkouts[5], ['terraform', 'plan', '--all', '-s', 'lock', '--format', 'json']).done;
    assert.equal(all.code, 1, all.text);
    const failure = JSON.parse(all.stdout).results[0];
    assert.equal(failure.result, 'failed');
    assert.match(
      failure.error,
      /^terraform plan failed for hold@lock \(exit code 1\): the state of 'hold' in stack 'lock' is locked by another run \(root@\S+, apply, since .* UTC\); .*force-unlock hold -s lock -force [0-9a-f-]{36}$/,
    );
    writeFileSync(join(signals, 'release'), '');
    const held = await first.done;
    assert.equal(held.code, 0, held.text);
    for (const other of others) {
      assert.equal(other.code, 1, other.text);
      assert.match(other.text, /Error acquiring the state lock/);
      assert.match(other.text, /ConditionalCheckFailedException/);
      assert.match(other.text, /locked by another run \(root@\S+, apply, since \d{4}-\d\d-\d\d [\d:]+ UTC\)/);
    }
    // A holder that vanished leaves its lock behind: the refusal names it and the command that removes it.
    const ghost = {
      ID: '0a1b2c3d-0000-4000-8000-000000000001',
      Operation: 'OperationTypePlan',
      Who: 'ghost@runner-7',
      Version: '1.11.4',
      Created: '2026-12-01T10:00:00Z',
      Path: 'tfstate/hold/lock/terraform.tfstate',
      Info: '',
    };
    const put = await dynamodbRequest(target(), 'PutItem', {
      TableName: 'tf-locks',
      Item: { LockID: { S: ghost.Path }, Info: { S: JSON.stringify(ghost) } },
    });
    assert.equal(put.status, 200, put.body);
    const refused = await startCli(checkouts[1], ['terraform', 'deploy', 'hold', '-s', 'lock']).done;
    assert.equal(refused.code, 1, refused.text);
    const unlock = /strata terraform force-unlock .*$/m.exec(refused.text)?.[0] ?? '';
    assert.equal(unlock, `strata terraform force-unlock hold -s lock -force ${ghost.ID}`, refused.text);
    assert.match(refused.text, /locked by another run \(ghost@runner-7, plan, since 2026-12-01 10:00:00 UTC\)/);
    const unlocked = await startCli(checkouts[1], unlock.split(' ').slice(1)).done;
    assert.equal(unlocked.code, 0, unlocked.text);
    const again = await startCli(checkouts[1], ['terraform', 'deploy', 'hold', '-s', 'lock']).done;
    assert.equal(again.code, 0, again.text);
  } finally {
    for (const copy of checkouts) rmSync(copy, { recursive: true, force: true });
  }
  assert.deepEqual(
    aws.objects('tfstate').filter((k) => k.startsWith('hold/')),
    ['hold/lock/terraform.tfstate'],
  );
});

test('S3 refusing the credentials: the error names the stack, component, object and where the keys came from', {
  skip,
}, async () => {
  const engine = await loadEngine({ cwd: dir.path });
  await assert.rejects(
    readTerraformOutput(engine, { component: 'infra/slow', stack: 'badkeys', expression: 'name' }, 'state'),
    (error: Error & { details?: string; hint?: string }) => {
      assert.match(
        error.message,
        /'infra\/slow' in stack 'badkeys' from s3:\/\/tfstate\/infra-slow\/badkeys\/terraform\.tfstate/,
      );
      assert.match(error.details ?? '', /S3 answered 403 InvalidAccessKeyId/);
      assert.match(error.hint ?? '', /credentials \(environment \(AWS_ACCESS_KEY_ID\)\) may not read the bucket/);
      return true;
    },
  );
});
