import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMENT_MARKER } from '../../src/gitops/ci.ts';
import { type PlanEntry, renderSummary } from '../../src/gitops/summary.ts';

const golden = join(dirname(fileURLToPath(import.meta.url)), 'golden');

const change = (address: string, ...actions: string[]) => ({ address, change: { actions } });
/** Fixed `terraform show -json` inputs (only the fields the summary reads, as Terraform 1.11 prints them). */
const entries: PlanEntry[] = [
  {
    component: 'network/vpc',
    stack: 'prod',
    plan: {
      format_version: '1.2',
      resource_changes: [
        change('terraform_data.subnet[0]', 'create'),
        change('terraform_data.subnet[1]', 'create'),
        change('terraform_data.route', 'update'),
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
  { component: 'cache', stack: 'dev', error: 'terraform plan failed for cache@dev (exit code 1)' },
];

test('PR summary markdown matches the golden file', () => {
  const summary = renderSummary(entries, { range: 'abc1234...def5678' });
  assert.equal(summary.truncated, false);
  assert.deepEqual(summary.totals, { add: 3, change: 1, destroy: 2 });
  assert.equal(summary.markdown, readFileSync(join(golden, 'summary.md.golden'), 'utf8'));
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
