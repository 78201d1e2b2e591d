/**
 * SOPS value crypto: the bytes a leaf is hashed and encrypted as, AES-256-GCM `ENC[…]` values with the key path as
 * additional data, and typed values back from decrypted bytes.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { StrataError } from '../errors.ts';

export type SopsFormat = 'yaml' | 'json';

export type Leaf = string | number | bigint | boolean | Buffer;

export const ENC = /^ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:(.*)\]$/;
// sops: "echo -n sops | sha256sum", written first into the hash when mac_only_encrypted is on.
export const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest();

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent. */
export function goFormatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Object.is(value, -0)) return '-0';
  const text = String(value);
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, int, frac = '', exp] = match;
  const digits = int + frac;
  const point = int.length + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** The bytes sops feeds into the MAC and encrypts for a value, and the sops type name. */
export function leafBytes(value: Leaf, format: SopsFormat): { bytes: Buffer; type: string } {
  if (Buffer.isBuffer(value)) return { bytes: value, type: 'bytes' };
  switch (typeof value) {
    case 'string':
      return { bytes: Buffer.from(value, 'utf8'), type: 'str' };
    case 'bigint':
      // JSON numbers are float64 in sops, integers included.
      return format === 'json'
        ? { bytes: Buffer.from(goFormatFloat(Number(value))), type: 'float' }
        : { bytes: Buffer.from(value.toString()), type: 'int' };
    case 'number':
      return { bytes: Buffer.from(goFormatFloat(value)), type: 'float' };
    case 'boolean':
      return { bytes: Buffer.from(value ? 'True' : 'False'), type: 'bool' };
  }
}

export function aad(path: string[]): string {
  return `${path.join(':')}:`;
}

export function encryptBytes(
  plain: Buffer,
  key: Buffer,
  additional: string,
  type: string,
  iv: Buffer = randomBytes(32),
): string {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(additional, 'utf8'));
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${tag.toString('base64')},type:${type}]`;
}

interface Decrypted {
  plain: Buffer;
  iv: Buffer;
  type: string;
}

/** Returns undefined when the GCM tag does not verify (wrong key or path, or a modified value). */
export function decryptBytes(value: string, key: Buffer, additional: string): Decrypted | undefined {
  const match = ENC.exec(value);
  if (!match) return undefined;
  const [, data, ivText, tag, type] = match;
  const iv = Buffer.from(ivText, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(additional, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]);
    return { plain, iv, type };
  } catch {
    return undefined;
  }
}

/** Turns decrypted bytes back into a typed value, as sops does (`strconv.Atoi`, `ParseFloat`, `ParseBool`). */
export function typedValue(d: Decrypted, where: string): Leaf {
  const text = d.plain.toString('utf8');
  const bad = () => new StrataError(`${where}: decrypted value is not a valid ${d.type}`);
  switch (d.type) {
    case 'str':
      return text;
    case 'bytes':
      return d.plain;
    case 'int':
    case 'int64': {
      if (!/^[+-]?\d+$/.test(text)) throw bad();
      const big = BigInt(text);
      return Number.isSafeInteger(Number(big)) ? Number(big) : big;
    }
    case 'float': {
      const special: Record<string, number> = { NaN: Number.NaN, Inf: Infinity, '+Inf': Infinity, '-Inf': -Infinity };
      if (text in special) return special[text];
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) throw bad();
      return n;
    }
    case 'bool': {
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
      if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
      throw bad();
    }
    default:
      throw new StrataError(`${where}: unknown sops value type '${d.type}'`);
  }
}

/** MAC bytes of a decrypted value: sops re-serialises the typed value (so "1.50" counts as "1.5"). */
export function macBytesOf(value: Leaf, type: string, format: SopsFormat): Buffer {
  if (type === 'int' || type === 'int64') return Buffer.from(String(value));
  return leafBytes(value, format).bytes;
}

export function stashKey(additional: string, type: string, plain: Buffer): string {
  return `${additional}\u0000${type}\u0000${plain.toString('base64')}`;
}
