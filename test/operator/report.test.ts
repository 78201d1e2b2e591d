import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ProgressView } from '../../src/cli/operator-progress.ts';
import { reportMarkdown, writeReports } from '../../src/operator/report.ts';
import type { RunResult } from '../../src/operator/types.ts';
import { globalMasker } from '../../src/util/mask.ts';

const RESULT: RunResult = {
  scenario: 'manifest-test-lab',
  verb: 'test',
  manifest: 'lab',
  stack: 'dev',
  success: false,
  duration_seconds: 12.34,
  phases: [
    { name: 'create', status: 'passed', duration: 10, message: '2 node(s) created' },
    { name: 'verify', status: 'failed', duration: 2, message: 'Verify failed: a | b' },
    { name: 'destroy', status: 'passed', duration: 0.3, message: 'Cleaned up after failure' },
  ],
  nodes: [
    { name: 'a', status: 'completed', vm_id: 100, ip: '10.0.0.5', duration: 4.2 },
    { name: 'b', status: 'failed', error: 'token super-secret-value rejected' },
  ],
  context: { a_vm_id: 100, a_ip: '10.0.0.5', vm_ip: '10.0.0.5' },
  error: 'Verify failed: a',
};

test('reports: YYYYMMDD-HHMMSS.{passed|failed}.{json,md}, seed fields, secrets masked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-reports-'));
  try {
    globalMasker.add('super-secret-value');
    const { json, md } = await writeReports(dir, RESULT, new Date(2026, 10, 22, 3, 4, 5));
    assert.equal(json, join(dir, '20261122-030405.failed.json'));
    assert.equal(md, join(dir, '20261122-030405.failed.md'));
    const data = JSON.parse(readFileSync(json, 'utf8'));
    for (const key of ['scenario', 'success', 'duration_seconds', 'phases', 'context', 'error'])
      assert.ok(key in data, key);
    assert.equal(data.nodes[1].error, 'token *** rejected');
    const text = readFileSync(md, 'utf8');
    assert.match(text, /^# manifest-test-lab\n/);
    assert.match(text, /\*\*Status\*\*: FAILED/);
    assert.match(text, /\| verify \| ❌ failed \| 2\.0s \| Verify failed: a \\\| b \|/);
    assert.match(text, /\| a \| completed \| 100 \| 10\.0\.0\.5 \| 4\.2s \|/);
    assert.doesNotMatch(text, /super-secret-value/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => out };
}

test('progress: one line per transition in logs, the table redrawn in place on a terminal', () => {
  const plain = capture();
  const view = new ProgressView(['a', 'b'], plain.stream, false);
  view.update({ node: 'a', status: 'running', phase: 'clone', vm_id: 100 });
  view.update({ node: 'a', status: 'running', phase: 'clone', vm_id: 100 });
  view.update({ node: 'a', status: 'completed', vm_id: 100, ip: '10.0.0.5' });
  view.update({ node: 'b', status: 'failed', error: 'boom\nmore' });
  view.log('b: removed with its host');
  assert.equal(
    plain.text(),
    '… a running (clone)  vm 100\n✓ a completed  vm 100  10.0.0.5\n✗ b failed  boom\nb: removed with its host\n',
  );

  const tty = capture();
  const live = new ProgressView(['a', 'b'], tty.stream, true);
  live.update({ node: 'a', status: 'running', phase: 'start' });
  live.update({ node: 'b', status: 'running', phase: 'clone' });
  const frames = tty.text().split('\u001b[2F');
  assert.equal(frames.length, 2, 'the second frame moves up over the first');
  assert.match(frames[1], /\u001b\[2K… a running \(start\)\n\u001b\[2K… b running \(clone\)\n$/);
  live.log('note: adopted');
  assert.match(
    tty.text(),
    /\u001b\[2F\u001b\[0Jnote: adopted\n\u001b\[2K… a running \(start\)\n\u001b\[2K… b running \(clone\)\n$/,
  );
});

test('reports list the VMs a failed destroy left, by id', () => {
  const left: RunResult = {
    ...RESULT,
    leftover: [{ node: 'b', vm_ids: [302], host: 'https://pve:8006', error: 'qmdestroy 302 failed\nmore' }],
  };
  const markdown = reportMarkdown(left, new Date());
  assert.match(markdown, /## Left behind\n\n.*\n\n- VM 302 \(node b\) on https:\/\/pve:8006: qmdestroy 302 failed\n/);
});
