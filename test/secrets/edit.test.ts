// `strata secrets edit` under signals, as a user or a supervisor sends them: the plaintext never outlives the edit
// (a SIGKILLed one is swept by the next run), an interrupted edit fails and changes nothing, Ctrl-C is the editor's.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';
import { ageKeygen, isolatedEnv, tempDir } from './helpers.ts';

const canary = `canary-${randomBytes(9).toString('hex')}`;
let dir: string;
let cleanup: () => void;
let shm: string;
let env: NodeJS.ProcessEnv;
let recipient: string;

/**
 * An editor that notes the file it got and its own pid, changes the port, then waits for `go` (or forever) with
 * Ctrl-C ignored, as full-screen editors do.
 */
function editorScript(): string {
  const path = join(dir, 'editor.sh');
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      "trap '' INT",
      `echo "$1" > "${join(dir, 'edited-path')}"`,
      `echo $$ > "${join(dir, 'editor-pid')}"`,
      `sed -i 's/port: 5432/port: 6543/' "$1"`,
      `while [ ! -e "${join(dir, 'go')}" ]; do sleep 0.05; done`,
    ].join('\n'),
  );
  chmodSync(path, 0o700);
  return path;
}

function startEdit(): {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: string | null }>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'strata.js'), 'secrets', 'edit', 'prod.yaml'], {
    cwd: dir,
    env: { ...env, EDITOR: editorScript() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exit, stderr: () => stderr };
}

/** Waits (bounded) until the editor has the plaintext; gives its path. */
async function editing(): Promise<string> {
  const ready = () =>
    existsSync(join(dir, 'editor-pid')) && readFileSync(join(dir, 'editor-pid'), 'utf8').trim() !== '';
  for (let i = 0; i < 1000 && !ready(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ready(), 'the editor never started');
  return readFileSync(join(dir, 'edited-path'), 'utf8').trim();
}

function reset(): void {
  for (const name of ['edited-path', 'editor-pid', 'go']) rmSync(join(dir, name), { force: true });
  const encrypted = runCli(['secrets', 'encrypt', 'plain.yaml', '--age', recipient, '--output', 'prod.yaml'], {
    cwd: dir,
    env,
  });
  assert.equal(encrypted.code, 0, encrypted.stderr);
}

/** The editor's pid, as it wrote it (never 0: that would signal this whole process group). */
function editorPid(): number {
  const pid = Number(readFileSync(join(dir, 'editor-pid'), 'utf8'));
  assert.ok(pid > 0);
  return pid;
}

before(() => {
  ({ dir, cleanup } = tempDir());
  const alice = ageKeygen(dir, 'alice.key');
  shm = join(dir, 'shm');
  mkdirSync(shm, { mode: 0o700 });
  recipient = alice.recipient;
  env = isolatedEnv(dir, { SOPS_AGE_KEY_FILE: alice.file, STRATA_SECRET_TMPDIR: shm });
  writeFileSync(join(dir, 'plain.yaml'), `db:\n  password: ${canary}\n  port: 5432\n`);
});
after(() => cleanup());

for (const [signal, status] of [
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const) {
  test(`${signal} during an edit: the editor is stopped, the plaintext removed, the file unchanged, exit ${status}`, async () => {
    reset();
    const before = readFileSync(join(dir, 'prod.yaml'), 'utf8');
    const edit = startEdit();
    const plaintext = await editing();
    assert.ok(readFileSync(plaintext, 'utf8').includes(canary));
    edit.child.kill(signal);
    const exit = await edit.exit;
    assert.ok(exit.code === status || exit.signal === signal, JSON.stringify(exit));
    assert.ok(!existsSync(dirname(plaintext)), 'the plaintext outlived the edit');
    assert.equal(readFileSync(join(dir, 'prod.yaml'), 'utf8'), before);
    assert.ok(!edit.stderr().includes(canary));
  });
}

test('Ctrl-C during an edit is the editor’s: strata keeps waiting and saves what the editor wrote', async () => {
  reset();
  const edit = startEdit();
  await editing();
  // A terminal sends SIGINT to the whole foreground group: strata and the editor.
  edit.child.kill('SIGINT');
  process.kill(editorPid(), 'SIGINT');
  await new Promise((r) => setTimeout(r, 200));
  writeFileSync(join(dir, 'go'), '');
  const exit = await edit.exit;
  assert.deepEqual(exit, { code: 0, signal: null }, edit.stderr());
  const decrypted = runCli(['secrets', 'decrypt', 'prod.yaml', '--key', 'db.port'], { cwd: dir, env });
  assert.equal(decrypted.stdout, '6543\n');
});

test('SIGKILL during an edit leaves the plaintext; the next run removes it, and only what is gone', async () => {
  reset();
  const edit = startEdit();
  const plaintext = await editing();
  edit.child.kill('SIGKILL');
  await edit.exit;
  process.kill(editorPid(), 'SIGKILL');
  assert.ok(readFileSync(plaintext, 'utf8').includes(canary), 'SIGKILL cannot be caught: the plaintext is there');
  // Folders that must stay: a live process's on this host, and one from another host sharing the folder.
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  const live = join(shm, `strata-secret-${host}-${process.pid}-keepme`);
  const otherHost = join(shm, 'strata-secret-0badc0de-1-keepme');
  for (const folder of [live, otherHost]) {
    mkdirSync(folder);
    writeFileSync(join(folder, 'secret'), 'x');
  }
  const next = runCli(['secrets', 'edit', 'prod.yaml'], { cwd: dir, env: { ...env, EDITOR: 'true' } });
  assert.equal(next.code, 0, next.stderr);
  assert.ok(!existsSync(dirname(plaintext)), 'the leftover plaintext was not swept');
  assert.ok(existsSync(live) && existsSync(otherHost));
});
