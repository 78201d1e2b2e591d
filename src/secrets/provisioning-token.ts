/**
 * iac-driver's provisioning tokens (seed 001): `<payload>.<signature>`, both base64url without padding. The payload is
 * compact JSON `{"v":1,"n":<node>,"s":<spec>,"iat":<unix s>}` in that key order; the signature is HMAC-SHA256 over the
 * encoded payload, keyed with the bytes of the hex `secrets.auth.signing_key`. They carry no expiry (`iat` is
 * informational), so a leaked one is revoked by rotating the key.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { StrataError } from '../errors.ts';

export interface ProvisioningClaims {
  v: number;
  /** Node (VM) name: must equal the identity in the URL. */
  n: string;
  /** Spec name (`config` for nodes that only fetch their configuration). */
  s: string;
  /** Issued at, unix seconds. */
  iat: number;
}

/** Why a token is refused, with iac-driver's error code, HTTP status and message. */
export interface TokenRefusal {
  code: 'E300' | 'E301' | 'E500';
  status: 400 | 401 | 500;
  message: string;
}

export type ProvisioningCheck = { ok: true; claims: ProvisioningClaims } | ({ ok: false } & TokenRefusal);

/** The HMAC key from `secrets.auth.signing_key`: hex text; anything else is refused like iac-driver (E500). */
export function signingKeyBytes(hex: unknown): Buffer | undefined {
  if (typeof hex !== 'string' || hex === '' || !/^(?:[0-9a-fA-F]{2})+$/.test(hex.trim())) return undefined;
  return Buffer.from(hex.trim(), 'hex');
}

function sign(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

/** Mints a token the way iac-driver's ConfigResolver does. */
export function mintProvisioningToken(
  key: Buffer,
  node: string,
  spec: string,
  iat = Math.floor(Date.now() / 1000),
): string {
  const payload = Buffer.from(JSON.stringify({ v: 1, n: node, s: spec, iat })).toString('base64url');
  return `${payload}.${sign(key, payload).toString('base64url')}`;
}

/** The claims without any check (for `token inspect`); undefined when the payload is not JSON. */
export function decodeProvisioningClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 2) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const refuse = (code: TokenRefusal['code'], status: TokenRefusal['status'], message: string): ProvisioningCheck => ({
  ok: false,
  code,
  status,
  message,
});

/**
 * Verifies like iac-driver's server: two segments, the signature compared in constant time before the payload is
 * read, version 1, claims n and s present, and n equal to the identity asked for (when one is given).
 */
export function verifyProvisioningToken(key: Buffer | undefined, token: string, identity?: string): ProvisioningCheck {
  if (!key) return refuse('E500', 500, 'Signing key not configured');
  const parts = token.split('.');
  if (token.length > 4096 || parts.length !== 2) return refuse('E300', 400, 'Malformed token');
  if (!/^[A-Za-z0-9_-]*$/.test(parts[1])) return refuse('E300', 400, 'Malformed token: bad signature encoding');
  const given = Buffer.from(parts[1], 'base64url');
  // One encoding per signature: the spare bits of the last character must be zero, so no two strings verify.
  if (given.toString('base64url') !== parts[1]) return refuse('E300', 400, 'Malformed token: bad signature encoding');
  const expected = sign(key, parts[0]);
  const comparable = given.length === expected.length ? given : Buffer.alloc(expected.length);
  if (!(timingSafeEqual(comparable, expected) && given.length === expected.length)) {
    return refuse('E301', 401, 'Invalid token signature');
  }
  const claims = decodeProvisioningClaims(token);
  if (!claims) return refuse('E300', 400, 'Malformed token: payload is not JSON');
  if (claims.v !== 1) return refuse('E300', 400, 'Unsupported token version');
  if (typeof claims.n !== 'string' || typeof claims.s !== 'string') {
    return refuse('E300', 400, 'Malformed token: missing required claims');
  }
  if (identity !== undefined && claims.n !== identity) {
    return refuse('E301', 401, `Token identity mismatch: token=${claims.n} url=${identity}`);
  }
  const iat = typeof claims.iat === 'number' ? claims.iat : 0;
  return { ok: true, claims: { v: 1, n: claims.n, s: claims.s, iat } };
}

/** The signing key of a site-config's secrets, or an error naming where it belongs. */
export function requireSigningKey(secrets: Record<string, unknown>): Buffer {
  const auth = secrets.auth as Record<string, unknown> | undefined;
  const key = signingKeyBytes(auth?.signing_key);
  if (!key) {
    throw new StrataError('auth.signing_key not found in secrets.yaml (or not hex)', {
      hint: 'add a 256-bit hex key: auth: { signing_key: <output of `openssl rand -hex 32`> }',
    });
  }
  return key;
}
