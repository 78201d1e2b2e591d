import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { listRecords, type RunRecord, resumableRecord, runsDir } from '../../src/workflows/index.ts';
import { writeRecord } from '../../src/workflows/record.ts';

function failedRun(id: string): RunRecord {
  return {
    id,
    version: 1,
    workflow: 'deploy',
    file: 'main.yaml',
    fileArg: 'main',
    status: 'failed',
    startedAt: '2026-01-01T00:00:00.000Z',
    pid: 999_999_999,
    steps: [{ name: 'a', type: 'shell', command: 'false', needs: [], status: 'failed', attempts: 1, output: [] }],
  };
}

test('a run record of the wrong shape is a clear error naming it; an older damaged one does not block --resume', () => {
  const base = mkdtempSync(join(tmpdir(), 'strata-records-'));
  try {
    writeRecord(base, failedRun('2026-01-01T00-00-00-000Z'));
    const older = join(runsDir(base, 'deploy'), '2025-12-31T00-00-00-000Z.json');
    writeFileSync(older, '{"steps":"x"}');
    assert.equal(resumableRecord(base, 'deploy').id, '2026-01-01T00-00-00-000Z');
    assert.throws(
      () => listRecords(base, 'deploy'),
      (error: StrataError) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.message, `run record ${older} has the wrong shape: id is missing`);
        assert.match(error.hint ?? '', /move it away \(mv .*\.bad\): it is only used by --resume/);
        return true;
      },
    );
    const newest = join(runsDir(base, 'deploy'), '2026-02-01T00-00-00-000Z.json');
    writeFileSync(newest, JSON.stringify({ ...failedRun('x'), steps: [{ name: 'a', status: 'exploded' }] }));
    assert.throws(() => resumableRecord(base, 'deploy'), /steps\[0\]\.type is missing/);
    writeFileSync(
      newest,
      JSON.stringify({ ...failedRun('x'), steps: [{ ...failedRun('x').steps[0], status: 'exploded' }] }),
    );
    assert.throws(
      () => resumableRecord(base, 'deploy'),
      /steps\[0\]\.status must be one of .*found the string "exploded"/,
    );
    writeFileSync(newest, '{"torn');
    assert.throws(() => resumableRecord(base, 'deploy'), /unreadable run record .*2026-02-01/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
