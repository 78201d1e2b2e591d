/**
 * Node tokens: `<payload>.<signature>`, both base64url without padding. The payload is compact JSON
 * `{"v":1,"n":<identity>,"iat":<unix s>,"exp":<unix s>}` (iac-driver's provisioning-token layout plus an expiry);
 * the signature is HMAC-SHA256 over the encoded payload. Anyone holding the key verifies a token offline.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { StrataError, UsageError } from '../errors.ts';
import { isValidIdentity } from './types.ts';

export const TOKEN_VERSION = 1;
export const MIN_KEY_BYTES = 32;
/** Tokens longer than this are refused before any decoding: a cheap bound on work per request. */
const MAX_TOKEN_LENGTH = 1024;

export interface TokenClaims {
  v: number;
  /** Node identity. */
  n: string;
  /** Issued at (unix seconds). */
  iat: number;
  /** Expires at (unix seconds). */
  exp: number;
}

export type TokenCheck =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'version' | 'not-yet-valid' };

export function issueToken(key: Buffer, identity: string, ttlSeconds: number, now = Date.now()): string {
  if (!isValidIdentity(identity)) {
    throw new UsageError(`'${identity}' is not a valid node identity`, {
      hint: 'identities are host names: lower-case letters, digits, dots, dashes and underscores',
    });
  }
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new UsageError('the token lifetime must be positive');
  assertKey(key);
  const iat = Math.floor(now / 1000);
  const claims: TokenClaims = { v: TOKEN_VERSION, n: identity, iat, exp: iat + Math.floor(ttlSeconds) };
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${sign(key, payload).toString('base64url')}`;
}

/**
 * Checks the signature first, in constant time, and only then looks at the claims: a forged token learns nothing
 * about the claim checks. The clock skew allowance covers nodes whose clock runs a little ahead of the controller.
 */
export function verifyToken(key: Buffer, token: string, now = Date.now(), skewSeconds = 60): TokenCheck {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]) || !/^[A-Za-z0-9_-]+$/.test(parts[1])) {
    return { ok: false, reason: 'malformed' };
  }
  const given = Buffer.from(parts[1], 'base64url');
  const expected = sign(key, parts[0]);
  // timingSafeEqual needs equal lengths: a wrong-length signature is compared as zeros, so the work stays the same.
  const comparable = given.length === expected.length ? given : Buffer.alloc(expected.length);
  const same = timingSafeEqual(comparable, expected) && given.length === expected.length;
  if (!same) return { ok: false, reason: 'signature' };
  // One encoding per token: base64url leaves spare bits in the last character, which decoding ignores; a token
  // whose encoding is not the canonical one (the one issueToken writes) is refused, so no two strings verify.
  if (!isCanonical(parts[0]) || !isCanonical(parts[1])) return { ok: false, reason: 'malformed' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!isClaims(claims)) return { ok: false, reason: 'malformed' };
  if (claims.v !== TOKEN_VERSION) return { ok: false, reason: 'version' };
  const seconds = Math.floor(now / 1000);
  if (claims.iat > seconds + skewSeconds) return { ok: false, reason: 'not-yet-valid' };
  if (claims.exp <= seconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** Reads the claims without checking anything, for `strata serve token verify` output. */
export function decodeClaims(token: string): Partial<TokenClaims> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'));
    return value && typeof value === 'object' ? (value as Partial<TokenClaims>) : undefined;
  } catch {
    return undefined;
  }
}

/** Constant-time string equality: both sides are hashed first, so neither the content nor the length leaks. */
export function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

function isCanonical(encoded: string): boolean {
  return Buffer.from(encoded, 'base64url').toString('base64url') === encoded;
}

function sign(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

function isClaims(value: unknown): value is TokenClaims {
  if (!value || typeof value !== 'object') return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.v === 'number' &&
    typeof c.n === 'string' &&
    isValidIdentity(c.n) &&
    Number.isInteger(c.iat) &&
    Number.isInteger(c.exp)
  );
}

function assertKey(key: Buffer): void {
  if (key.length < MIN_KEY_BYTES) {
    throw new StrataError(`the signing key is ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed`, {
      hint: 'create a new one: remove the key file and run `strata serve token issue <identity>`',
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The signing key: hex in a 0600 file, by default outside the repository (the controller serves the repository).

export const SIGNING_KEY_ENV = 'STRATA_CONTROLLER_KEY';
export const SIGNING_KEY_FILE_ENV = 'STRATA_CONTROLLER_KEY_FILE';

export function defaultSigningKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env[SIGNING_KEY_FILE_ENV]) return env[SIGNING_KEY_FILE_ENV];
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(config, 'strata', 'controller.key');
}

export function parseSigningKey(text: string, origin: string): Buffer {
  const hex = text.trim();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
    throw new StrataError(`the signing key in ${origin} is not hex`, {
      hint: 'the key is 64 hexadecimal characters (32 bytes); generate one with `openssl rand -hex 32`',
    });
  }
  const key = Buffer.from(hex, 'hex');
  assertKey(key);
  return key;
}

/**
 * The key from $STRATA_CONTROLLER_KEY (hex), else the key file; undefined when neither exists.
 * With `create`, a missing file is created with a fresh random key (mode 0600, folder 0700).
 */
export async function loadSigningKey(
  options: { file?: string; env?: NodeJS.ProcessEnv; create?: boolean } = {},
): Promise<{ key: Buffer; origin: string; created: boolean } | undefined> {
  const env = options.env ?? process.env;
  if (env[SIGNING_KEY_ENV] && !options.file) {
    return {
      key: parseSigningKey(env[SIGNING_KEY_ENV], `$${SIGNING_KEY_ENV}`),
      origin: `$${SIGNING_KEY_ENV}`,
      created: false,
    };
  }
  const file = options.file ?? defaultSigningKeyFile(env);
  try {
    return { key: parseSigningKey(await readFile(file, 'utf8'), file), origin: file, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (error instanceof StrataError) throw error;
      throw new StrataError(`cannot read the signing key ${file}: ${(error as Error).message}`, { cause: error });
    }
    if (!options.create) return undefined;
  }
  const key = randomBytes(MIN_KEY_BYTES);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { key, origin: file, created: true };
}

/** `90s`, `30m`, `24h`, `7d` (or a bare number of seconds) to seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new UsageError(`invalid duration '${text}'`, { hint: 'use a number with a unit: 90s, 30m, 24h, 7d' });
  }
  const factor = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * factor;
  if (seconds <= 0) throw new UsageError(`the duration '${text}' must be positive`);
  return seconds;
}
