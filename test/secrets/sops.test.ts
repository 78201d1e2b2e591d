import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { StrataError } from '../../src/errors.ts';
import { discoverAgeKeys } from '../../src/secrets/age-keys.ts';
import {
  decryptSops,
  decryptSopsFile,
  encryptSops,
  goFormatFloat,
  isSopsEncrypted,
  readSopsMetadata,
  wrapDataKey,
} from '../../src/secrets/sops.ts';
import { sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { ageKeygen, isolatedEnv, keyringOf, tempDir } from './helpers.ts';

// Reads the real sops 3.8.1 test vectors in ../shared/testdata/sops (skipped in a clone without ../shared).
const vectors = join(sharedDir, 'testdata', 'sops');
const vectorEnv = () => isolatedEnv('/nonexistent', { SOPS_AGE_KEY_FILE: join(vectors, 'age-test-key.txt') });
const expected = {
  secret: 'this is a secret',
  string: 'string',
  int: 7,
  float: 3.14,
  boolean: true,
  complex: { value: 'this is a secret', array: ['one', 'two', 'three'] },
};

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<StrataError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StrataError, `expected a StrataError, got ${error}`);
    assert.match(`${error.message}\n${error.details ?? ''}`, pattern);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('real sops 3.8.1 files', { skip: skipWithoutShared }, () => {
  test('decrypts the YAML and JSON vectors and verifies their MAC', async () => {
    for (const name of ['secret.enc.yaml', 'secret.enc.json']) {
      const plain = await decryptSopsFile(join(vectors, name), { env: vectorEnv() });
      assert.deepEqual(plain.data, expected, name);
      assert.equal(plain.dataKey.length, 32);
    }
    const yaml = await decryptSopsFile(join(vectors, 'secret.enc.yaml'), { env: vectorEnv() });
    assert.match(yaml.text, /^secret: this is a secret\n/);
    assert.doesNotMatch(yaml.text, /sops:|ENC\[/);
    const json = await decryptSopsFile(join(vectors, 'secret.enc.json'), { env: vectorEnv() });
    assert.deepEqual(JSON.parse(json.text), expected);
  });

  test('detects a changed value, a deleted key and swapped list items, naming the file', async () => {
    const original = readFileSync(join(vectors, 'secret.enc.yaml'), 'utf8');
    const lines = original.split('\n');
    const encryptedValueOf = (key: string) =>
      (lines.find((l) => l.startsWith(`${key}: `)) as string).slice(key.length + 2);

    // A value moved from another key: its GCM tag is bound to the path, so it does not authenticate.
    const changed = original.replace(encryptedValueOf('string'), encryptedValueOf('secret'));
    await rejectsWith(
      decryptSops(changed, { file: 'changed.enc.yaml', env: vectorEnv() }),
      /changed\.enc\.yaml.*'string'/,
    );

    // Deleting a key leaves every remaining value valid: only the MAC catches it.
    const deleted = lines.filter((l) => !l.startsWith('string: ')).join('\n');
    const error = await rejectsWith(
      decryptSops(deleted, { file: 'deleted.enc.yaml', env: vectorEnv() }),
      /deleted\.enc\.yaml was modified after encryption: MAC mismatch/,
    );
    assert.equal(error.location?.file, 'deleted.enc.yaml');

    // List items share one path, so swapping them only shows in the MAC.
    const items = lines.filter((l) => l.startsWith('    - ENC['));
    assert.equal(items.length, 3);
    const swapped = original.replace(items[0], '@@').replace(items[1], items[0]).replace('@@', items[1]);
    await rejectsWith(decryptSops(swapped, { file: 'swapped.enc.yaml', env: vectorEnv() }), /MAC mismatch/);

    // JSON: changing the MAC itself (or lastmodified) breaks its authentication.
    const json = readFileSync(join(vectors, 'secret.enc.json'), 'utf8');
    const redated = json.replace('2024-03-25T21:55:35Z', '2024-03-25T21:55:36Z');
    await rejectsWith(decryptSops(redated, { file: 'x.enc.json', env: vectorEnv() }), /x\.enc\.json.*MAC/);
  });

  test('reads metadata without a key', () => {
    const meta = readSopsMetadata(readFileSync(join(vectors, 'secret.enc.yaml'), 'utf8'), 'secret.enc.yaml');
    assert.deepEqual(
      meta.age.map((a) => a.recipient),
      ['age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr'],
    );
    assert.equal(meta.version, '3.8.1');
    assert.equal(meta.unencryptedSuffix, '_unencrypted');
  });
});

describe('strata-encrypted files', () => {
  let dir: string;
  let cleanup: () => void;
  let alice: ReturnType<typeof ageKeygen>;
  let bob: ReturnType<typeof ageKeygen>;
  before(() => {
    ({ dir, cleanup } = tempDir());
    alice = ageKeygen(dir, 'alice.txt');
    bob = ageKeygen(dir, 'bob.txt');
  });
  after(() => cleanup());

  const source = [
    '# database credentials',
    'db:',
    '  user: admin # the admin',
    '  password: correct horse',
    '  port: 5432',
    '  ratio: 0.25',
    '  enabled: true',
    '  empty: ""',
    '  nothing: null',
    'hosts:',
    '  # first host',
    '  - alpha',
    '  - beta',
    'note_unencrypted: visible',
    '',
  ].join('\n');

  test('round trip keeps values, types, comments and order; nothing readable in the file', async () => {
    const encrypted = await encryptSops(source, { file: 'prod.yaml', recipients: [alice.recipient, bob.recipient] });
    assert.ok(isSopsEncrypted(encrypted));
    for (const secret of ['admin', 'correct horse', '5432', 'alpha', 'database credentials', 'first host']) {
      assert.ok(!encrypted.includes(secret), `'${secret}' leaked into the encrypted file`);
    }
    assert.match(encrypted, /note_unencrypted: visible/);
    assert.match(encrypted, /empty: ""/);
    assert.match(encrypted, /^#ENC\[AES256_GCM,.*type:comment\]$/m);
    const meta = parse(encrypted).sops;
    assert.deepEqual(Object.keys(meta), [
      'kms',
      'gcp_kms',
      'azure_kv',
      'hc_vault',
      'age',
      'lastmodified',
      'mac',
      'pgp',
      'unencrypted_suffix',
      'version',
    ]);
    assert.equal(meta.version, '3.8.1');
    assert.match(meta.lastmodified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(encrypted, /port: ENC\[.*type:int\]/);
    assert.match(encrypted, /ratio: ENC\[.*type:float\]/);
    assert.match(encrypted, /enabled: ENC\[.*type:bool\]/);

    for (const who of [alice, bob]) {
      const plain = await decryptSops(encrypted, { file: 'prod.yaml', keyring: keyringOf(who) });
      assert.equal(plain.text, source);
      assert.deepEqual(plain.data, parse(source));
    }
  });

  test('an unencrypted value changed by hand fails the MAC unless mac_only_encrypted', async () => {
    const keyring = keyringOf(alice);
    const normal = await encryptSops(source, { file: 'a.yaml', recipients: [alice.recipient] });
    const edited = normal.replace('note_unencrypted: visible', 'note_unencrypted: changed');
    await rejectsWith(decryptSops(edited, { file: 'a.yaml', keyring }), /a\.yaml.*MAC mismatch/);

    const macOnly = await encryptSops(source, {
      file: 'b.yaml',
      recipients: [alice.recipient],
      rules: { macOnlyEncrypted: true },
    });
    assert.match(macOnly, /mac_only_encrypted: true/);
    const plain = await decryptSops(macOnly.replace('note_unencrypted: visible', 'note_unencrypted: changed'), {
      file: 'b.yaml',
      keyring,
    });
    assert.equal((plain.data as Record<string, unknown>).note_unencrypted, 'changed');
  });

  test('encrypted_regex, unencrypted_regex and encrypted_suffix choose what is encrypted', async () => {
    const keyring = keyringOf(alice);
    const text = 'metadata:\n  name: app\ndata:\n  token: t0ps3cret\napi_secret: s3\nplain: p\n';
    const byRegex = await encryptSops(text, {
      file: 'k.yaml',
      recipients: [alice.recipient],
      rules: { encryptedRegex: '^(data|stringData)$' },
    });
    assert.match(byRegex, /name: app/);
    assert.match(byRegex, /api_secret: s3/);
    assert.doesNotMatch(byRegex, /t0ps3cret/);
    assert.match(byRegex, /encrypted_regex: \^\(data\|stringData\)\$/);
    assert.doesNotMatch(byRegex, /unencrypted_suffix/);
    assert.deepEqual((await decryptSops(byRegex, { file: 'k.yaml', keyring })).data, parse(text));

    const bySuffix = await encryptSops(text, {
      file: 'k.yaml',
      recipients: [alice.recipient],
      rules: { encryptedSuffix: '_secret' },
    });
    assert.match(bySuffix, /token: t0ps3cret/);
    assert.doesNotMatch(bySuffix, /api_secret: s3/);
    assert.deepEqual((await decryptSops(bySuffix, { file: 'k.yaml', keyring })).data, parse(text));

    const byUnRegex = await encryptSops(text, {
      file: 'k.yaml',
      recipients: [alice.recipient],
      rules: { unencryptedRegex: '^metadata$' },
    });
    assert.match(byUnRegex, /name: app/);
    assert.doesNotMatch(byUnRegex, /plain: p/);
    assert.deepEqual((await decryptSops(byUnRegex, { file: 'k.yaml', keyring })).data, parse(text));

    await assert.rejects(
      encryptSops(text, {
        file: 'k.yaml',
        recipients: [alice.recipient],
        rules: { encryptedRegex: 'a', encryptedSuffix: 'b' },
      }),
      /only one of/,
    );
  });

  test('JSON keeps key order, and numbers are float64 as in sops', async () => {
    const text = '{\n  "b": 1,\n  "10": [2.5, "x"],\n  "a": {"deep": true}\n}\n';
    const encrypted = await encryptSops(text, { file: 's.json', recipients: [alice.recipient] });
    const parsed = JSON.parse(encrypted);
    assert.deepEqual(Object.keys(parsed), ['10', 'b', 'a', 'sops']); // JS orders integer keys first when parsing
    assert.match(encrypted, /^\{\n {2}"b": "ENC\[.*type:float\]",\n {2}"10": \[/);
    assert.deepEqual(Object.keys(parsed.sops), ['age', 'lastmodified', 'mac', 'unencrypted_suffix', 'version']);
    const plain = await decryptSops(encrypted, { file: 's.json', keyring: keyringOf(bob, alice) });
    assert.equal(plain.text, '{\n  "b": 1,\n  "10": [\n    2.5,\n    "x"\n  ],\n  "a": {\n    "deep": true\n  }\n}\n');
  });

  test("Debian's age opens the data key strata wrote, and strata opens one age wrote", async () => {
    const encrypted = await encryptSops('password: hunter22\n', { file: 'p.yaml', recipients: [alice.recipient] });
    const enc = parse(encrypted).sops.age[0].enc as string;
    const armored = join(dir, 'datakey.age');
    writeFileSync(armored, enc);
    const dataKey = execFileSync('age', ['-d', '-i', alice.file, armored]);
    assert.equal(dataKey.length, 32);
    // The key age returned really is the data key: it opens the value with node:crypto alone.
    const m = /password: ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:str\]/.exec(encrypted) as RegExpExecArray;
    const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(m[2], 'base64'));
    decipher.setAAD(Buffer.from('password:'));
    decipher.setAuthTag(Buffer.from(m[3], 'base64'));
    assert.equal(
      Buffer.concat([decipher.update(Buffer.from(m[1], 'base64')), decipher.final()]).toString(),
      'hunter22',
    );

    // Re-wrap that data key for bob with the age binary and put it in place of alice's block.
    const rewrapped = execFileSync('age', ['-a', '-r', bob.recipient], { input: dataKey, encoding: 'utf8' });
    const doc = parse(encrypted);
    doc.sops.age = [{ recipient: bob.recipient, enc: rewrapped }];
    const forBob = stringify(doc);
    const plain = await decryptSops(forBob, { file: 'p.yaml', keyring: keyringOf(bob) });
    assert.deepEqual(plain.data, { password: 'hunter22' });
  });

  test('wrong key: names the recipients of the file and the public keys at hand', async () => {
    const encrypted = await encryptSops('a: b\n', { file: 'w.yaml', recipients: [alice.recipient] });
    const error = await rejectsWith(
      decryptSops(encrypted, { file: 'w.yaml', keyring: keyringOf(bob) }),
      /none of your age keys can decrypt w\.yaml/,
    );
    assert.ok(error.details?.includes(alice.recipient));
    assert.ok(error.details?.includes(bob.recipient));
    assert.ok(!error.details?.includes(bob.identity));
  });

  test('no key: lists every place looked', async () => {
    const encrypted = await encryptSops('a: b\n', { file: 'n.yaml', recipients: [alice.recipient] });
    const env = isolatedEnv(dir, { SOPS_AGE_KEY_FILE: join(dir, 'absent.txt') });
    const error = await rejectsWith(
      decryptSops(encrypted, { file: 'n.yaml', env }),
      /no age key found to decrypt n\.yaml/,
    );
    assert.match(error.details ?? '', /\$STRATA_AGE_KEY_FILE: not set/);
    assert.match(error.details ?? '', /absent\.txt: missing/);
    assert.match(error.details ?? '', /\$SOPS_AGE_KEY: not set/);
    assert.match(error.details ?? '', /\.config\/sops\/age\/keys\.txt: missing/);
  });

  test('edit-style re-encryption keeps the data key, recipients and unchanged ciphertext', async () => {
    const keyring = keyringOf(alice);
    const first = await encryptSops(source, { file: 'e.yaml', recipients: [alice.recipient] });
    const plain = await decryptSops(first, { file: 'e.yaml', keyring });
    const second = await encryptSops(plain.text.replace('port: 5432', 'port: 5433'), {
      file: 'e.yaml',
      rules: plain.metadata,
      reuse: { dataKey: plain.dataKey, age: plain.metadata.age, ivStash: plain.ivStash },
    });
    const firstLines = first.split('\n');
    const changed = second.split('\n').filter((l) => !firstLines.includes(l));
    // Only the port value, lastmodified and mac lines differ.
    assert.ok(changed.some((l) => l.startsWith('  port: ENC[')));
    assert.ok(
      changed.every((l) => /^ {2}(port|lastmodified|mac):/.test(l)),
      changed.join('\n'),
    );
    assert.equal(
      ((await decryptSops(second, { file: 'e.yaml', keyring })).data as { db: { port: number } }).db.port,
      5433,
    );
  });
});

test('key discovery: STRATA_AGE_KEY_FILE, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, then the XDG default file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = ageKeygen(dir, 'a.txt');
    const b = ageKeygen(dir, 'b.txt');
    const c = ageKeygen(dir, 'c.txt');
    const d = ageKeygen(dir, 'd.txt');
    const xdg = join(dir, 'xdg');
    execFileSync('mkdir', ['-p', join(xdg, 'sops', 'age')]);
    execFileSync('cp', [d.file, join(xdg, 'sops', 'age', 'keys.txt')]);
    const env = isolatedEnv(dir, {
      STRATA_AGE_KEY_FILE: a.file,
      SOPS_AGE_KEY_FILE: b.file,
      SOPS_AGE_KEY: `# inline\n${c.identity}\n${a.identity}\n`,
      XDG_CONFIG_HOME: xdg,
    });
    const ring = await discoverAgeKeys(env);
    assert.deepEqual(
      ring.keys.map((k) => k.recipient),
      [a.recipient, b.recipient, c.recipient, d.recipient],
    );
    assert.deepEqual(
      ring.sources.map((s) => [s.kind, s.status, s.keys]),
      [
        ['STRATA_AGE_KEY_FILE', 'loaded', 1],
        ['SOPS_AGE_KEY_FILE', 'loaded', 1],
        ['SOPS_AGE_KEY', 'loaded', 2],
        ['default key file', 'loaded', 1],
      ],
    );
    assert.equal(ring.keys[0].origin, `STRATA_AGE_KEY_FILE=${a.file}`);
    // Without XDG_CONFIG_HOME the default is ~/.config/sops/age/keys.txt.
    const home = await discoverAgeKeys(isolatedEnv(dir, { XDG_CONFIG_HOME: '' }));
    assert.equal(home.sources[3].location, join(dir, '.config', 'sops', 'age', 'keys.txt'));
    // A key file with something else in it is an error naming the line.
    writeFileSync(join(dir, 'bad.txt'), '# ok\nnot-a-key\n');
    await assert.rejects(discoverAgeKeys(isolatedEnv(dir, { SOPS_AGE_KEY_FILE: join(dir, 'bad.txt') })), /line 2/);
  } finally {
    cleanup();
  }
});

test('goFormatFloat matches Go strconv.FormatFloat(f, -1)', () => {
  const cases: [number, string][] = [
    [3.14, '3.14'],
    [1e21, '1000000000000000000000'],
    [1.5e-7, '0.00000015'],
    [-2.5e22, '-25000000000000000000000'],
    [Number.POSITIVE_INFINITY, '+Inf'],
    [Number.NaN, 'NaN'],
    [100, '100'],
  ];
  for (const [n, s] of cases) assert.equal(goFormatFloat(n), s);
});

test('property: encrypt then decrypt returns the data, YAML and JSON', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // One key pair and one wrapped data key for all runs: age key generation stays out of the loop.
    const key = ageKeygen(dir);
    const dataKey = Buffer.alloc(32, 7);
    const age = await wrapDataKey(dataKey, [key.recipient]);
    const keyring = keyringOf(key);
    const scalar = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
      fc.boolean(),
      fc.constant(null),
    );
    const key_ = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== 'sops' && k !== '__proto__');
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), tie('map')),
      list: fc.array(tie('tree'), { maxLength: 4 }),
      map: fc.dictionary(key_, tie('tree'), { maxKeys: 4 }),
    }));
    const top = fc.dictionary(key_, tree, { maxKeys: 5 });
    await fc.assert(
      fc.asyncProperty(top, fc.boolean(), async (data, asJson) => {
        const file = asJson ? 'p.json' : 'p.yaml';
        const text = asJson ? JSON.stringify(data) : stringify(data);
        const encrypted = await encryptSops(text, { file, reuse: { dataKey, age } });
        const plain = await decryptSops(encrypted, { file, keyring });
        assert.deepStrictEqual(plain.data, JSON.parse(JSON.stringify(data)));
      }),
      { numRuns: 150 },
    );
  } finally {
    cleanup();
  }
});
