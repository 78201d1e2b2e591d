// Journey: remote state as seed 004 keeps it, through the installed CLI against s3rver (S3) and dynalite (DynamoDB) on
// loopback. From nothing: bootstrap makes the bucket and lock table and doctor is green; two stacks of one component
// keep their state in their own S3 objects; a second apply while the first holds the lock is refused by DynamoDB;
// a component of one stack reads a value from the other stack's state object.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { FAKE_KEYS, type FakeAws, pathWithoutTerraform, startFakeAws } from '../helpers/aws.ts';
import { installedStrata } from '../helpers/installed.ts';
import { repoRoot } from '../helpers/shared.ts';
import { BACKEND_ATMOS_YAML, type Journey, journey, TOOL_ENV, waitFor } from './helpers.ts';

const skip = spawnSync('terraform', ['version']).status === 0 ? false : 'terraform is not installed';

let j: Journey;
let aws: FakeAws;
const env = TOOL_ENV;

before(async () => {
  if (skip) return;
  j = await journey('s3');
  aws = await startFakeAws();
  const backend = aws.backend('team-tfstate', { dynamodb_table: 'team-locks' });
  const stack = (stage: string, extra = '') => `vars:
  stage: ${stage}
env: ${JSON.stringify(FAKE_KEYS)}
terraform:
  backend_type: s3
  backend:
    s3: ${JSON.stringify(backend)}
components:
  terraform:
    network:
      vars:
        cidr: 10.${stage === 'dev' ? 1 : 2}.0.0/16
        signal_dir: ${j.out}
${extra}`;
  j.write({
    'atmos.yaml': BACKEND_ATMOS_YAML,
    'stacks/dev.yaml': stack('dev'),
    'stacks/prod.yaml': stack(
      'prod',
      `    peering:
      metadata: {component: network}
      vars:
        cidr: !terraform.state network dev .cidr
        signal_dir: ${j.out}
`,
    ),
    // The provisioner holds the apply (and so the state lock) while `hold` exists in the signal folder.
    'components/terraform/network/main.tf': `variable "cidr" { type = string }
variable "signal_dir" { type = string }
resource "terraform_data" "net" {
  input            = var.cidr
  triggers_replace = [timestamp()]
  provisioner "local-exec" {
    command = "touch '\${var.signal_dir}/applying'; i=0; while [ -f '\${var.signal_dir}/hold' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
  }
}
output "cidr" { value = terraform_data.net.output }
`,
  });
});

after(async () => {
  j?.cleanup();
  await aws?.stop();
});

test('S3 state with DynamoDB locking, bootstrapped from nothing, isolated per stack, read across stacks', {
  skip,
}, async () => {
  const doctor = await j.strata(['doctor', 'backend', 'network', '-s', 'dev', '--bootstrap', '--format', 'json'], {
    env,
  });
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  const report = JSON.parse(doctor.stdout);
  assert.equal(report.ok, true);
  assert.ok(report.checks.some((c: { step: string; ok: boolean }) => c.step === 'second taker is refused' && c.ok));

  for (const stage of ['dev', 'prod']) {
    const run = await j.strata(['terraform', 'deploy', 'network', '-s', stage], { env });
    assert.equal(run.code, 0, run.stdout + run.stderr);
  }
  // Each stack's state is its own object, under the component's key prefix (no state in the repository).
  assert.deepEqual(aws.objects('team-tfstate'), ['network/dev/terraform.tfstate', 'network/prod/terraform.tfstate']);
  const state = (stage: string) =>
    JSON.parse(
      readFileSync(join(aws.dir, 'team-tfstate', 'network', stage, 'terraform.tfstate._S3rver_object'), 'utf8'),
    );
  assert.equal(state('dev').outputs.cidr.value, '10.1.0.0/16');
  assert.equal(state('prod').outputs.cidr.value, '10.2.0.0/16');

  // A second runner's apply while the first holds the lock: refused by DynamoDB's conditional write.
  const hold = join(j.out, 'hold');
  writeFileSync(hold, '');
  rmSync(join(j.out, 'applying'), { force: true });
  const runner2 = join(j.root, 'runner-2');
  cpSync(j.repo, runner2, { recursive: true, filter: (from) => !from.includes('.terraform') });
  const first = j.start(['terraform', 'deploy', 'network', '-s', 'dev'], { env });
  try {
    assert.ok(await waitFor(() => existsSync(join(j.out, 'applying')), 60_000), 'the first apply is running');
    const second = await j.strata(['terraform', 'deploy', 'network', '-s', 'dev'], { env, cwd: runner2 });
    assert.equal(second.code, 1, second.stdout + second.stderr);
    assert.match(second.stderr, /Error acquiring the state lock/);
    assert.match(second.stderr, /ConditionalCheckFailedException/);
  } finally {
    rmSync(hold, { force: true });
  }
  const held = await first.done;
  assert.equal(held.code, 0, held.stdout + held.stderr);
  rmSync(runner2, { recursive: true, force: true });

  // prod's peering reads dev's output from the S3 object: no terraform on PATH for this.
  const described = await j.strata(['describe', 'component', 'peering', '-s', 'prod', '--format', 'json'], {
    env: { ...env, PATH: pathWithoutTerraform() },
  });
  assert.equal(described.code, 0, described.stderr);
  assert.equal(JSON.parse(described.stdout).vars.cidr, '10.1.0.0/16');
});

/** The README's "Remote state" section: its YAML setting and its commands (without comments). */
function readmeRemoteState(): { yaml: string; commands: string[] } {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('### Remote state\n');
  assert.ok(start >= 0, 'README has a "### Remote state" section');
  const section = readme.slice(start);
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const bash = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const commands = bash
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
  return { yaml, commands };
}

test("the README's remote state for the homelab example: one setting, then its commands as written", {
  skip,
}, async () => {
  const example = join(repoRoot, 'examples', 'homelab');
  const project = join(j.root, 'homelab');
  const generated = /(^|\/)(\.terraform|\.strata|reports|terraform\.tfstate\.d)(\/|$)/;
  cpSync(example, project, { recursive: true, filter: (path) => !generated.test(relative(example, path)) });
  symlinkSync(join((await installedStrata()).project, 'node_modules'), join(j.root, 'node_modules'));
  // The example's state is local; the README's setting replaces that backend of k3s-cluster.
  const catalog = join(project, 'stacks', 'catalog', 'proxmox.yaml');
  const local = '      backend_type: local\n      backend:\n        local:\n          path: terraform.tfstate\n';
  const text = readFileSync(catalog, 'utf8');
  assert.ok(text.includes(local), 'the example keeps k3s-cluster state in local files');
  const { yaml, commands } = readmeRemoteState();
  // Only for the test: reach s3rver and dynalite instead of AWS.
  const offline = Object.entries(aws.backend('x'))
    .filter(([name]) => !['bucket', 'key', 'region'].includes(name))
    .map(([name, value]) => `          ${name}: ${JSON.stringify(value)}\n`)
    .join('');
  writeFileSync(catalog, text.replace(local, yaml + offline));

  assert.equal(commands.length, 2);
  const [print, bootstrap] = commands;
  const env = { ...j.env, ...FAKE_KEYS };
  const printed = spawnSync('bash', ['-c', print], { cwd: project, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(printed.status, 0, printed.stdout + printed.stderr);
  assert.match(printed.stdout, /bucket = "homelab-tfstate"/);
  assert.match(printed.stdout, /name {9}= "homelab-tf-locks"/);
  assert.ok(!existsSync(join(aws.dir, 'homelab-tfstate')), '--print creates nothing');

  const created = spawnSync('bash', ['-c', bootstrap], { cwd: project, env, encoding: 'utf8', timeout: 300_000 });
  assert.equal(created.status, 0, created.stdout + created.stderr);
  assert.match(created.stdout, /ok: true/);
  assert.ok(existsSync(join(aws.dir, 'homelab-tfstate')), 'the bucket exists in s3rver');
  assert.match(created.stdout, /step: second taker is refused\n\s+ok: true/);
});
