/**
 * SOPS metadata: the `sops` section of a file (age recipients, MAC, which values are encrypted), read and written in
 * the layout sops 3.8.1 uses.
 */
import type { Document, YAMLMap } from 'yaml';
import { StrataError } from '../errors.ts';
import { yaml } from '../util/yaml-lib.ts';
import { parseDocuments } from './sops-tree.ts';
import type { SopsFormat } from './sops-values.ts';

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

const DEFAULT_UNENCRYPTED_SUFFIX = '_unencrypted';

/** Which paths get encrypted under the rules, as sops decides (the later rule wins when several are set). */
export function encryptionPredicate(rules: SopsRules): (path: string[]) => boolean {
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

export function metadataOf(docs: Document[], file: string): { metadata: SopsMetadata; kinds: string[] } {
  const { isMap } = yaml();
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

export function metadataNode(doc: Document, meta: SopsMetadata, format: SopsFormat): YAMLMap {
  const { Scalar, YAMLMap, YAMLSeq } = yaml();
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

export function rulesWithDefault(rules: SopsRules = {}): SopsRules {
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
