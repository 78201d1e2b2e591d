/** The HTML reports as text: self-contained, secrets masked, the timeline placed after parents, names escaped. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { planReportHtml } from '../../src/gitops/summary-html.ts';
import { writeReports } from '../../src/operator/report.ts';
import { manifestDiagram, reportHtml } from '../../src/operator/report-html.ts';
import type { RunResult } from '../../src/operator/types.ts';
import { globalMasker } from '../../src/util/mask.ts';

const RESULT: RunResult = {
  scenario: 'manifest-test-lab',
  verb: 'test',
  manifest: 'lab',
  stack: 'dev',
  success: false,
  duration_seconds: 9,
  phases: [
    { name: 'create', status: 'passed', duration: 7 },
    { name: 'verify', status: 'failed', duration: 2, message: 'port closed on <web>' },
  ],
  nodes: [
    { name: 'host', status: 'completed', vm_id: 100, duration: 4 },
    { name: 'web', status: 'failed', duration: 2, error: 'token html-secret-value rejected' },
    { name: 'solo', status: 'completed', duration: 1 },
  ],
  context: {},
  error: 'verify failed: html-secret-value',
  leftover: [{ node: 'web', vm_ids: [101], host: 'https://pve:8006', error: 'busy' }],
};

const MANIFEST = {
  nodes: [
    { name: 'host', type: 'pve' as const, vmid: 100 },
    { name: 'web', type: 'vm' as const, parent: 'host' },
    { name: 'solo', type: 'vm' as const },
  ],
};

test('manifest test HTML: written with the other reports, masked, nothing fetched, bars after their parent', async () => {
  globalMasker.add('html-secret-value');
  const dir = mkdtempSync(join(tmpdir(), 'strata-html-'));
  try {
    const paths = await writeReports(dir, RESULT, new Date(2026, 0, 2, 3, 4, 5), ['json', 'md', 'html'], MANIFEST);
    assert.equal(paths.html, join(dir, '20260102-030405.failed.html'));
    const html = readFileSync(paths.html, 'utf8');
    assert.doesNotMatch(html, /html-secret-value/);
    assert.match(html, /token \*\*\* rejected/);
    assert.doesNotMatch(html, /<script|<link|src="http|href="http|url\((?!#)/, 'self-contained: no script, no fetch');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.match(html, /port closed on &lt;web&gt;/);
    // web starts when host is done (4s of 7s); solo has no parent and starts at 0.
    assert.match(html, /data-id="web">.*style="left:66\.67%;width:33\.33%"/);
    assert.match(html, /data-id="solo">.*style="left:0\.00%;width:16\.67%"/);
    assert.match(html, /<path class="edge" data-from="host" data-to="web"/);
    assert.match(html, /<g class="node status-failed" data-id="web"/);
    assert.match(html, /Left behind \(destroy failed\)/);
    assert.match(html, /<h2>Phases<\/h2>[\s\S]*<h2>Nodes<\/h2>/);
    const labels = [...html.matchAll(/data-label="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(labels, ['Manifest', 'Stack', 'Nodes', 'Failed nodes', 'Phases passed', 'Duration']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('manifest diagram: each node under its parent, labelled with its type and vmid', () => {
  assert.deepEqual(manifestDiagram(MANIFEST), {
    nodes: [
      { id: 'host', label: 'host\npve 100' },
      { id: 'web', label: 'web\nvm' },
      { id: 'solo', label: 'solo\nvm' },
    ],
    edges: [{ from: 'host', to: 'web' }],
  });
  assert.match(reportHtml({ ...RESULT, success: true }, new Date()), /id="verdict">PASSED</);
});

test('plan --affected HTML: counts, a bar per plan at its real start, failures masked', () => {
  globalMasker.add('plan-secret-value');
  const html = planReportHtml({
    range: 'abc1234...def5678',
    entries: [
      {
        component: 'net',
        stack: 'dev',
        plan: {
          resource_changes: [
            { address: 'terraform_data.a', change: { actions: ['create'] } },
            { address: 'terraform_data.b', change: { actions: ['delete'] } },
          ],
        },
      },
      { component: 'web', stack: 'dev', error: 'Error: password plan-secret-value is wrong' },
      { component: 'dns', stack: 'dev', plan: { resource_changes: [] } },
      {
        component: 'app',
        stack: 'dev',
        plan: { resource_changes: [{ address: 'terraform_data.c', change: { actions: ['update'] } }] },
      },
    ],
    runs: [
      { component: 'net', stack: 'dev', result: 'succeeded', startedMs: 0, durationMs: 2000 },
      { component: 'web', stack: 'dev', result: 'failed', startedMs: 2000, durationMs: 2000 },
    ],
    edges: [{ from: 'net@dev', to: 'web@dev' }],
    skipped: [{ component: 'chart', stack: 'dev', reason: 'helmfile component' }],
  });
  assert.doesNotMatch(html, /plan-secret-value/);
  assert.match(html, /password \*\*\* is wrong/);
  assert.match(html, /data-label="To destroy"><dt>To destroy<\/dt><dd>1<\/dd>/);
  assert.match(html, /data-label="Failed plans"><dt>Failed plans<\/dt><dd>1<\/dd>/);
  assert.match(html, /data-id="web@dev">.*class="bar status-failed".*style="left:50\.00%;width:50\.00%"/);
  assert.match(html, /<g class="node status-destroys" data-id="net@dev"/);
  assert.match(html, /<g class="node status-failed" data-id="web@dev"/);
  assert.match(html, /<g class="node status-unchanged" data-id="dns@dev"/);
  assert.match(html, /<g class="node status-changes" data-id="app@dev"/);
  const labels = [...html.matchAll(/data-label="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(labels, ['Range', 'Instances', 'To add', 'To change', 'To destroy', 'Failed plans', 'Not planned']);
  assert.match(html, /<td>app@dev<\/td><td>update<\/td><td>terraform_data\.c<\/td>/);
  assert.match(html, /<td>destroy<\/td><td>terraform_data\.b<\/td>/);
  assert.match(html, /<td>chart@dev<\/td><td>helmfile component<\/td>/);
});
