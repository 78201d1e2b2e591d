// strata's own words are checked before any tool runs: a misspelt strata flag or an unknown terraform subcommand is
// a usage error (exit 2) with a did-you-mean, and no init ran (no .terraform folder).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { cliEnv, makeRepo } from './fixture.ts';

const repo = makeRepo('early', { components: { terraform: { app: { vars: { name: 'a' } } } } });
after(() => repo.cleanup());
const dataDir = join(repo.path, 'components/terraform/app/.terraform');

test('terraform plna: unknown subcommand, did-you-mean plan, exit 2, before init', () => {
  const result = runCli(['terraform', 'plna', 'app', '-s', 'dev'], { cwd: repo.path, env: cliEnv() });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /unknown terraform command 'plna'/);
  assert.match(result.stderr, /Did you mean 'plan'\?/);
  assert.equal(existsSync(dataDir), false, 'init never ran');
});

test('--dryrun: a misspelt strata flag, did-you-mean --dry-run, exit 2, before init', () => {
  for (const args of [
    ['terraform', 'plan', 'app', '-s', 'dev', '--dryrun'],
    ['terraform', 'plan', '--componets', 'app', '-s', 'dev'],
  ]) {
    const result = runCli(args, { cwd: repo.path, env: cliEnv() });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /unknown flag '--(dryrun|componets)'/);
    assert.match(result.stderr, /Did you mean '--(dry-run|components)'\?/);
    assert.equal(existsSync(dataDir), false, 'init never ran');
  }
});

test("Terraform's own two-dash flags pass through to the command line", () => {
  const result = runCli(
    ['terraform', 'plan', 'app', '-s', 'dev', '--dry-run', '--state=x.tfstate', '--auto-approve', '--lock=false'],
    { cwd: repo.path, env: cliEnv() },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /terraform plan .*--state=x\.tfstate --auto-approve --lock=false/);
});
