// Journey (issue 19): a repository shaped like real Atmos ones (test/fixtures/real-atmos) through the installed
// CLI: vendoring from a local git repository, a file store, Gomplate namespaces, a custom command, and
// describe/validate that stay offline and leave `git status` clean although a stack reads state from S3.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/shared.ts';
import { type Journey, journey } from './helpers.ts';

let j: Journey;

before(async () => {
  j = await journey('real-repos');
  cpSync(join(repoRoot, 'test', 'fixtures', 'real-atmos'), j.repo, { recursive: true });
  // The vendored module's upstream: a bare repository next to the project, tagged v1.0.0 and then changed.
  const work = join(j.root, 'upstream-work');
  mkdirSync(join(work, 'vpc'), { recursive: true });
  writeFileSync(join(work, 'vpc', 'main.tf'), 'output "vpc_id" {\n  value = "vpc-v1"\n}\n');
  writeFileSync(join(work, 'vpc', 'notes.md'), 'not vendored\n');
  const git = (cwd: string, ...args: string[]) => j.git('-C', cwd, ...args);
  git(j.root, 'init', '-q', '-b', 'main', work);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'v1');
  git(work, 'tag', 'v1.0.0');
  writeFileSync(join(work, 'vpc', 'main.tf'), 'output "vpc_id" {\n  value = "vpc-v2"\n}\n');
  git(work, 'commit', '-qam', 'v2');
  git(j.root, 'clone', '-q', '--bare', work, join(j.root, 'upstream', 'modules.git'));
  j.git('init', '-q', '-b', 'main');
});

after(() => j?.cleanup());

test('vendor pull, then describe and validate offline with a clean git status, then a custom command', async () => {
  const pulled = await j.strata(['vendor', 'pull', '--tags', 'networking']);
  assert.equal(pulled.code, 0, pulled.stderr);
  const vendored = readFileSync(join(j.repo, 'components', 'terraform', 'vpc', 'main.tf'), 'utf8');
  assert.match(vendored, /vpc-v1/, 'the tagged version, not the branch head');
  j.git('add', '-A');
  j.git('commit', '-qm', 'vendored');

  const offline = await j.strata(['describe', 'stacks', '--process-functions=false', '--format', 'json']);
  assert.equal(offline.code, 0, offline.stderr);
  const stacks = JSON.parse(offline.stdout);
  assert.equal(stacks.dev.components.terraform.app.vars.vpc_id, '!terraform.state vpc .vpc_id');
  assert.equal(stacks.dev.components.terraform.vpc.vars.name, 'DEV-a-b', 'Gomplate namespaces render');

  const skipped = await j.strata([
    'describe',
    'component',
    'vpc',
    '-s',
    'dev',
    '--skip',
    'terraform.state',
    '-f',
    'json',
  ]);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.equal(JSON.parse(skipped.stdout).vars.cidr, '10.9.0.0/16', 'the store value');

  const raw = await j.strata(['describe', 'component', 'vpc', '-s', 'dev', '--process-templates=false', '-f', 'json']);
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(
    JSON.parse(raw.stdout).vars.name,
    /^\{\{ \.vars\.stage \| regexp\.ReplaceLiteral/,
    'templates left as written',
  );

  const online = await j.strata(['describe', 'stacks']);
  assert.equal(online.code, 1);
  assert.match(online.stderr, /!terraform\.state vpc \.vpc_id in component 'app' \(stack 'dev'\)/);

  const validated = await j.strata(['validate', 'stacks']);
  assert.equal(validated.code, 0, validated.stderr);
  assert.equal(j.git('status', '--porcelain'), '', 'describe and validate wrote nothing');

  const custom = await j.strata(['show-cidr', 'vpc', '-s', 'dev']);
  assert.equal(custom.code, 0, custom.stderr);
  assert.equal(readFileSync(join(j.repo, 'cidr.out'), 'utf8').trim(), '10.9.0.0/16 DEV-a-b');
  const help = await j.strata(['--help']);
  assert.match(help.stdout, /show-cidr \[options\] <component>/);
});
