// `strata terraform plan --affected`: only the instances a git change affects are planned, with the real terraform.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { cliEnv, makeRepo } from './fixture.ts';

const TF = `variable "name" {
  type = string
}

resource "terraform_data" "this" {
  input = var.name
}
`;

const repo = makeRepo(
  'affected',
  { components: { terraform: { web: { vars: { name: 'web-1' } }, db: { vars: { name: 'db-1' } } } } },
  { 'components/terraform/web/main.tf': TF, 'components/terraform/db/main.tf': TF },
);
after(() => repo.cleanup());

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo.path,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  });
}

test('plan --affected plans exactly the changed instance; an unchanged tree plans nothing', () => {
  git('init', '-q', '-b', 'main');
  writeFileSync(join(repo.path, '.gitignore'), '.terraform/\n*.tfstate*\n*.tfvars.json\n*.planfile\n.strata/\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'base');

  const none = runCli(['terraform', 'plan', '--affected', '--ref', 'HEAD', '-s', 'dev'], {
    cwd: repo.path,
    env: cliEnv(),
  });
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stderr, /No terraform component instance is affected/);

  const manifest = join(repo.path, 'stacks/deploy/dev.yaml');
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('db-1', 'db-2'));
  git('commit', '-q', '-am', 'change db');

  const result = runCli(['terraform', 'plan', '--affected', '--ref', 'HEAD~1', '-s', 'dev', '--format', 'json'], {
    cwd: repo.path,
    env: cliEnv(),
  });
  assert.equal(result.code, 0, result.stderr.slice(-3000));
  const summary = JSON.parse(result.stdout) as { results: Array<{ component: string; result: string; add?: number }> };
  assert.deepEqual(
    summary.results.map((r) => [r.component, r.result, r.add]),
    [['db', 'succeeded', 1]],
  );
});
