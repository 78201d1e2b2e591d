import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { StrataError } from '../../src/errors.ts';
import { decryptFile, editFile } from '../../src/secrets/files.ts';
import { decryptSops } from '../../src/secrets/sops.ts';
import { creationRuleFor } from '../../src/secrets/sops-config.ts';
import { runCli } from '../helpers/cli.ts';
import { ageKeygen, isolatedEnv, keyringOf, tempDir } from './helpers.ts';

/** Every file under `dir` whose content includes `needle`, as paths relative to `dir`. */
function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (readFileSync(path).includes(needle)) out.push(path.slice(dir.length + 1));
    }
  };
  walk(dir);
  return out.sort();
}

describe('strata secrets (CLI)', () => {
  let dir: string;
  let cleanup: () => void;
  let alice: ReturnType<typeof ageKeygen>;
  let bob: ReturnType<typeof ageKeygen>;
  let env: NodeJS.ProcessEnv;
  // A unique value: if it shows up anywhere it was not asked for, a secret leaked.
  const canary = `canary-${randomBytes(9).toString('hex')}`;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: dir, env: { ...env, ...extra } });
  const noLeak = (result: { stdout: string; stderr: string }, what: string) => {
    assert.ok(!result.stdout.includes(canary), `${what}: secret on stdout`);
    assert.ok(!result.stderr.includes(canary), `${what}: secret on stderr`);
  };

  before(() => {
    ({ dir, cleanup } = tempDir());
    alice = ageKeygen(dir, 'alice.key');
    bob = ageKeygen(dir, 'bob.key');
    env = isolatedEnv(dir, { SOPS_AGE_KEY_FILE: alice.file });
    writeFileSync(join(dir, 'prod.yaml'), `# production\ndb:\n  user: admin\n  password: ${canary}\n  port: 5432\n`);
  });
  after(() => cleanup());

  test('encrypt, decrypt, view, edit, rotate: the secret appears only where asked for', async () => {
    const encrypt = cli(['secrets', 'encrypt', 'prod.yaml', '--age', alice.recipient, '--in-place']);
    assert.equal(encrypt.code, 0, encrypt.stderr);
    noLeak(encrypt, 'encrypt');
    assert.match(encrypt.stderr, /encrypted prod\.yaml for age1/);
    const encrypted = readFileSync(join(dir, 'prod.yaml'), 'utf8');
    assert.ok(!encrypted.includes(canary));

    const decrypt = cli(['secrets', 'decrypt', 'prod.yaml']);
    assert.equal(decrypt.code, 0, decrypt.stderr);
    assert.equal(decrypt.stdout, `# production\ndb:\n  user: admin\n  password: ${canary}\n  port: 5432\n`);
    const toFile = cli(['secrets', 'decrypt', 'prod.yaml', '--key', 'db.password', '--output', 'plain-out.txt']);
    noLeak(toFile, 'decrypt --output');
    assert.equal(readFileSync(join(dir, 'plain-out.txt'), 'utf8'), `${canary}\n`);
    assert.equal(statSync(join(dir, 'plain-out.txt')).mode & 0o777, 0o600);

    // view: for people at a terminal; a pipe gets a refusal unless --force.
    const view = cli(['secrets', 'view', 'prod.yaml']);
    assert.equal(view.code, 1);
    noLeak(view, 'view to a pipe');
    assert.match(view.stderr, /stdout is not a terminal/);
    const forced = cli(['secrets', 'view', 'prod.yaml', '--key', 'db.password', '--force']);
    assert.equal(forced.stdout, `${canary}\n`);

    // edit: the editor gets a private temp file; only the changed value gets new ciphertext.
    const editor = join(dir, 'editor.sh');
    writeFileSync(
      editor,
      `#!/bin/sh\necho "$1" > "${join(dir, 'edited-path')}"\nsed -i 's/port: 5432/port: 6543/' "$1"\n`,
    );
    chmodSync(editor, 0o700);
    const edit = cli(['secrets', 'edit', 'prod.yaml'], { EDITOR: editor });
    assert.equal(edit.code, 0, edit.stderr);
    noLeak(edit, 'edit');
    const tempPath = readFileSync(join(dir, 'edited-path'), 'utf8').trim();
    assert.ok(tempPath.endsWith('/prod.yaml') && !tempPath.startsWith(dir), tempPath);
    assert.ok(!existsSync(tempPath) && !existsSync(dirname(tempPath)), 'editor temp file left behind');
    const edited = readFileSync(join(dir, 'prod.yaml'), 'utf8');
    assert.equal(parse(edited).db.password, parse(encrypted).db.password, 'unchanged value keeps its ciphertext');
    assert.notEqual(parse(edited).db.port, parse(encrypted).db.port);
    assert.deepEqual(parse(edited).sops.age, parse(encrypted).sops.age, 'recipients and data key kept');
    const afterEdit = await decryptSops(edited, { file: 'prod.yaml', keyring: keyringOf(alice) });
    assert.equal((afterEdit.data as { db: { port: number } }).db.port, 6543);

    // The same library call without a change leaves the file byte for byte.
    assert.deepEqual(await editFile(join(dir, 'prod.yaml'), { env: { ...env, EDITOR: 'true' } }), { changed: false });
    assert.equal(readFileSync(join(dir, 'prod.yaml'), 'utf8'), edited);

    // rotate: new data key for alice and bob; bob alone can now read it.
    const rotate = cli(['secrets', 'rotate', 'prod.yaml', '--add-age', bob.recipient]);
    assert.equal(rotate.code, 0, rotate.stderr);
    noLeak(rotate, 'rotate');
    const rotated = parse(readFileSync(join(dir, 'prod.yaml'), 'utf8'));
    assert.notEqual(rotated.db.password, parse(edited).db.password);
    assert.deepEqual(
      rotated.sops.age.map((a: { recipient: string }) => a.recipient),
      [alice.recipient, bob.recipient],
    );
    const asBob = await decryptSops(readFileSync(join(dir, 'prod.yaml'), 'utf8'), {
      file: 'prod.yaml',
      keyring: keyringOf(bob),
    });
    assert.equal((asBob.data as { db: { password: string } }).db.password, canary);

    const keys = cli(['secrets', 'keys']);
    assert.ok(keys.stdout.includes(alice.recipient));
    assert.ok(!keys.stdout.includes(alice.identity));

    // Only the file the user asked to write holds the plaintext.
    assert.deepEqual(filesContaining(dir, canary), ['plain-out.txt']);
  });

  test('errors: tampered file, wrong key, no key, plain file: exit 1, file named, no stack trace, no secret', async () => {
    const file = join(dir, 'tamper.yaml');
    writeFileSync(file, `a: ${canary}\nb: two\nc: three\n`);
    assert.equal(cli(['secrets', 'encrypt', 'tamper.yaml', '--age', alice.recipient, '--in-place']).code, 0);
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, lines.filter((l) => !l.startsWith('b: ')).join('\n'));
    const tampered = cli(['secrets', 'decrypt', 'tamper.yaml']);
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /Error: tamper\.yaml was modified after encryption: MAC mismatch/);
    assert.doesNotMatch(tampered.stderr, /^\s+at .*\.ts:\d+/m);
    noLeak(tampered, 'tampered');

    writeFileSync(file, lines.join('\n'));
    const wrong = cli(['secrets', 'decrypt', 'tamper.yaml'], { SOPS_AGE_KEY_FILE: bob.file });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /none of your age keys can decrypt tamper\.yaml/);
    assert.ok(wrong.stderr.includes(alice.recipient) && wrong.stderr.includes(bob.recipient));

    // The same errors from the library the CLI calls (spawning the CLI for each costs seconds).
    await assert.rejects(decryptFile(file, { env: isolatedEnv(dir) }), (e: StrataError) => {
      assert.match(
        `${e.message}\n${e.details}`,
        /no age key found[\s\S]*SOPS_AGE_KEY_FILE: not set[\s\S]*keys\.txt: missing/,
      );
      return true;
    });
    writeFileSync(join(dir, 'plain.yaml'), 'x: 1\n');
    await assert.rejects(decryptFile(join(dir, 'plain.yaml'), { env }), /plain\.yaml is not encrypted/);
  });

  test('.sops.yaml creation rules give recipients and encrypted_regex', () => {
    execFileSync('mkdir', ['-p', join(dir, 'repo', 'secrets'), join(dir, 'repo', 'other')]);
    writeFileSync(
      join(dir, 'repo', '.sops.yaml'),
      `creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(password|token)$\n    age: ${alice.recipient},${bob.recipient}\n`,
    );
    writeFileSync(join(dir, 'repo', 'secrets', 'app.yaml'), 'name: app\npassword: pw-123456\n');
    const result = runCli(['secrets', 'encrypt', 'secrets/app.yaml', '--in-place'], { cwd: join(dir, 'repo'), env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /\.sops\.yaml \(creation rule 1\)/);
    const doc = parse(readFileSync(join(dir, 'repo', 'secrets', 'app.yaml'), 'utf8'));
    assert.equal(doc.name, 'app');
    assert.match(doc.password, /^ENC\[/);
    assert.equal(doc.sops.age.length, 2);
    writeFileSync(join(dir, 'repo', 'other', 'x.yaml'), 'a: 1\n');
    assert.equal(creationRuleFor(join(dir, 'repo', 'other', 'x.yaml')), undefined, 'path_regex does not match');
  });

  test('Ansible Vault through the CLI: encrypt for ansible-vault, decrypt and edit with a password file', async () => {
    const pass = join(dir, '.vault-pass');
    writeFileSync(pass, 'cli-vault-pass\n', { mode: 0o600 });
    writeFileSync(join(dir, 'secrets.tfvars'), `vm_password = "${canary}"\n`);
    const encrypt = cli([
      'secrets',
      'encrypt',
      'secrets.tfvars',
      '--vault',
      '--vault-password-file',
      pass,
      '--in-place',
    ]);
    assert.equal(encrypt.code, 0, encrypt.stderr);
    noLeak(encrypt, 'vault encrypt');
    assert.equal(
      execFileSync('ansible-vault', ['view', '--vault-password-file', pass, 'secrets.tfvars'], {
        cwd: dir,
        encoding: 'utf8',
      }),
      `vm_password = "${canary}"\n`,
    );
    const editor = join(dir, 'vault-editor.sh');
    writeFileSync(editor, `#!/bin/sh\necho 'vm_user = "ops"' >> "$1"\n`);
    chmodSync(editor, 0o700);
    const edit = cli(['secrets', 'edit', 'secrets.tfvars'], { EDITOR: editor, ANSIBLE_VAULT_PASSWORD_FILE: pass });
    assert.equal(edit.code, 0, edit.stderr);
    noLeak(edit, 'vault edit');
    const decrypted = await decryptFile(join(dir, 'secrets.tfvars'), {
      env: { ...env, STRATA_VAULT_PASSWORD: 'cli-vault-pass' },
    });
    assert.equal(decrypted, `vm_password = "${canary}"\nvm_user = "ops"\n`);
  });

  test('check: exit 1 with file:line and a masked preview', () => {
    const scan = join(dir, 'scan');
    execFileSync('mkdir', ['-p', join(scan, 'clean')]);
    const token = `ghp_${randomBytes(18).toString('hex')}`;
    writeFileSync(join(scan, 'ci.env'), `FOO=bar\nGITHUB_TOKEN=${token}\n`);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference as written in stack files
    writeFileSync(join(scan, 'clean', 'stack.yaml'), 'vars:\n  password: "${DB_PASSWORD}"\n');
    const found = runCli(['secrets', 'check', 'scan'], { cwd: dir, env });
    assert.equal(found.code, 1);
    assert.match(found.stdout, /^scan\/ci\.env:2:14: github-token: GitHub token: ghp_\*{8} \(40 chars\)$/m);
    assert.ok(!found.stdout.includes(token) && !found.stderr.includes(token));
    assert.match(found.stderr, /1 possible secret\(s\) in 2 file\(s\) scanned/);
  });
});
