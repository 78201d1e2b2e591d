import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { RateLimiter } from '../../src/controller/rate-limit.ts';
import { checkRequestPath } from '../../src/controller/repo.ts';
import { issueToken, loadSigningKey, parseDuration, safeEqual, verifyToken } from '../../src/controller/tokens.ts';
import { isValidIdentity } from '../../src/controller/types.ts';
import { tempDir } from './helpers.ts';

const identity = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$/).filter(isValidIdentity);

test('issued tokens verify with the same key until they expire', () => {
  fc.assert(
    fc.property(
      identity,
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.uint8Array({ minLength: 32, maxLength: 64 }),
      (id, ttl, bytes) => {
        const key = Buffer.from(bytes);
        const now = 1_700_000_000_000;
        const token = issueToken(key, id, ttl, now);
        const check = verifyToken(key, token, now);
        assert.ok(check.ok);
        assert.equal(check.claims.n, id);
        assert.equal(check.claims.exp - check.claims.iat, ttl);
        assert.deepEqual(verifyToken(key, token, now + ttl * 1000), { ok: false, reason: 'expired' });
      },
    ),
    { numRuns: 200 },
  );
});

test('any change to a token, or another key, makes it invalid', () => {
  const key = randomBytes(32);
  const token = issueToken(key, 'edge', 3600);
  fc.assert(
    fc.property(fc.nat(token.length - 1), fc.constantFrom(...'ABCDEFabcdef0123456789-_.'), (index, char) => {
      fc.pre(token[index] !== char);
      const changed = token.slice(0, index) + char + token.slice(index + 1);
      assert.equal(verifyToken(key, changed).ok, false, changed);
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(verifyToken(randomBytes(32), token), { ok: false, reason: 'signature' });
  assert.deepEqual(verifyToken(key, `${token}.x`), { ok: false, reason: 'malformed' });
  assert.deepEqual(verifyToken(key, 'a'.repeat(5000)), { ok: false, reason: 'malformed' });
  assert.deepEqual(verifyToken(key, issueToken(key, 'edge', 60, Date.now() + 3_600_000)), {
    ok: false,
    reason: 'not-yet-valid',
  });
});

test('one token, one encoding: variants of the spare base64url bits do not verify', () => {
  const key = randomBytes(32);
  for (let i = 0; i < 20; i++) {
    const token = issueToken(key, `node${i}`, 3600);
    const [payload, signature] = token.split('.');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The signature's and the payload's last characters: only the canonical one of all 64 verifies.
    const lastOfSignature = [...alphabet].filter(
      (c) => verifyToken(key, `${payload}.${signature.slice(0, -1)}${c}`).ok,
    );
    assert.deepEqual(lastOfSignature, [signature.at(-1)]);
    const lastOfPayload = [...alphabet].filter((c) => verifyToken(key, `${payload.slice(0, -1)}${c}.${signature}`).ok);
    assert.deepEqual(lastOfPayload, [payload.at(-1)]);
  }
});

test('the signature is HMAC-SHA256 over the encoded payload, as iac-driver signs', () => {
  // iac-driver's documented vector (no expiry): the signature matches, the missing `exp` claim is refused.
  const key = Buffer.from('0123456789abcdef'.repeat(4), 'hex');
  const vector =
    'eyJ2IjoxLCJuIjoiZWRnZSIsInMiOiJiYXNlIiwiaWF0IjoxNzAwMDAwMDAwfQ.l2pLOOo1-Adf-B4f9eaWDfkKwpNQGJ-Ihu2ByEJ3jC4';
  const [payload, signature] = vector.split('.');
  assert.equal(createHmac('sha256', key).update(payload).digest('base64url'), signature);
  assert.deepEqual(verifyToken(key, vector), { ok: false, reason: 'malformed' });
});

test('identities and keys are checked when issuing', () => {
  assert.throws(() => issueToken(randomBytes(32), 'Bad Name', 60), /not a valid node identity/);
  assert.throws(() => issueToken(randomBytes(8), 'edge', 60), /at least 32 are needed/);
  assert.throws(() => issueToken(randomBytes(32), 'edge', 0), /must be positive/);
});

test('the signing key file is created once with mode 0600 and read back', async () => {
  const dir = tempDir('key');
  try {
    const file = join(dir, 'nested', 'controller.key');
    assert.equal(await loadSigningKey({ file, env: {} }), undefined);
    const created = await loadSigningKey({ file, env: {}, create: true });
    assert.equal(created?.created, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await loadSigningKey({ file, env: {} });
    assert.equal(again?.key.toString('hex'), created?.key.toString('hex'));
    assert.equal(readFileSync(file, 'utf8').trim(), created?.key.toString('hex'));
    const fromEnv = await loadSigningKey({ env: { STRATA_CONTROLLER_KEY: 'ab'.repeat(32) } });
    assert.equal(fromEnv?.origin, '$STRATA_CONTROLLER_KEY');
    await assert.rejects(loadSigningKey({ env: { STRATA_CONTROLLER_KEY: 'zz' } }), /not hex/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('durations and constant-time comparison', () => {
  assert.equal(parseDuration('24h'), 86_400);
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('7d'), 604_800);
  assert.equal(parseDuration('15m'), 900);
  assert.throws(() => parseDuration('tomorrow'), /invalid duration/);
  assert.throws(() => parseDuration('0h'), /must be positive/);
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual('abc', 'abcd'), false);
});

test('accepted repository paths never climb, whatever the encoding', () => {
  const piece = fc.constantFrom(
    'a',
    'b.txt',
    '.',
    '..',
    '%2e',
    '%2E%2e',
    '%252e',
    '%2f',
    '%5c',
    '\\',
    '/',
    '%00',
    '%',
    'x%41',
  );
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), (parts) => {
      const raw = parts.join('');
      const check = checkRequestPath(raw);
      if (!check.ok) return;
      // Fully decoding what was accepted still yields no dot segment, no backslash and no absolute path.
      let decoded = check.path;
      for (let i = 0; i < 3; i++) {
        try {
          decoded = decodeURIComponent(decoded);
        } catch {
          break;
        }
      }
      assert.ok(!decoded.startsWith('/'), raw);
      assert.ok(!decoded.includes('\\'), raw);
      assert.ok(!decoded.split('/').some((s) => s === '..' || s === '.' || s === ''), raw);
    }),
    { numRuns: 1000 },
  );
  assert.deepEqual(checkRequestPath('docs/readme.md'), { ok: true, path: 'docs/readme.md' });
  assert.deepEqual(checkRequestPath('with%20space.txt'), { ok: true, path: 'with space.txt' });
});

test('the rate limiter refills at the configured rate and forgets idle clients', () => {
  const limiter = new RateLimiter({ perSecond: 2, burst: 2, maxClients: 3 });
  assert.equal(limiter.take('a', 0), 0);
  assert.equal(limiter.take('a', 0), 0);
  assert.equal(limiter.take('a', 0), 0.5);
  assert.equal(limiter.take('a', 500), 0);
  for (const client of ['b', 'c', 'd', 'e']) limiter.take(client, 10_000);
  assert.ok(limiter.clients <= 3);
  assert.equal(new RateLimiter({ perSecond: 0, burst: 1 }).take('x'), 0);
});
