// Provisioning tokens: iac-driver's algorithm (re-implemented here from the note, independently of strata's module)
// and strata's verify each other's tokens; tampered, foreign and wrong-identity tokens get iac-driver's codes.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  mintProvisioningToken,
  signingKeyBytes,
  verifyProvisioningToken,
} from '../../src/secrets/provisioning-token.ts';

const KEY_HEX = '0123456789abcdef'.repeat(4);
const KEY = Buffer.from(KEY_HEX, 'hex');

/** iac-driver's _mint_provisioning_token: compact JSON v,n,s,iat; HMAC-SHA256 over the base64url payload. */
function iacDriverMint(keyHex: string, n: string, s: string, iat: number): string {
  const payload = Buffer.from(JSON.stringify({ v: 1, n, s, iat })).toString('base64url');
  const signature = createHmac('sha256', Buffer.from(keyHex, 'hex')).update(payload).digest('base64url');
  return `${payload}.${signature}`;
}

/** iac-driver's server-side check, for the reverse direction. */
function iacDriverVerify(keyHex: string, token: string): boolean {
  const [payload, signature] = token.split('.');
  const expected = createHmac('sha256', Buffer.from(keyHex, 'hex')).update(payload).digest('base64url');
  return expected === signature;
}

test('the note’s test vector', () => {
  const token = mintProvisioningToken(KEY, 'edge', 'base', 1700000000);
  assert.equal(
    token,
    'eyJ2IjoxLCJuIjoiZWRnZSIsInMiOiJiYXNlIiwiaWF0IjoxNzAwMDAwMDAwfQ.l2pLOOo1-Adf-B4f9eaWDfkKwpNQGJ-Ihu2ByEJ3jC4',
  );
});

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const hexKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

test('tokens minted the iac-driver way verify in strata, and strata’s verify the iac-driver way', () => {
  fc.assert(
    fc.property(hexKey, name, name, fc.integer({ min: 0, max: 2 ** 31 }), (keyHex, n, s, iat) => {
      const theirs = iacDriverMint(keyHex, n, s, iat);
      const check = verifyProvisioningToken(Buffer.from(keyHex, 'hex'), theirs, n);
      assert.ok(check.ok);
      assert.deepEqual(check.claims, { v: 1, n, s, iat });
      const ours = mintProvisioningToken(Buffer.from(keyHex, 'hex'), n, s, iat);
      assert.equal(ours, theirs);
      assert.ok(iacDriverVerify(keyHex, ours));
    }),
    { numRuns: 200 },
  );
});

test('a tampered token is refused with E301, whatever character changes', () => {
  const token = iacDriverMint(KEY_HEX, 'edge', 'base', 1700000000);
  fc.assert(
    fc.property(
      fc.nat({ max: token.length - 1 }),
      fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
      (index, char) => {
        if (token[index] === char || token[index] === '.') return;
        const tampered = token.slice(0, index) + char + token.slice(index + 1);
        const check = verifyProvisioningToken(KEY, tampered, 'edge');
        assert.equal(check.ok, false);
        if (!check.ok) assert.ok(['E300', 'E301'].includes(check.code), check.code);
      },
    ),
    { numRuns: 500 },
  );
});

test('iac-driver’s codes: foreign key, identity mismatch, malformed, missing claims, no key', () => {
  const token = iacDriverMint(KEY_HEX, 'edge', 'base', 1);
  const foreign = verifyProvisioningToken(Buffer.alloc(32, 7), token, 'edge');
  assert.deepEqual(foreign, { ok: false, code: 'E301', status: 401, message: 'Invalid token signature' });
  const mismatch = verifyProvisioningToken(KEY, token, 'web');
  assert.deepEqual(mismatch, {
    ok: false,
    code: 'E301',
    status: 401,
    message: 'Token identity mismatch: token=edge url=web',
  });
  assert.equal((verifyProvisioningToken(KEY, 'a.b.c') as { code: string }).code, 'E300');
  const noClaims = Buffer.from(JSON.stringify({ v: 1, n: 'edge' })).toString('base64url');
  const signed = `${noClaims}.${createHmac('sha256', KEY).update(noClaims).digest('base64url')}`;
  assert.equal(
    (verifyProvisioningToken(KEY, signed) as { message: string }).message,
    'Malformed token: missing required claims',
  );
  const v2 = Buffer.from(JSON.stringify({ v: 2, n: 'edge', s: 'x' })).toString('base64url');
  const signedV2 = `${v2}.${createHmac('sha256', KEY).update(v2).digest('base64url')}`;
  assert.equal((verifyProvisioningToken(KEY, signedV2) as { message: string }).message, 'Unsupported token version');
  assert.deepEqual(verifyProvisioningToken(undefined, token), {
    ok: false,
    code: 'E500',
    status: 500,
    message: 'Signing key not configured',
  });
  assert.equal(signingKeyBytes('not hex'), undefined);
  assert.deepEqual(signingKeyBytes(KEY_HEX), KEY);
});
