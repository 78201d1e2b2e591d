import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  decryptInlineVault,
  decryptVault,
  encryptInlineVault,
  encryptVault,
  encryptVaultString,
  resolveVaultPassword,
  vaultId,
} from '../../src/secrets/vault.ts';
import { isolatedEnv, tempDir } from './helpers.ts';

const ansibleEnv = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False' };

describe('Ansible Vault with the real ansible-vault binary', () => {
  let dir: string;
  let cleanup: () => void;
  let passFile: string;
  const password = { password: 'vault-pass-123', source: 'test' };
  const vault = (...args: string[]) =>
    execFileSync('ansible-vault', [...args, '--vault-password-file', passFile], {
      cwd: dir,
      encoding: 'utf8',
      env: ansibleEnv,
    });

  before(() => {
    ({ dir, cleanup } = tempDir());
    passFile = join(dir, '.vault-pass');
    writeFileSync(passFile, 'vault-pass-123\n', { mode: 0o600 });
  });
  after(() => cleanup());

  test('files: ansible-vault encrypts, strata decrypts; strata encrypts, ansible-vault decrypts', async () => {
    const plain = 'pm_api_token_secret = "0b3c6a10-4f1e-4c55-9a43-5c1b2f7e9d01"\nvm_password = "s3cr3t"\n';
    writeFileSync(join(dir, 'secrets.tfvars'), plain);
    vault('encrypt', 'secrets.tfvars');
    const encrypted = readFileSync(join(dir, 'secrets.tfvars'), 'utf8');
    assert.match(encrypted, /^\$ANSIBLE_VAULT;1\.1;AES256\n/);
    assert.equal(await decryptVault(encrypted, password, 'secrets.tfvars'), plain);

    const ours = await encryptVault(plain, password);
    writeFileSync(join(dir, 'ours.tfvars'), ours);
    assert.equal(vault('view', 'ours.tfvars'), plain);

    // Vault ids (format 1.2) both ways.
    const withId = await encryptVault(plain, password, 'prod');
    assert.equal(vaultId(withId), 'prod');
    writeFileSync(join(dir, 'prod.tfvars'), withId);
    assert.equal(
      execFileSync('ansible-vault', ['view', '--vault-id', `prod@${passFile}`, 'prod.tfvars'], {
        cwd: dir,
        encoding: 'utf8',
        env: ansibleEnv,
      }),
      plain,
    );
    writeFileSync(join(dir, 'theirs.txt'), plain);
    execFileSync('ansible-vault', ['encrypt', '--vault-id', `stage@${passFile}`, 'theirs.txt'], {
      cwd: dir,
      env: ansibleEnv,
    });
    const theirs = readFileSync(join(dir, 'theirs.txt'), 'utf8');
    assert.equal(vaultId(theirs), 'stage');
    assert.equal(await decryptVault(theirs, password, 'theirs.txt'), plain);
  });

  test('inline !vault values: encrypt_string output decrypts; strata-vaulted YAML is read by ansible', async () => {
    const blob = vault('encrypt_string', 'topsecret-value', '--name', 'api_token');
    const yaml = `# vars\nplain: 1\n${blob.trimEnd()}\nother: x\n`;
    const result = await decryptInlineVault(yaml, password, 'vars.yml');
    assert.deepEqual(result.data, { plain: 1, api_token: 'topsecret-value', other: 'x' });
    assert.match(result.text, /^# vars\nplain: 1\napi_token: topsecret-value\nother: x\n$/);

    const ours = await encryptInlineVault('a: hello\nb: world-secret # note\n', password, ['b'], 'mine.yml');
    assert.doesNotMatch(ours, /world-secret/);
    assert.match(ours, /b: !vault \|/);
    assert.match(ours, /# note/);
    writeFileSync(join(dir, 'mine.yml'), ours);
    const out = execFileSync(
      'ansible',
      ['localhost', '-m', 'debug', '-a', 'var=b', '-e', '@mine.yml', '--vault-password-file', passFile],
      { cwd: dir, encoding: 'utf8', env: ansibleEnv },
    );
    assert.match(out, /"b": "world-secret"/);

    const single = await encryptVaultString('one-value', password, 'token');
    assert.deepEqual((await decryptInlineVault(single, password, 'token.yml')).data, { token: 'one-value' });
  });

  test('a wrong password is a clear error naming the file and where the password came from', async () => {
    const encrypted = await encryptVault('x: 1\n', password);
    await assert.rejects(
      decryptVault(encrypted, { password: 'nope', source: '$STRATA_VAULT_PASSWORD' }, 'group_vars/all.yml'),
      (error: Error) => {
        assert.match(
          error.message,
          /wrong vault password for group_vars\/all\.yml \(password from \$STRATA_VAULT_PASSWORD\)/,
        );
        return true;
      },
    );
    await assert.rejects(
      decryptVault('$ANSIBLE_VAULT;9.9;AES256\nzz', password, 'bad.yml'),
      /bad\.yml is not a valid Ansible Vault blob/,
    );
  });

  test('password sources: --vault-password-file, then $ANSIBLE_VAULT_PASSWORD_FILE, then $STRATA_VAULT_PASSWORD', () => {
    const fileA = join(dir, 'a.pass');
    const fileB = join(dir, 'b.pass');
    writeFileSync(fileA, 'from-a\n', { mode: 0o600 });
    writeFileSync(fileB, '  from-b  \n', { mode: 0o600 });
    const env = isolatedEnv(dir, { ANSIBLE_VAULT_PASSWORD_FILE: fileB, STRATA_VAULT_PASSWORD: 'from-env' });
    assert.deepEqual(resolveVaultPassword({ passwordFile: fileA, env }), {
      password: 'from-a',
      source: `--vault-password-file ${fileA}`,
    });
    assert.equal(resolveVaultPassword({ env }).password, 'from-b');
    assert.equal(
      resolveVaultPassword({ env: isolatedEnv(dir, { STRATA_VAULT_PASSWORD: 'from-env' }) }).password,
      'from-env',
    );
    assert.throws(() => resolveVaultPassword({ env: isolatedEnv(dir) }), /no Ansible Vault password given/);
    assert.throws(() => resolveVaultPassword({ passwordFile: join(dir, 'none'), env }), /does not exist/);
    // As in ansible, an executable password file is run and its output is the password.
    const script = join(dir, 'pass.sh');
    writeFileSync(script, '#!/bin/sh\necho from-script\n');
    chmodSync(script, 0o700);
    assert.equal(resolveVaultPassword({ passwordFile: script, env }).password, 'from-script');
  });
});
