// Shared var files: the last run using a file removes it; a run that died does not keep it alive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { useSharedFile } from '../../src/components/file-users.ts';

const usersDir = (path: string) =>
  join(tmpdir(), `strata-users-${createHash('sha256').update(path).digest('hex').slice(0, 20)}`);

test('two runs in one process: the first to finish keeps the file, the last one may delete it', async () => {
  const path = join(tmpdir(), `shared-${process.pid}-a.tfvars.json`);
  const first = await useSharedFile(path);
  const second = await useSharedFile(path);
  assert.equal(await first(), false, 'the second run still uses it');
  assert.equal(await second(), true);
  assert.equal(existsSync(usersDir(path)), false, 'nothing is left in the temporary folder');
});

test('a run whose process is gone does not keep the file', async () => {
  const path = join(tmpdir(), `shared-${process.pid}-b.tfvars.json`);
  const release = await useSharedFile(path);
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(usersDir(path), `${gone.stdout}-1`), '');
  assert.equal(await release(), true);
});
