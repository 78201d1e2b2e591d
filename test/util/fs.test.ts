import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/util/fs.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-fs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const forms = [
  [
    'sync',
    async (path: string, content: string | Uint8Array, mode?: number) => writeFileAtomicSync(path, content, mode),
  ],
  ['async', writeFileAtomic],
] as const;

for (const [form, write] of forms) {
  test(`${form}: writes the content with the mode, creating folders, and leaves no temporary file`, async () => {
    const path = join(dir, form, 'nested', 'state.json');
    await write(path, '{"a":1}\n', 0o600);
    assert.equal(readFileSync(path, 'utf8'), '{"a":1}\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await write(path, 'second');
    assert.equal(readFileSync(path, 'utf8'), 'second');
    assert.deepEqual(readdirSync(join(dir, form, 'nested')), ['state.json']);
  });

  test(`${form}: large content is written whole; bytes as given`, async () => {
    const path = join(dir, `${form}-large.bin`);
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    await write(path, data);
    assert.deepEqual(new Uint8Array(readFileSync(path)), data);
  });

  test(`${form}: a failed write leaves the target as it was and no temporary file`, async () => {
    const folder = join(dir, `${form}-fail`);
    mkdirSync(join(folder, 'target'), { recursive: true });
    writeFileSync(join(folder, 'target', 'keep'), 'x');
    // Renaming a file over a non-empty folder fails after the temporary file was written.
    await assert.rejects(write(join(folder, 'target'), 'new content'));
    assert.deepEqual(readdirSync(folder), ['target']);
    assert.equal(readFileSync(join(folder, 'target', 'keep'), 'utf8'), 'x');
  });
}

test('concurrent writers: the file always holds one whole version', async () => {
  const path = join(dir, 'contended.txt');
  const versions = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}:${'x'.repeat(100_000)}`);
  await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
  assert.ok(versions.includes(readFileSync(path, 'utf8')));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('.contended')),
    [],
  );
});

test('temporary files left by a killed writer are swept by the next write to the folder, only theirs', async () => {
  const folder = join(dir, 'orphans');
  mkdirSync(folder, { recursive: true });
  // A writer killed with SIGKILL in the middle of a write: its temporary file stays behind.
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `require('fs').writeFileSync(${JSON.stringify(folder)} + '/.state.json.' + process.pid + '.k1ll3d.tmp', '{"half'); setInterval(() => {}, 1000)`,
    ],
    { stdio: 'ignore' },
  );
  const orphan = join(folder, `.state.json.${writer.pid}.k1ll3d.tmp`);
  for (let i = 0; i < 200 && !existsSync(orphan); i++) await new Promise((r) => setTimeout(r, 10));
  writer.kill('SIGKILL');
  await new Promise((r) => writer.once('exit', r));
  const live = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const old = new Date(Date.now() - 60_000);
    const keep = {
      young: `.state.json.${writer.pid}.y0ung.tmp`,
      alive: `.state.json.${live.pid}.l1ve.tmp`,
      other: 'notes.tmp',
    };
    for (const name of Object.values(keep)) writeFileSync(join(folder, name), 'x');
    utimesSync(orphan, old, old);
    for (const name of [keep.alive, keep.other]) utimesSync(join(folder, name), old, old);
    await writeFileAtomic(join(folder, 'state.json'), '{}');
    assert.deepEqual(readdirSync(folder).sort(), [...Object.values(keep), 'state.json'].sort());
  } finally {
    live.kill('SIGKILL');
  }
});
