import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readZip } from '../../src/util/zip.ts';

test('readZip reads what zip(1) writes, stored and deflated, folders left out; anything else is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-zip-'));
  try {
    mkdirSync(join(dir, 'plans', '.hidden'), { recursive: true });
    const big = 'resource "terraform_data" "x" {}\n'.repeat(500);
    writeFileSync(join(dir, 'plans', 'web.plan.json'), big);
    writeFileSync(join(dir, 'plans', '.hidden', 'empty'), '');
    writeFileSync(join(dir, 'plans', 'bin.planfile'), Buffer.from([0, 1, 2, 255, 254]));
    for (const level of ['-0', '-9']) {
      const archive = join(dir, `a${level}.zip`);
      execFileSync('zip', ['-qr', level, archive, 'plans'], { cwd: dir });
      const entries = readZip(readFileSync(archive));
      assert.deepEqual([...entries.keys()].sort(), [
        'plans/.hidden/empty',
        'plans/bin.planfile',
        'plans/web.plan.json',
      ]);
      assert.equal(entries.get('plans/web.plan.json')?.toString(), big);
      assert.deepEqual([...(entries.get('plans/bin.planfile') ?? [])], [0, 1, 2, 255, 254]);
      assert.equal(entries.get('plans/.hidden/empty')?.length, 0);
    }
    assert.throws(() => readZip(Buffer.from('not a zip archive at all, just text')), /not a zip archive/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
