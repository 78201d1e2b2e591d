import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMENT_MARKER } from '../../src/gitops/ci.ts';
import { ciLogUrl, commitRange, type PlanEntry, renderSummary } from '../../src/gitops/summary.ts';
import { globalMasker } from '../../src/util/mask.ts';

const golden = join(dirname(fileURLToPath(import.meta.url)), 'golden');

const change = (address: string, ...actions: string[]) => ({ address, change: { actions } });
const detailed = (address: string, actions: string[], rest: Record<string, unknown>) => ({
  address,
  change: { actions, ...rest },
});
/** Fixed `terraform show -json` inputs (only the fields the summary reads, as Terraform 1.11 prints them). */
const entries: PlanEntry[] = [
  {
    component: 'network/vpc',
    stack: 'prod',
    plan: {
      format_version: '1.2',
      resource_changes: [
        detailed('terraform_data.subnet[0]', ['create'], {
          before: null,
          after: { input: '10.0.0.0/24', id: null, output: null, triggers_replace: null },
          after_unknown: { id: true, output: true },
          after_sensitive: {},
        }),
        change('terraform_data.subnet[1]', 'create'),
        detailed('terraform_data.route', ['update'], {
          before: { input: { gw: '10.0.0.1' }, id: 'r1', token: 'old-secret' },
          after: { input: { gw: '10.0.0.254' }, id: 'r1', token: 'new-secret' },
          after_unknown: {},
          before_sensitive: { token: true },
          after_sensitive: { token: true },
        }),
        change('data.terraform_remote_state.x', 'read'),
      ],
    },
  },
  {
    component: 'db',
    stack: 'prod',
    plan: {
      format_version: '1.2',
      resource_changes: [
        change('terraform_data.primary', 'delete', 'create'),
        change('terraform_data.replica', 'delete'),
        change('terraform_data.keep', 'no-op'),
      ],
    },
  },
  { component: 'app', stack: 'dev', plan: { format_version: '1.2', resource_changes: [] } },
  {
    component: 'cache',
    stack: 'dev',
    error: 'terraform plan failed for cache@dev (exit code 1)',
    details:
      'Error: Reference to undeclared input variable\n\n  on main.tf line 2, in resource "terraform_data" "x":\n   2:   input = var.nope',
  },
];

test('PR summary markdown matches the golden file', () => {
  const summary = renderSummary(entries, { range: 'abc1234...def5678' });
  assert.equal(summary.truncated, false);
  assert.deepEqual(summary.totals, { add: 3, change: 1, destroy: 2 });
  assert.equal(summary.markdown, readFileSync(join(golden, 'summary.md.golden'), 'utf8'));
  assert.doesNotMatch(summary.markdown, /old-secret|new-secret/, 'values Terraform marks sensitive are not shown');
});

test('an oversized summary is cut under the limit and the full text kept for the artifact', () => {
  const many: PlanEntry[] = Array.from({ length: 400 }, (_, i) => ({
    component: `svc-${i}`,
    stack: 'prod',
    plan: {
      resource_changes: Array.from({ length: 20 }, (_, j) =>
        change(`terraform_data.resource_${j}_${'x'.repeat(20)}`, 'create'),
      ),
    },
  }));
  const summary = renderSummary(many, { artifactName: 'strata-plan-full.md' });
  assert.equal(summary.truncated, true);
  assert.ok(summary.markdown.length <= 65_000, String(summary.markdown.length));
  assert.ok(summary.full.length > 65_536);
  assert.ok(summary.markdown.startsWith(COMMENT_MARKER));
  assert.match(summary.markdown, /full summary is in the artifact `strata-plan-full\.md`/);
  // The table lists every instance even when details are cut.
  assert.match(summary.markdown, /`svc-399`/);
  assert.equal(summary.markdown.split('<details>').length, summary.markdown.split('</details>').length);
});

test('the range names the working tree when uncommitted changes count, never one commit twice', () => {
  const [a, b] = ['a'.repeat(40), 'b'.repeat(40)];
  assert.equal(commitRange(a, b), 'aaaaaaa...bbbbbbb');
  assert.equal(commitRange(a, `${a}+uncommitted`), 'aaaaaaa...working tree');
  assert.equal(commitRange(a, `${b}+uncommitted`), 'aaaaaaa...bbbbbbb + working tree');
});

test('values a run registered as secrets are masked in attribute changes', () => {
  globalMasker.add('hunter2-registered');
  const plan = {
    resource_changes: [
      detailed('terraform_data.x', ['update'], {
        before: { input: 'plain' },
        after: { input: 'hunter2-registered' },
        after_unknown: {},
      }),
    ],
  };
  const summary = renderSummary([{ component: 'x', stack: 'dev', plan }]);
  assert.match(summary.markdown, /input: "plain" → "\*\*\*"/);
  assert.doesNotMatch(summary.markdown, /hunter2-registered/);
});

test("a failed plan links the CI job's log: GitHub and Gitea runs, GitLab jobs, nothing outside CI", () => {
  const github = { GITHUB_SERVER_URL: 'https://github.com/', GITHUB_REPOSITORY: 'acme/infra', GITHUB_RUN_ID: '42' };
  assert.equal(ciLogUrl(github), 'https://github.com/acme/infra/actions/runs/42');
  assert.equal(
    ciLogUrl({ CI_JOB_URL: 'https://gitlab.example/acme/infra/-/jobs/7' }),
    'https://gitlab.example/acme/infra/-/jobs/7',
  );
  assert.equal(ciLogUrl({ GITHUB_REPOSITORY: 'acme/infra' }), undefined);
  const summary = renderSummary([
    { component: 'db', stack: 'dev', error: 'terraform plan failed', logUrl: ciLogUrl(github) },
  ]);
  assert.match(summary.markdown, /\[the job's log\]\(https:\/\/github\.com\/acme\/infra\/actions\/runs\/42\)/);
});
