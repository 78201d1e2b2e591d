import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { encryptSops } from '../../src/secrets/sops.ts';
import {
  containsSecrets,
  envSecret,
  isSecretName,
  lookupKeyPath,
  parseKeyPath,
  parseSecretTag,
  resolveSecrets,
  SecretRef,
  vaultSecret,
} from '../../src/secrets/values.ts';
import { encryptVault, encryptVaultString } from '../../src/secrets/vault.ts';
import { globalMasker } from '../../src/util/mask.ts';
import { ageKeygen, isolatedEnv, tempDir } from './helpers.ts';

test('key paths: dots, [n] indexes and quoted keys', () => {
  assert.deepEqual(parseKeyPath('db.password'), ['db', 'password']);
  assert.deepEqual(parseKeyPath('users[0].tokens[12]'), ['users', 0, 'tokens', 12]);
  assert.deepEqual(parseKeyPath("hosts['a.b'].ip"), ['hosts', 'a.b', 'ip']);
  assert.deepEqual(parseKeyPath('[1]'), [1]);
  for (const bad of ['', 'a..b', 'a.', '.a', 'a[x]', 'a[0', 'a.[0]', 'a]'])
    assert.throws(() => parseKeyPath(bad), /invalid key path/, bad);
  const data = { db: { password: 'p', port: 5 }, list: [{ t: 'x' }] };
  assert.equal(lookupKeyPath(data, 'list[0].t', 'f.yaml'), 'x');
  assert.throws(
    () => lookupKeyPath(data, 'db.pasword', 'f.yaml'),
    (e: Error & { hint?: string }) => {
      assert.match(e.message, /key 'db.pasword' not found in f\.yaml/);
      assert.match(e.hint ?? '', /Did you mean 'password'/);
      return true;
    },
  );
  assert.throws(() => lookupKeyPath(data, 'list[3]', 'f.yaml'), /list has 1 items/);
  assert.throws(() => lookupKeyPath(data, 'db[0]', 'f.yaml'), /db is not a list/);
});

describe('SecretRef', () => {
  let dir: string;
  let cleanup: () => void;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    ({ dir, cleanup } = tempDir());
    const key = ageKeygen(dir);
    env = isolatedEnv(dir, { SOPS_AGE_KEY_FILE: key.file, STRATA_VAULT_PASSWORD: 'vault-pw' });
    mkdirSync(join(dir, 'stacks', 'prod', 'secrets'), { recursive: true });
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    const text = 'db:\n  password: pr0d-db-Pa55\n  port: 5432\nusers:\n  - name: ci\n    token: tok-ci-123456\n';
    writeFileSync(
      join(dir, 'stacks', 'prod', 'secrets', 'prod.yaml'),
      await encryptSops(text, { file: 'prod.yaml', recipients: [key.recipient] }),
    );
    writeFileSync(
      join(dir, 'secrets', 'shared.yaml'),
      await encryptSops('api: shared-api-key-99\n', { file: 'shared.yaml', recipients: [key.recipient] }),
    );
    const password = { password: 'vault-pw', source: 'test' };
    writeFileSync(
      join(dir, 'secrets', 'secrets.tfvars'),
      await encryptVault('vm_password = "vaulted-pw-1"\n', password),
    );
    writeFileSync(join(dir, 'secrets', 'vars.yml'), await encryptVaultString('inline-vaulted-7', password, 'token'));
  });
  after(() => cleanup());

  test('!secret resolves relative to the stack folder first, then the base path', async () => {
    const stackDir = join(dir, 'stacks', 'prod');
    const ref = parseSecretTag('secrets/prod.yaml db.password', [stackDir, dir]);
    assert.ok(ref.source.startsWith('sops:'));
    assert.equal(ref.source, `sops:${join(stackDir, 'secrets', 'prod.yaml')}#db.password`);
    assert.equal(await ref.resolve({ env }), 'pr0d-db-Pa55');
    const shared = parseSecretTag('secrets/shared.yaml api', [stackDir, dir]);
    assert.equal(await shared.resolve({ env }), 'shared-api-key-99');
    assert.equal(await parseSecretTag('secrets/prod.yaml users[0].token', stackDir).resolve({ env }), 'tok-ci-123456');
    assert.equal(await parseSecretTag('secrets/prod.yaml db.port', stackDir).resolve({ env }), '5432');
    assert.equal(
      await parseSecretTag('secrets/prod.yaml db', stackDir).resolve({ env }),
      // strata:allow-secret (a fixture value)
      '{"password":"pr0d-db-Pa55","port":5432}',
    );
  });

  test('vault files, inline vault values and whole files', async () => {
    const whole = parseSecretTag('secrets/secrets.tfvars', dir);
    // Outside the working folder the path is shown absolute.
    assert.equal(whole.source, `vault:${join(dir, 'secrets', 'secrets.tfvars')}`);
    assert.equal(await whole.resolve({ env }), 'vm_password = "vaulted-pw-1"\n');
    assert.equal(await parseSecretTag('secrets/vars.yml token', dir).resolve({ env }), 'inline-vaulted-7');
    const blob = await encryptVault('stack-inline-vault', { password: 'vault-pw', source: 'test' });
    assert.equal(await vaultSecret(blob, 'stacks/prod.yaml').resolve({ env }), 'stack-inline-vault');
  });

  test('describe, toJSON, String and inspect never show the value, before or after resolving', async () => {
    const ref = parseSecretTag('secrets/prod.yaml db.password', join(dir, 'stacks', 'prod'));
    const value = await ref.resolve({ env });
    for (const shown of [
      ref.describe(),
      JSON.stringify({ ref }),
      String(ref),
      `${ref}`,
      inspect({ ref }, { depth: 5 }),
    ]) {
      assert.ok(!shown.includes(value), shown);
      assert.match(shown, /\*\*\* \(secret from sops:.*prod\.yaml#db\.password\)/);
    }
    // Resolving registered the plaintext with the global masker.
    assert.equal(globalMasker.mask(`connecting with ${value}`), 'connecting with ***');
  });

  test('resolveSecrets replaces refs in nested data, decrypting each file once', async () => {
    const stackDir = join(dir, 'stacks', 'prod');
    const input = {
      vars: {
        password: parseSecretTag('secrets/prod.yaml db.password', stackDir),
        list: [parseSecretTag('secrets/prod.yaml users[0].name', stackDir), 'plain', 3],
        nested: new Map([['token', envSecret('STRATA_TEST_TOKEN')]]),
      },
      untouched: null,
    };
    assert.ok(containsSecrets(input));
    const cache = new Map();
    const out = (await resolveSecrets(input, { env: { ...env, STRATA_TEST_TOKEN: 'env-token-1' }, cache })) as {
      vars: { password: string; list: unknown[]; nested: Map<string, string> };
    };
    assert.equal(out.vars.password, 'pr0d-db-Pa55');
    assert.deepEqual(out.vars.list, ['ci', 'plain', 3]);
    assert.equal(out.vars.nested.get('token'), 'env-token-1');
    assert.equal(cache.size, 1);
    assert.ok(input.vars.password instanceof SecretRef, 'the input is not modified');
    assert.ok(!containsSecrets(out));
  });

  test('clear errors: missing file (places looked), missing key, unset variable, plain file', async () => {
    const stackDir = join(dir, 'stacks', 'prod');
    await assert.rejects(
      parseSecretTag('secrets/nope.yaml a', [stackDir, dir]).resolve({ env }),
      (e: Error & { details?: string }) => {
        assert.match(e.message, /secret file .*nope\.yaml not found/);
        assert.ok(e.details?.includes(join(stackDir, 'secrets', 'nope.yaml')));
        assert.ok(e.details?.includes(join(dir, 'secrets', 'nope.yaml')));
        return true;
      },
    );
    await assert.rejects(
      parseSecretTag('secrets/prod.yaml db.pass', stackDir).resolve({ env }),
      /key 'db.pass' not found/,
    );
    await assert.rejects(
      envSecret('STRATA_SURELY_UNSET_VAR').resolve({ env: {} }),
      /STRATA_SURELY_UNSET_VAR is not set/,
    );
    writeFileSync(join(dir, 'plain.yaml'), 'a: 1\n');
    await assert.rejects(parseSecretTag('plain.yaml a', dir).resolve({ env }), /is not encrypted/);
    assert.throws(() => parseSecretTag('', dir), /needs a file/);
    assert.throws(() => parseSecretTag('a.yaml b c', dir), /one key path/);
    assert.throws(() => parseSecretTag('a.yaml b..c', dir), /invalid key path/);
    assert.equal(parseSecretTag('env:PM_API_TOKEN_SECRET', dir).source, 'env:PM_API_TOKEN_SECRET');
  });
});

test('secret-like environment variable names: a secret word between underscores or at an end', () => {
  for (const name of [
    'PM_API_TOKEN_SECRET',
    'DB_PASSWORD',
    'AWS_SECRET_ACCESS_KEY',
    'GITHUB_TOKEN',
    'db_pass',
    'APIKEY',
  ])
    assert.ok(isSecretName(name), name);
  for (const name of ['TOKENIZER_PATH', 'PASSAGE', 'HOME', 'KEYBOARD', 'SECRETARY_NAME', 'PM_API_URL'])
    assert.ok(!isSecretName(name), name);
  const word = fc.constantFrom('SECRET', 'TOKEN', 'PASSWORD', 'PASSPHRASE', 'API_KEY', 'PRIVATE_KEY', 'CREDENTIALS');
  const part = fc.stringMatching(/^[A-Z0-9]{1,8}$/);
  fc.assert(
    fc.property(fc.array(part, { maxLength: 2 }), word, fc.array(part, { maxLength: 2 }), (before, secret, rest) =>
      isSecretName([...before, secret, ...rest].join('_')),
    ),
    { numRuns: 200 },
  );
});
