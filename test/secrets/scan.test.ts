import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateIdentity } from 'age-encryption';
import { maskPreview, scanPaths, scanText, shannonEntropy } from '../../src/secrets/scan.ts';
import { repoRoot, sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { tempDir } from './helpers.ts';

// Planted secrets are generated at run time, so this file holds none that a scanner (ours or GitHub's) would flag.
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function random(length: number, alphabet = ALNUM): string {
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

async function planted() {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    pem,
    age: await generateIdentity(),
    pve: randomUUID(),
    github: `ghp_${random(36)}`,
    gitlab: `glpat-${random(20)}`,
    aws: `AKIA${random(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
    password: `${random(14)}!x9`,
  };
}

test('finds each kind of planted secret, with file:line and a masked preview only', async () => {
  const s = await planted();
  const text = [
    'proxmox:', // 1
    `  api_token: "PVEAPIToken=terraform@pve!ci=${s.pve}"`, // 2
    `GITHUB_TOKEN=${s.github}`, // 3
    `gitlab = "${s.gitlab}"`, // 4
    `aws_access_key_id: ${s.aws}`, // 5
    `db_password: '${s.password}'`, // 6
    `# age key: ${s.age}`, // 7
    'tls_key: |', // 8
    ...s.pem
      .trim()
      .split('\n')
      .map((l) => `  ${l}`), // 9..
  ].join('\n');
  const findings = scanText(text, 'planted.yaml');
  const byRule = Object.fromEntries(findings.map((f) => [f.rule, f]));
  assert.equal(byRule['pve-api-token']?.line, 2);
  assert.equal(byRule['github-token']?.line, 3);
  assert.equal(byRule['gitlab-token']?.line, 4);
  assert.equal(byRule['aws-access-key-id']?.line, 5);
  assert.equal(byRule['password-like-value']?.line, 6);
  assert.equal(byRule['age-secret-key']?.line, 7);
  assert.equal(byRule['private-key']?.line, 9);
  assert.equal(findings.length, 7, JSON.stringify(findings, null, 1));
  assert.equal(byRule['github-token'].column, 'GITHUB_TOKEN='.length + 1);
  const shown = JSON.stringify(findings);
  for (const secret of [s.pve, s.github, s.gitlab, s.aws, s.password, s.age]) {
    assert.ok(!shown.includes(secret), `finding shows ${secret}`);
    assert.ok(!shown.includes(secret.slice(-8)), 'finding shows the end of a secret');
  }
  assert.ok(!shown.includes(s.pem.split('\n')[1]));
});

test('ordinary configuration is not reported', () => {
  const text = [
    'vars:',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference as written in stack files
    '  pm_api_token_secret: "${PM_API_TOKEN_SECRET}"',
    '  pm_api_token_id: "terraform@pve!ci"',
    'pm_api_token_secret = var.pm_api_token_secret',
    'auth_method: site_token',
    'token_ttl: 3600',
    'secret_name: my-app-db-credentials',
    'private_key: /etc/ssl/private/key.pem',
    'ssh_private_key: ~/.ssh/id_ed25519',
    'password: "{{ .vars.db_password }}"',
    'api_key: !env API_KEY',
    'db_password: !secret secrets/prod.yaml db.password',
    'password: changeme',
    'admin_password: REPLACE_WITH_REAL_PASSWORD',
    'ssh_password_authentication: "yes"',
    'password: ENC[AES256_GCM,data:3q2+7w==,iv:AAAA,tag:BBBB,type:str]',
    'commit: 3690e8e41f4a2f1b7c9d0e5a6b8c7d9e0f1a2b3c',
    'uuid: 123e4567-e89b-12d3-a456-426614174000',
    'image_checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    'token: <your token here>',
    'Docs say a key starts with -----BEGIN OPENSSH PRIVATE KEY----- and then base64.',
    'secret_ref: secret/data/prod#password',
    // Source code: types, member expressions, calls and prose are not values.
    '  password: VaultPassword,',
    '      tokenSecret: info.tokenSecret,',
    "    tokenSecret: token?.secret ?? '',",
    '  tokenSecret: process.env.PVE_TOKEN_SECRET!,',
    "  secret: 'this is a secret',",
    "        password: parseSecretTag('secrets/prod.yaml db.password', stackDir),",
  ].join('\n');
  assert.deepEqual(scanText(text, 'ordinary.yaml'), []);
});

test('the allowlist marker silences its line and the line after a comment carrying it', async () => {
  const s = await planted();
  const text = [
    `test_token: ${s.github} # strata:allow-secret (revoked fixture)`,
    '# strata:allow-secret: documented example key',
    `example_password: "${s.password}"`,
    `real_password: "${s.password}"`,
  ].join('\n');
  const findings = scanText(text, 'x.yaml');
  assert.deepEqual(
    findings.map((f) => f.line),
    [4],
  );
});

test('entropy and preview helpers', () => {
  assert.equal(shannonEntropy('aaaa'), 0);
  assert.equal(shannonEntropy('abcd'), 2);
  assert.equal(maskPreview('ghp_0123456789abcdef'), 'ghp_******** (20 chars)');
  assert.equal(maskPreview('short'), 's******** (5 chars)');
});

test('in a git work tree: ignored paths, SOPS and vault files are skipped; untracked files are scanned', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = await planted();
    execFileSync('git', ['init', '-q'], { cwd: dir });
    writeFileSync(join(dir, '.gitignore'), 'local.env\nbuild/\n');
    writeFileSync(join(dir, 'local.env'), `GITHUB_TOKEN=${s.github}\n`);
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'out.txt'), `${s.age}\n`);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference as written in stack files
    writeFileSync(join(dir, 'stack.yaml'), 'vars:\n  region: eu\n  password: "${DB_PASSWORD}"\n');
    mkdirSync(join(dir, 'stacks'));
    writeFileSync(join(dir, 'stacks', 'new.tfvars'), `pm_api_token_secret = "${s.pve}"\n`);
    writeFileSync(
      join(dir, 'secret.enc.yaml'),
      'password: ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n',
    );
    writeFileSync(join(dir, 'vault.yml'), `$ANSIBLE_VAULT;1.1;AES256\n${'6162'.repeat(20)}\n`);
    writeFileSync(join(dir, 'blob.bin'), Buffer.from([0, 1, 2, 3]));
    execFileSync('git', ['add', 'stack.yaml', '.gitignore'], { cwd: dir });

    const summary = scanPaths([], dir);
    assert.deepEqual(
      summary.findings.map((f) => `${f.file}:${f.line}:${f.rule}`),
      ['stacks/new.tfvars:1:password-like-value'],
    );
    const skipped = Object.fromEntries(summary.skipped.map((x) => [x.file, x.reason]));
    assert.equal(skipped['secret.enc.yaml'], 'SOPS-encrypted');
    assert.equal(skipped['vault.yml'], 'Ansible Vault-encrypted');
    assert.equal(skipped['blob.bin'], 'binary');
    assert.ok(!('local.env' in skipped) && summary.findings.every((f) => f.file !== 'local.env'));

    // Outside git, a folder walk sees everything (including what .gitignore would hide).
    const plainDir = join(dir, 'build');
    execFileSync('rm', ['-rf', join(dir, '.git')]);
    assert.deepEqual(
      scanPaths([plainDir], dir).findings.map((f) => f.rule),
      ['age-secret-key'],
    );
  } finally {
    cleanup();
  }
});

/** Random-looking but fixed characters (xorshift32): a short random value can be plain by chance, and then not a secret. */
function seeded(seed: number): (length: number, alphabet?: string) => string {
  let state = seed;
  return (length, alphabet = ALNUM) =>
    Array.from({ length }, () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return alphabet[(state >>> 0) % alphabet.length];
    }).join('');
}

test('finds password-like values in minified JSON, one-line HCL, unquoted with #, and block scalars', () => {
  const random = seeded(20261207);
  const v = () => `${random(12)}${random(4, '0123456789')}`;
  const hashed = `${random(6)}#${random(6)}9`;
  const planted = {
    json1: v(),
    json2: v(),
    hcl1: v(),
    hcl2: v(),
    hash1: hashed,
    hash2: `${random(5)}#${random(5)}2`,
    block1: v(),
    block2: v(),
    block3: `${v()}${v()}`,
  };
  const text = [
    `{"db":{"host":"db.lan","password":"${planted.json1}","port":5432},"api_token":"${planted.json2}"}`, // 1
    `db = { user = "admin", password = "${planted.hcl1}" }`, // 2
    `locals { client_secret = "${planted.hcl2}" }`, // 3
    `db_password: ${planted.hash1} # rotated monthly`, // 4
    `API_KEY=${planted.hash2}`, // 5
    'password: |', // 6
    `  ${planted.block1}`, // 7
    'users:', // 8
    '  - api_token: >-', // 9
    `      ${planted.block2}`, // 10
    'secret_key: |2', // 11
    `  ${planted.block3.slice(0, 20)}`, // 12
    `  ${planted.block3.slice(20)}`, // 13
  ].join('\n');
  const found = scanText(text, 'shapes.txt').map((f) => `${f.line}:${f.column}:${f.rule}`);
  const column = (line: number, value: string) => text.split('\n')[line - 1].indexOf(value) + 1;
  assert.deepEqual(found, [
    `1:${column(1, planted.json1)}:password-like-value`,
    `1:${column(1, planted.json2)}:password-like-value`,
    `2:${column(2, planted.hcl1)}:password-like-value`,
    `3:${column(3, planted.hcl2)}:password-like-value`,
    `4:${column(4, planted.hash1)}:password-like-value`,
    `5:${column(5, planted.hash2)}:password-like-value`,
    '7:3:password-like-value',
    '10:7:password-like-value',
    '12:3:password-like-value',
  ]);
  const shown = JSON.stringify(scanText(text, 'shapes.txt'));
  for (const secret of Object.values(planted)) assert.ok(!shown.includes(secret.slice(-6)), 'a finding shows a secret');
});

test('the same shapes without secrets are not reported', () => {
  const text = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference as written in stack files
    '{"db":{"host":"db.lan","password":"${DB_PASSWORD}","port":5432},"api_token":"{{ .vars.token }}","name":"x"}',
    'db = { user = "admin", password = var.db_password, token_ttl = 3600 }',
    'locals { client_secret = data.vault_generic_secret.app.data["secret"] }',
    'api_key: !env API_KEY # from the environment',
    'password: changeme # set in CI',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference as written in stack files
    'PASSWORD=${DB_PASSWORD:?set DB_PASSWORD first}',
    '# token: base64url leaves spare bits in the last character',
    'description: |',
    '  The token is read from the environment at run time.',
    'private_key: |',
    '  -----BEGIN OPENSSH PRIVATE KEY-----',
    '  (placeholder, not a key)',
    'token: |',
    '  {{ .settings.token }}',
    'notes: >-',
    '  a3F9xZ0qLm7Rt2Vb',
    '  tokens: [{ id: lab, secret: lab-secret-123456, privsep: false }]',
    "const env = { PROXMOX_TOKEN: 'root@pam!x=y' };",
    'password: *default_password',
  ].join('\n');
  assert.deepEqual(scanText(text, 'clean.txt'), []);
});

test('a corpus of real configuration (Atmos fixtures) and this repository: no new findings', {
  skip: skipWithoutShared,
}, () => {
  const atmos = scanPaths([join(sharedDir, 'conformance', 'atmos')], repoRoot);
  // The three true secrets the fixtures hold on purpose, and nothing else.
  assert.deepEqual(
    atmos.findings.map((f) => `${f.file.split('conformance/atmos/')[1]}:${f.line}:${f.rule}`),
    [
      'examples/secrets-masking/stacks/deploy/dev.yaml:16:password-like-value',
      'examples/sops-secrets/secrets/keys.txt:10:age-secret-key',
      'tests/snapshots/TestCLICommands_secrets-masking_describe_stacks.stdout.golden:38:password-like-value',
    ],
  );
  assert.ok(atmos.scanned > 900, `${atmos.scanned} files scanned`);
  const own = scanPaths([], repoRoot);
  assert.deepEqual(own.findings, []);
  assert.ok(own.scanned > 300);
});
