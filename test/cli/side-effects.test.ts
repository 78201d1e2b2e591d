/**
 * describe and validate have no side effects (issue 19): on a repository whose stacks read `!terraform.state` from a
 * backend strata cannot reach, they leave every file as it was, `--process-functions=false` / `--skip` print the
 * raw function, and without them the failure names the stack, the component, the call and the file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { makeRepo, type Repo } from '../stacks/fixtures.ts';

/** Every file under the repository (but .git) with a hash of its content. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (name === '.git') continue;
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const CALL = '!terraform.state vpc .vpc_id';
let repo: Repo;
let before_: Record<string, string>;

before(() => {
  repo = makeRepo({
    'components/terraform/vpc/main.tf': 'output "vpc_id" {\n  value = "vpc-1"\n}\n',
    'components/terraform/app/main.tf': 'variable "vpc_id" {\n  type = string\n}\n',
    'stacks/deploy/dev.yaml': [
      'name: dev',
      'vars: {stage: dev}',
      'terraform:',
      '  backend_type: s3',
      '  backend: {s3: {bucket: unreachable-bucket, key: state, region: us-east-1}}',
      'components:',
      '  terraform:',
      '    vpc: {vars: {}}',
      '    app:',
      '      vars:',
      `        vpc_id: ${CALL}`,
    ].join('\n'),
  });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo.dir, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'stacks');
  before_ = snapshot(repo.dir);
});
after(() => repo.cleanup());

const unchanged = () => assert.deepEqual(snapshot(repo.dir), before_, 'the tree is unchanged, byte for byte');

test('validate stacks only merges: no function runs, nothing is written', () => {
  const result = runCli(['validate', 'stacks'], { cwd: repo.dir });
  assert.equal(result.code, 0, result.stderr);
  unchanged();
});

test('describe stacks --process-functions=false prints the raw tag and writes nothing', () => {
  const result = runCli(['describe', 'stacks', '--process-functions=false', '--format', 'json'], { cwd: repo.dir });
  assert.equal(result.code, 0, result.stderr);
  const data = JSON.parse(result.stdout);
  assert.equal(data.dev.components.terraform.app.vars.vpc_id, CALL);
  unchanged();
});

test('describe component --skip terraform.state leaves that function raw', () => {
  const result = runCli(['describe', 'component', 'app', '-s', 'dev', '--skip', 'terraform.state'], { cwd: repo.dir });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(parseYaml(result.stdout).vars.vpc_id, CALL);
  unchanged();
});

test('describe stacks without the flags fails naming the stack, component, call and file, and writes nothing', () => {
  const result = runCli(['describe', 'stacks'], { cwd: repo.dir });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /!terraform\.state vpc \.vpc_id in component 'app' \(stack 'dev'\)/);
  assert.match(result.stderr, /stacks\/deploy\/dev\.yaml/);
  assert.match(result.stderr, /--process-functions=false/);
  unchanged();
});

test('validate stacks --process-functions=true evaluates and reports the failing call', () => {
  const result = runCli(['validate', 'stacks', '--process-functions=true'], { cwd: repo.dir });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /!terraform\.state vpc \.vpc_id in component 'app'/);
  unchanged();
});

test('describe affected runs offline with --process-functions=false and fails naming the call without it', () => {
  // Dependents need every instance evaluated (without them, only what a change reaches is: issue 14).
  const affected = ['describe', 'affected', '--ref', 'main', '--include-dependents'];
  const offline = runCli([...affected, '--process-functions=false'], { cwd: repo.dir });
  assert.equal(offline.code, 0, offline.stderr);
  assert.deepEqual(JSON.parse(offline.stdout), []);
  const online = runCli(affected, { cwd: repo.dir });
  assert.equal(online.code, 1);
  assert.match(online.stderr, /!terraform\.state vpc \.vpc_id/);
  unchanged();
});

test('a flag value other than true or false is a usage error', () => {
  const result = runCli(['describe', 'stacks', '--process-functions=no'], { cwd: repo.dir });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /takes true or false/);
});
