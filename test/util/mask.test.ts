import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodedForms, MASK, Masker } from '../../src/util/mask.ts';

const RUNS = { numRuns: 200 };

/** Secrets as tools meet them: letters and digits mixed with quotes, backslashes, newlines, unicode, `${`. */
const secretArb = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...'abcXYZ0123456789') },
      fc.constantFrom(
        '"',
        '\\',
        "'",
        '\n',
        '\t',
        '$',
        '{',
        '%',
        '`',
        '<',
        '&',
        '>',
        ' ',
        '/',
        '=',
        'é',
        '😀',
        '\u2028',
      ),
    ),
    { minLength: 8, maxLength: 40 },
  )
  .map((chars) => chars.join(''))
  // Realistic secrets carry letters or digits, and never the mask itself.
  .filter((s) => /[a-zA-Z0-9].*[a-zA-Z0-9]/s.test(s) && !s.includes('*') && s.trim() === s);

function maskerWith(...secrets: string[]): Masker {
  const masker = new Masker();
  for (const s of secrets) masker.add(s);
  return masker;
}

test('each printed form of a secret is masked, inside any surrounding text', () => {
  fc.assert(
    fc.property(secretArb, fc.string(), fc.string(), (secret, before, after) => {
      const masker = maskerWith(secret);
      for (const form of encodedForms(secret)) {
        const masked = masker.mask(`${before}${form}${after}`);
        assert.ok(!masked.includes(form), `form ${JSON.stringify(form)} survived in ${JSON.stringify(masked)}`);
      }
    }),
    RUNS,
  );
});

test('the forms are the ones tools print: JSON (Go, Python), HCL, shell, base64', () => {
  const secret = `Pa"ss\\word<&> \${x} %{y} é`;
  const masker = maskerWith(secret);
  const printed = [
    // terraform output -json (Go escaping) and jq (plain JSON escaping)
    `"value": "Pa\\"ss\\\\word\\u003c\\u0026\\u003e \${x} %{y} é"`,
    `"value": "Pa\\"ss\\\\word<&> \${x} %{y} é"`,
    // ansible (Python json.dumps, ASCII only)
    `"msg": "Pa\\"ss\\\\word<&> \${x} %{y} \\u00e9"`,
    // terraform plan / tfvars (HCL)
    `password = "Pa\\"ss\\\\word<&> $\${x} %%{y} é"`,
    // a dry run's command line, shell-quoted two ways, and double-quoted
    `--password 'Pa"ss\\word<&> \${x} %{y} é'`,
    `PASSWORD="Pa\\"ss\\\\word<&> \\\${x} %{y} é"`,
    // kubectl get secret -o yaml
    `  password: ${Buffer.from(secret).toString('base64')}`,
  ];
  for (const line of printed) {
    const masked = masker.mask(line);
    assert.ok(masked.includes(MASK), `not masked: ${line}`);
    assert.doesNotMatch(masked, /Pa|\{x\}|\{y\}|UGEi/, `partly shown: ${masked}`);
  }
  const single = maskerWith("it's-a-secret");
  assert.equal(single.mask(`echo 'it'\\''s-a-secret'`), `echo '***'`);
  assert.equal(single.mask(`echo 'it'"'"'s-a-secret'`), `echo '***'`);
});

test('text without the secret in any form is left exactly as it was', () => {
  fc.assert(
    fc.property(secretArb, fc.string({ maxLength: 200 }), (secret, text) => {
      fc.pre(encodedForms(secret).every((form) => !text.includes(form)));
      assert.equal(maskerWith(secret).mask(text), text);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(secretArb, fc.jsonValue(), (secret, value) => {
      const text = JSON.stringify(value, null, 2) ?? 'null';
      fc.pre(encodedForms(secret).every((form) => !text.includes(form)));
      assert.equal(maskerWith(secret).mask(text), text);
    }),
    RUNS,
  );
});

/** A JSON value with the secret planted in some of its strings (whole, or inside a longer string). */
function planted(secret: string): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.constant(secret),
    fc.string().map((s) => `${s}${secret}${s}`),
    fc.integer(),
    fc.boolean(),
    fc.string(),
  );
  return fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
  })).value;
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
  return [];
}

test('a masked JSON document stays valid JSON and holds no form of the secret (whole or line by line)', () => {
  fc.assert(
    fc.property(
      secretArb.chain((secret) => fc.tuple(fc.constant(secret), planted(secret), fc.constantFrom(0, 2))),
      ([secret, value, indent]) => {
        const masker = maskerWith(secret);
        const text = JSON.stringify(value, null, indent);
        const whole = masker.mask(text);
        const lines = text
          .split('\n')
          .map((line) => masker.mask(line))
          .join('\n');
        for (const masked of [whole, lines]) {
          const parsed: unknown = JSON.parse(masked);
          assert.ok(strings(parsed).every((s) => !s.includes(secret)));
          for (const form of encodedForms(secret)) assert.ok(!masked.includes(form), `${form} in ${masked}`);
        }
      },
    ),
    RUNS,
  );
});

test('terraform output -json with sensitive numbers, objects and escaped strings stays JSON', () => {
  const masker = maskerWith('Pa"ss\\word<&>', '12345678', JSON.stringify({ pin: '123' }));
  const printed = `{
  "n": {
    "sensitive": true,
    "value": 12345678
  },
  "pw": {
    "sensitive": true,
    "value": "Pa\\"ss\\\\word\\u003c\\u0026\\u003e"
  },
  "obj": {"sensitive": true, "value": {"pin":"123"}}
}`;
  const whole = JSON.parse(masker.mask(printed));
  assert.deepEqual(whole, {
    n: { sensitive: true, value: MASK },
    pw: { sensitive: true, value: MASK },
    obj: { sensitive: true, value: MASK },
  });
  // Line by line, as the subprocess runner masks: every line stays a valid piece.
  const byLine = printed
    .split('\n')
    .map((l) => masker.mask(l))
    .join('\n');
  assert.deepEqual(JSON.parse(byLine), whole);
  // A single output: `terraform output -json n` prints the bare number.
  assert.equal(masker.mask('12345678'), '"***"');
  // Ordinary log lines keep the plain mask.
  assert.equal(masker.mask('Error: login with 12345678 failed'), 'Error: login with *** failed');
  // A JSON string holding a JSON document: masked inside, still a string of JSON.
  const nested = masker.mask(JSON.stringify({ doc: JSON.stringify({ a: 12345678 }) }));
  assert.deepEqual(JSON.parse(JSON.parse(nested).doc), { a: MASK });
});

test('a byte stream is masked across chunk boundaries; binary bytes pass unchanged', () => {
  fc.assert(
    fc.property(
      secretArb,
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }),
      (secret, noise, cuts) => {
        const masker = maskerWith(secret);
        const input = Buffer.concat([Buffer.from(noise), Buffer.from(secret), Buffer.from(noise)]);
        const stream = masker.stream();
        const out: Buffer[] = [];
        let position = 0;
        for (const size of cuts) {
          out.push(stream.push(input.subarray(position, position + size)));
          position = Math.min(input.length, position + size);
        }
        out.push(stream.push(input.subarray(position)), stream.end());
        const result = Buffer.concat(out);
        assert.ok(!result.includes(Buffer.from(secret)));
        const plain = new Masker().stream();
        assert.deepEqual(Buffer.concat([plain.push(input), plain.end()]), input);
      },
    ),
    RUNS,
  );
});

test('short values are not registered; multi-line secrets are masked line by line', () => {
  const masker = maskerWith('abc', '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0\n-----END KEY-----');
  assert.equal(masker.mask('abc'), 'abc');
  assert.equal(masker.mask('  MIIEvQIBADANBgkqhkiG9w0'), `  ${MASK}`);
});
