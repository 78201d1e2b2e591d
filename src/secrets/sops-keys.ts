/** SOPS data keys for age: unwrapped with the caller's age identities, wrapped once per recipient. */
import { StrataError } from '../errors.ts';
import { type AgeKeyring, describeKeySources } from './age-keys.ts';
import type { SopsAgeEntry, SopsMetadata } from './sops-metadata.ts';

const AGE_RECIPIENT = /^age1[0-9a-z]+$/;

export async function unwrapDataKey(
  meta: SopsMetadata,
  kinds: string[],
  file: string,
  keyring: AgeKeyring,
): Promise<Buffer> {
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
  // Loaded on use: the age library (with its post-quantum curves) costs more start-up time than anything else.
  const { armor, Decrypter } = await import('age-encryption');
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

/** Encrypts the data key for each recipient separately, as sops does (one `enc` block per recipient). */
export async function wrapDataKey(dataKey: Buffer, recipients: string[]): Promise<SopsAgeEntry[]> {
  const entries: SopsAgeEntry[] = [];
  for (const recipient of recipients) {
    if (!AGE_RECIPIENT.test(recipient)) {
      throw new StrataError(`'${recipient}' is not an age recipient`, {
        hint: 'age recipients start with age1 (print yours with `age-keygen -y keys.txt`)',
      });
    }
    const { armor, Encrypter } = await import('age-encryption');
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

/** True for an X25519 age recipient (`age1…`). */
export function isAgeRecipient(text: string): boolean {
  return AGE_RECIPIENT.test(text);
}
