/**
 * SOPS (https://github.com/getsops/sops) files encrypted for age recipients: decrypt with MAC verification, and
 * encrypt in the layout sops 3.8.1 writes. Written here rather than taken from npm: the only age-capable
 * package (sops-age) skips the MAC check and accepts tampered files (see the research notes, section 7).
 *
 * Format facts this module follows (checked against real sops 3.8.1 files):
 * - One random 32-byte data key per file, age-encrypted (ASCII armour) once per recipient in `sops.age[].enc`.
 * - Each leaf value becomes `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str|int|float|bool|bytes]`, AES-256-GCM with a
 *   32-byte IV and, as additional data, the map keys leading to it joined by ':' plus a trailing ':' (list
 *   positions are not part of the path). Null values are left alone; empty strings stay empty.
 * - The MAC is SHA-512 over every leaf in document order (comments excluded), as upper-case hex, stored encrypted
 *   with `lastmodified` as additional data. With `mac_only_encrypted`, only encrypted leaves count and the hash
 *   starts with sha256("sops").
 * - YAML comments are encrypted too (`#ENC[…,type:comment]`), with the path of the collection around them.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { armor, Decrypter, Encrypter } from 'age-encryption';
import {
  Document,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  type Node,
  parseAllDocuments,
  Scalar,
  visit,
  YAMLMap,
  YAMLSeq,
} from 'yaml';
import { StrataError } from '../errors.ts';
import { type AgeKey, type AgeKeyring, describeKeySources, discoverAgeKeys } from './age-keys.ts';

export type SopsFormat = 'yaml' | 'json';

/** Which values get encrypted. With none of them set, sops (and strata) use `unencrypted_suffix: _unencrypted`. */
export interface SopsRules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  encryptedRegex?: string;
  macOnlyEncrypted?: boolean;
}

export interface SopsAgeEntry {
  recipient: string;
  /** The data key, age-encrypted for `recipient`, ASCII-armoured. */
  enc: string;
}

export interface SopsMetadata extends SopsRules {
  age: SopsAgeEntry[];
  lastmodified: string;
  mac: string;
  version: string;
}

export interface SopsPlaintext {
  format: SopsFormat;
  /** The decrypted file as text (comments kept for YAML), without the `sops` metadata. */
  text: string;
  /** The first document as plain data. */
  data: unknown;
  metadata: SopsMetadata;
  /** Needed to re-encrypt an edited file for the same recipients without their private keys. */
  dataKey: Buffer;
  /** IVs of the values as read, so re-encrypting unchanged values gives unchanged ciphertext (small diffs). */
  ivStash: Map<string, Buffer>;
}

export interface SopsDecryptOptions {
  /** File name used in messages. */
  file: string;
  format?: SopsFormat;
  /** Age identities to use; discovered from the environment (see age-keys.ts) when absent. */
  keyring?: AgeKeyring;
  env?: NodeJS.ProcessEnv;
}

export interface SopsEncryptOptions {
  file: string;
  format?: SopsFormat;
  /** age1… recipients; a fresh data key is made for them. */
  recipients?: string[];
  rules?: SopsRules;
  /** Re-encrypt with an existing data key and its recipient entries (edit keeps both). */
  reuse?: { dataKey: Buffer; age: SopsAgeEntry[]; ivStash?: Map<string, Buffer> };
  /** For tests; defaults to now. */
  now?: Date;
}

export const SOPS_VERSION = '3.8.1';
const DEFAULT_UNENCRYPTED_SUFFIX = '_unencrypted';
const ENC = /^ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:(.*)\]$/;
const AGE_RECIPIENT = /^age1[0-9a-z]+$/;
// sops: "echo -n sops | sha256sum", written first into the hash when mac_only_encrypted is on.
const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest();

/** `.json` files use the JSON layout; everything else is YAML (as sops decides by extension). */
export function sopsFormatFor(path: string): SopsFormat {
  return extname(path).toLowerCase() === '.json' ? 'json' : 'yaml';
}

/** True when the text has sops metadata with a MAC (YAML or JSON). */
export function isSopsEncrypted(text: string): boolean {
  return /(^|\n)sops:\s*\n/.test(text) || /"sops"\s*:\s*\{/.test(text) ? /ENC\[AES256_GCM,/.test(text) : false;
}

type Leaf = string | number | bigint | boolean | Buffer;
type Walk = (args: { value: Leaf; path: string[]; scalar: Scalar }) => void;
type CommentWalk = (args: { text: string; path: string[]; fallbackPaths: string[][] }) => string;

/** Parses YAML or JSON into YAML documents; JSON is YAML, and this keeps key order and comments. */
function parseDocuments(text: string, file: string): Document[] {
  const docs = parseAllDocuments(text, { intAsBigInt: true, uniqueKeys: false });
  if (!Array.isArray(docs)) return [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos?.[0];
      throw new StrataError(`cannot parse ${file}: ${error.message.split('\n')[0]}`, {
        location: { file, line: line?.line, col: line?.col },
      });
    }
    expandAliases(doc);
    if (doc.contents !== null && !isMap(doc.contents)) {
      throw new StrataError(`${file}: the top level must be a map of keys (sops cannot encrypt a bare list or value)`, {
        location: { file },
      });
    }
  }
  return docs;
}

/** sops resolves aliases into copies, so values behind an alias are encrypted (and hashed) where they appear. */
function expandAliases(doc: Document): void {
  visit(doc, {
    Alias(_key, node) {
      const target = node.resolve(doc);
      return target ? (target.clone() as Node) : new Scalar(null);
    },
  });
  visit(doc, {
    Node(_key, node) {
      if (isScalar(node) || isCollection(node)) node.anchor = undefined;
    },
  });
}

function keyName(key: unknown, file: string): string {
  const value = isScalar(key) ? key.value : key;
  if (value === null || typeof value === 'object') {
    throw new StrataError(`${file}: only scalar map keys are supported by sops`, { location: { file } });
  }
  return String(value);
}

/** Which paths get encrypted under the rules, as sops decides (the later rule wins when several are set). */
function encryptionPredicate(rules: SopsRules): (path: string[]) => boolean {
  const { unencryptedSuffix, encryptedSuffix } = rules;
  const unencryptedRegex = rules.unencryptedRegex ? new RegExp(rules.unencryptedRegex) : undefined;
  const encryptedRegex = rules.encryptedRegex ? new RegExp(rules.encryptedRegex) : undefined;
  return (path) => {
    let encrypted = true;
    if (unencryptedSuffix && path.some((p) => p.endsWith(unencryptedSuffix))) encrypted = false;
    if (encryptedSuffix) encrypted = path.some((p) => p.endsWith(encryptedSuffix));
    if (unencryptedRegex && path.some((p) => unencryptedRegex.test(p))) encrypted = false;
    if (encryptedRegex) encrypted = path.some((p) => encryptedRegex.test(p));
    return encrypted;
  };
}

/**
 * Visits leaves and comments in document order, as sops walks its tree. Leaves get the path of map keys; comments
 * get the path of the collection around them (and, for decryption, the paths of the outer collections to try).
 */
function walkDocument(doc: Document, file: string, onLeaf: Walk, onComment?: CommentWalk): void {
  const comments = (node: { commentBefore?: string | null; comment?: string | null }, paths: string[][]) => {
    if (!onComment) return;
    const [path, ...fallbackPaths] = paths;
    const map = (text: string | null | undefined) =>
      text
        ? text
            .split('\n')
            .map((line) => (line === '' ? line : onComment({ text: line, path, fallbackPaths })))
            .join('\n')
        : text;
    if (node.commentBefore) node.commentBefore = map(node.commentBefore);
    if (node.comment) node.comment = map(node.comment);
  };
  // `paths` lists the current collection's path, then its ancestors' (innermost first).
  const walk = (node: unknown, path: string[], paths: string[][]): void => {
    if (node === null || node === undefined) return;
    if (isMap(node)) {
      const own = [path, ...paths];
      comments(node, own);
      for (const pair of node.items) {
        if (isScalar(pair.key)) comments(pair.key, own);
        const childPath = [...path, keyName(pair.key, file)];
        if (isScalar(pair.value)) comments(pair.value, own);
        walk(pair.value, childPath, own);
      }
      return;
    }
    if (isSeq(node)) {
      const own = [path, ...paths];
      comments(node, own);
      for (const item of node.items) {
        if (isScalar(item)) comments(item, own);
        walk(item, path, own);
      }
      return;
    }
    if (isScalar(node)) {
      if (node.value === null || node.value === undefined) return;
      const value = node.value as Leaf;
      if (typeof value === 'object' && !Buffer.isBuffer(value)) return;
      onLeaf({ value, path, scalar: node });
    }
  };
  comments(doc, [[]]);
  walk(doc.contents, [], []);
}

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
function leafBytes(value: Leaf, format: SopsFormat): { bytes: Buffer; type: string } {
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

function aad(path: string[]): string {
  return `${path.join(':')}:`;
}

function encryptBytes(
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
function decryptBytes(value: string, key: Buffer, additional: string): Decrypted | undefined {
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
function typedValue(d: Decrypted, where: string): Leaf {
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
function macBytesOf(value: Leaf, type: string, format: SopsFormat): Buffer {
  if (type === 'int' || type === 'int64') return Buffer.from(String(value));
  return leafBytes(value, format).bytes;
}

function stashKey(additional: string, type: string, plain: Buffer): string {
  return `${additional}\u0000${type}\u0000${plain.toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Metadata

function metadataOf(docs: Document[], file: string): { metadata: SopsMetadata; kinds: string[] } {
  const raw = docs[0]?.contents && isMap(docs[0].contents) ? docs[0].contents.get('sops', false) : undefined;
  if (raw === undefined || !isMap(raw)) {
    throw new StrataError(`${file} is not a SOPS-encrypted file (no 'sops' metadata)`, {
      location: { file },
      hint: `encrypt it with \`strata secrets encrypt ${file} --age <recipient>\``,
    });
  }
  const meta = raw.toJS(docs[0]) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const age = Array.isArray(meta.age)
    ? (meta.age as Record<string, unknown>[]).map((entry) => ({
        recipient: String(entry.recipient ?? ''),
        enc: String(entry.enc ?? ''),
      }))
    : [];
  const kinds = ['kms', 'gcp_kms', 'azure_kv', 'hc_vault', 'pgp'].filter(
    (k) => Array.isArray(meta[k]) && (meta[k] as unknown[]).length > 0,
  );
  if (meta.key_groups !== undefined && meta.key_groups !== null) {
    throw new StrataError(`${file} uses sops key groups (Shamir secret sharing), which strata does not support`, {
      location: { file },
      hint: 'use `sops` to convert it to plain age recipients, or decrypt it with sops',
    });
  }
  if (typeof meta.mac !== 'string' || typeof meta.lastmodified !== 'string') {
    throw new StrataError(`${file}: sops metadata lacks 'mac' or 'lastmodified'`, { location: { file } });
  }
  return {
    kinds,
    metadata: {
      age,
      lastmodified: meta.lastmodified,
      mac: meta.mac,
      version: String(meta.version ?? ''),
      unencryptedSuffix: str(meta.unencrypted_suffix),
      encryptedSuffix: str(meta.encrypted_suffix),
      unencryptedRegex: str(meta.unencrypted_regex),
      encryptedRegex: str(meta.encrypted_regex),
      macOnlyEncrypted: meta.mac_only_encrypted === true,
    },
  };
}

/** The encryption rules recorded in a file's metadata (to re-encrypt it the same way). */
export function rulesOf(meta: SopsMetadata): SopsRules {
  const { unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex, macOnlyEncrypted } = meta;
  return { unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex, macOnlyEncrypted };
}

/** Reads the sops metadata of a file without decrypting anything (recipients, rules, dates). */
export function readSopsMetadata(text: string, file: string): SopsMetadata {
  return metadataOf(parseDocuments(text, file), file).metadata;
}

function metadataNode(doc: Document, meta: SopsMetadata, format: SopsFormat): YAMLMap {
  const node = new YAMLMap();
  const put = (key: string, value: unknown) => node.add(doc.createPair(key, value));
  if (format === 'yaml') for (const k of ['kms', 'gcp_kms', 'azure_kv', 'hc_vault']) put(k, new YAMLSeq());
  const age = new YAMLSeq();
  for (const entry of meta.age) {
    const item = new YAMLMap();
    item.add(doc.createPair('recipient', entry.recipient));
    const enc = new Scalar(entry.enc);
    enc.type = 'BLOCK_LITERAL';
    item.add(doc.createPair('enc', enc));
    age.items.push(item);
  }
  put('age', age);
  const modified = new Scalar(meta.lastmodified);
  modified.type = 'QUOTE_DOUBLE';
  put('lastmodified', modified);
  put('mac', meta.mac);
  if (format === 'yaml') put('pgp', new YAMLSeq());
  if (meta.unencryptedSuffix) put('unencrypted_suffix', meta.unencryptedSuffix);
  if (meta.encryptedSuffix) put('encrypted_suffix', meta.encryptedSuffix);
  if (meta.unencryptedRegex) put('unencrypted_regex', meta.unencryptedRegex);
  if (meta.encryptedRegex) put('encrypted_regex', meta.encryptedRegex);
  if (meta.macOnlyEncrypted) put('mac_only_encrypted', true);
  put('version', meta.version);
  return node;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

/** JSON text from the YAML tree, keeping key order (JSON.stringify would move integer-like keys first). */
function toJsonText(node: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (isMap(node)) {
    if (node.items.length === 0) return '{}';
    const items = node.items.map(
      (p) => `${inner}${JSON.stringify(keyName(p.key, 'json'))}: ${toJsonText(p.value, inner)}`,
    );
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  if (isSeq(node)) {
    if (node.items.length === 0) return '[]';
    return `[\n${node.items.map((i) => `${inner}${toJsonText(i, inner)}`).join(',\n')}\n${indent}]`;
  }
  const value = isScalar(node) ? node.value : node;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(goFormatFloat(value));
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('utf8'));
  return JSON.stringify(value);
}

function render(docs: Document[], format: SopsFormat): string {
  if (format === 'json') return `${toJsonText(docs[0]?.contents ?? new YAMLMap())}\n`;
  return docs
    .map((doc, i) => {
      const text = doc.toString({ lineWidth: 0 });
      return i > 0 && !text.startsWith('---') ? `---\n${text}` : text;
    })
    .join('');
}

function toData(doc: Document | undefined): unknown {
  return doc ? normalise(doc.toJS({ maxAliasCount: -1 })) : {};
}

/** Plain data for callers: integers become numbers, bytes become strings. */
function normalise(value: unknown): unknown {
  // As yaml.parse would give them: integers past 2^53 lose precision there too.
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Decrypt

async function unwrapDataKey(meta: SopsMetadata, kinds: string[], file: string, keyring: AgeKeyring): Promise<Buffer> {
  if (meta.age.length === 0) {
    throw new StrataError(
      `${file} has no age recipients${kinds.length ? ` (it is encrypted with ${kinds.join(', ')})` : ''}`,
      { location: { file }, hint: 'strata decrypts SOPS files encrypted for age keys; use `sops` for other key types' },
    );
  }
  if (keyring.keys.length === 0) {
    throw new StrataError(`no age key found to decrypt ${file}`, {
      location: { file },
      details: `Looked in, in this order:\n${describeKeySources(keyring.sources)}`,
      hint: 'point SOPS_AGE_KEY_FILE (or STRATA_AGE_KEY_FILE) at your age key file, or put it in the default key file',
    });
  }
  const decrypter = new Decrypter();
  for (const key of keyring.keys) decrypter.addIdentity(key.identity);
  const failures: string[] = [];
  for (const entry of meta.age) {
    let sealed: Uint8Array;
    try {
      sealed = armor.decode(entry.enc);
    } catch (error) {
      failures.push(`${entry.recipient}: malformed 'enc' block (${(error as Error).message})`);
      continue;
    }
    try {
      const dataKey = Buffer.from(await decrypter.decrypt(sealed));
      if (dataKey.length !== 32) {
        throw new StrataError(`${file}: the data key for ${entry.recipient} is ${dataKey.length} bytes, not 32`);
      }
      return dataKey;
    } catch (error) {
      if (error instanceof StrataError) throw error;
      failures.push(`${entry.recipient}: ${(error as Error).message}`);
    }
  }
  const mine = new Set(keyring.keys.map((k) => k.recipient));
  const theirs = meta.age.map((e) => e.recipient);
  const matching = theirs.some((r) => mine.has(r));
  throw new StrataError(
    matching
      ? `could not decrypt the data key of ${file}: the age block for your key is damaged`
      : `none of your age keys can decrypt ${file}`,
    {
      location: { file },
      details: [
        'The file is encrypted for:',
        ...theirs.map((r) => `  ${r}`),
        'Your public keys:',
        ...keyring.keys.map((k) => `  ${k.recipient} (from ${k.origin})`),
        ...(matching ? ['Errors:', ...failures.map((f) => `  ${f}`)] : []),
      ].join('\n'),
      hint: matching
        ? 'restore the file from version control'
        : 'ask someone who can decrypt it to add your public key (`strata secrets rotate <file> --add-age <your key>`)',
    },
  );
}

/** Decrypts a SOPS YAML/JSON text and verifies its MAC. Throws a StrataError naming the file on any failure. */
export async function decryptSops(text: string, options: SopsDecryptOptions): Promise<SopsPlaintext> {
  const { file } = options;
  const format = options.format ?? sopsFormatFor(file);
  const docs = parseDocuments(text, file);
  const { metadata, kinds } = metadataOf(docs, file);
  for (const doc of docs) if (isMap(doc.contents)) doc.contents.delete('sops');
  const keyring = options.keyring ?? (await discoverAgeKeys(options.env));
  const dataKey = await unwrapDataKey(metadata, kinds, file, keyring);

  const shouldEncrypt = encryptionPredicate(metadata);
  const hash = createHash('sha512');
  if (metadata.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const ivStash = new Map<string, Buffer>();
  const tampered = (what: string) =>
    new StrataError(`${file} was modified after encryption: ${what}`, {
      location: { file },
      hint: 'restore the file from version control; edit SOPS files only with `strata secrets edit` or `sops`',
    });

  for (const doc of docs) {
    walkDocument(
      doc,
      file,
      ({ value, path, scalar }) => {
        const encrypted = shouldEncrypt(path);
        let plain: Leaf = value;
        let macBytes: Buffer;
        if (encrypted && typeof value === 'string' && value !== '') {
          const where = `${file}: value at '${path.join('.')}'`;
          const additional = aad(path);
          if (!ENC.test(value)) throw tampered(`the value at '${path.join('.')}' is not encrypted`);
          const result = decryptBytes(value, dataKey, additional);
          if (!result) throw tampered(`the value at '${path.join('.')}' does not authenticate (changed or moved)`);
          if (result.type === 'comment') throw tampered(`${where} is a comment`);
          plain = typedValue(result, where);
          ivStash.set(stashKey(additional, result.type, result.plain), result.iv);
          macBytes = macBytesOf(plain, result.type, format);
          scalar.value = Buffer.isBuffer(plain) ? plain.toString('utf8') : plain;
          scalar.type = undefined;
        } else if (encrypted && typeof value !== 'string') {
          throw tampered(`the value at '${path.join('.')}' is not encrypted`);
        } else {
          macBytes = leafBytes(plain, format).bytes;
        }
        if (!metadata.macOnlyEncrypted || encrypted) hash.update(macBytes);
      },
      ({ text: comment, path, fallbackPaths }) => {
        if (!shouldEncrypt(path) || !ENC.test(comment)) return comment;
        // Comment placement differs between YAML parsers; try the enclosing collections from the inside out.
        for (const candidate of [path, ...fallbackPaths]) {
          const additional = aad(candidate);
          const result = decryptBytes(comment, dataKey, additional);
          if (result && result.type === 'comment') {
            ivStash.set(stashKey(additional, 'comment', result.plain), result.iv);
            return result.plain.toString('utf8');
          }
        }
        return comment;
      },
    );
  }

  const computed = hash.digest('hex').toUpperCase();
  const stored = decryptBytes(metadata.mac, dataKey, metadata.lastmodified);
  if (!stored) throw tampered(`the MAC does not authenticate (MAC or lastmodified changed)`);
  const expected = stored.plain;
  const actual = Buffer.from(computed, 'utf8');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw tampered('MAC mismatch (a value was changed, added, removed or reordered)');
  }
  return {
    format,
    text: render(docs, format),
    data: toData(docs[0]),
    metadata,
    dataKey,
    ivStash,
  };
}

export async function decryptSopsFile(
  path: string,
  options: Omit<SopsDecryptOptions, 'file'> & { file?: string } = {},
): Promise<SopsPlaintext> {
  const text = readFileSync(path, 'utf8');
  return decryptSops(text, { ...options, file: options.file ?? path });
}

// ---------------------------------------------------------------------------------------------------------------
// Encrypt

function rulesWithDefault(rules: SopsRules = {}): SopsRules {
  const { unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex } = rules;
  const set = [unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex].filter((r) => r);
  if (set.length > 1) {
    throw new StrataError(
      'only one of unencrypted_suffix, encrypted_suffix, unencrypted_regex and encrypted_regex may be set',
    );
  }
  for (const re of [unencryptedRegex, encryptedRegex]) {
    if (!re) continue;
    try {
      new RegExp(re);
    } catch (error) {
      throw new StrataError(`invalid regular expression '${re}': ${(error as Error).message}`);
    }
  }
  return set.length === 0 ? { ...rules, unencryptedSuffix: DEFAULT_UNENCRYPTED_SUFFIX } : rules;
}

/** Encrypts the data key for each recipient separately, as sops does (one `enc` block per recipient). */
export async function wrapDataKey(dataKey: Buffer, recipients: string[]): Promise<SopsAgeEntry[]> {
  const entries: SopsAgeEntry[] = [];
  for (const recipient of recipients) {
    if (!AGE_RECIPIENT.test(recipient)) {
      throw new StrataError(`'${recipient}' is not an age recipient`, {
        hint: 'age recipients start with age1 (print yours with `age-keygen -y keys.txt`)',
      });
    }
    const encrypter = new Encrypter();
    try {
      encrypter.addRecipient(recipient);
    } catch (error) {
      throw new StrataError(`'${recipient}' is not a valid age recipient: ${(error as Error).message}`);
    }
    entries.push({ recipient, enc: armor.encode(await encrypter.encrypt(dataKey)) });
  }
  return entries;
}

/** Encrypts plaintext YAML/JSON into a SOPS file text (comments and key order kept for YAML). */
export async function encryptSops(plaintext: string, options: SopsEncryptOptions): Promise<string> {
  const { file } = options;
  const format = options.format ?? sopsFormatFor(file);
  const docs = parseDocuments(plaintext, file);
  for (const doc of docs) {
    if (isMap(doc.contents) && doc.contents.has('sops')) {
      throw new StrataError(`${file} is already encrypted (it has a top-level 'sops' key)`, { location: { file } });
    }
  }
  if (docs.length === 0) docs.push(new Document(new YAMLMap()));
  const rules = rulesWithDefault(options.rules);
  let dataKey: Buffer;
  let age: SopsAgeEntry[];
  if (options.reuse) {
    ({ dataKey, age } = options.reuse);
  } else {
    const recipients = [...new Set(options.recipients ?? [])];
    if (recipients.length === 0) {
      throw new StrataError(`no age recipients to encrypt ${file} for`, {
        hint: 'pass --age <age1…>, or add a creation rule with `age:` to .sops.yaml',
      });
    }
    dataKey = randomBytes(32);
    age = await wrapDataKey(dataKey, recipients);
  }
  const stash = options.reuse?.ivStash;
  const shouldEncrypt = encryptionPredicate(rules);
  const hash = createHash('sha512');
  if (rules.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const seal = (plain: Buffer, additional: string, type: string) =>
    encryptBytes(plain, dataKey, additional, type, stash?.get(stashKey(additional, type, plain)) ?? randomBytes(32));

  for (const doc of docs) {
    if (doc.contents === null) doc.contents = new YAMLMap() as never;
    walkDocument(
      doc,
      file,
      ({ value, path, scalar }) => {
        const encrypted = shouldEncrypt(path);
        const { bytes, type } = leafBytes(value, format);
        if (!rules.macOnlyEncrypted || encrypted) hash.update(bytes);
        if (!encrypted || (type === 'str' && bytes.length === 0)) return;
        scalar.value = seal(bytes, aad(path), type);
        scalar.type = 'PLAIN';
      },
      ({ text, path }) => (shouldEncrypt(path) ? seal(Buffer.from(text, 'utf8'), aad(path), 'comment') : text),
    );
  }

  const lastmodified = (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const mac = encryptBytes(Buffer.from(hash.digest('hex').toUpperCase()), dataKey, lastmodified, 'str');
  const metadata: SopsMetadata = { ...rules, age, lastmodified, mac, version: SOPS_VERSION };
  for (const doc of docs) (doc.contents as YAMLMap).add(doc.createPair('sops', metadataNode(doc, metadata, format)));
  return render(docs, format);
}

/** True for an X25519 age recipient (`age1…`). */
export function isAgeRecipient(text: string): boolean {
  return AGE_RECIPIENT.test(text);
}

export type { AgeKey, AgeKeyring };
