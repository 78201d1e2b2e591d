/**
 * Finds the age identities (private keys) used to open SOPS files, in the places SOPS itself looks, plus
 * strata's own variable first. Every source that is present contributes keys; the error for "no key" lists them all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StrataError } from '../errors.ts';

export type AgeKeySourceKind = 'STRATA_AGE_KEY_FILE' | 'SOPS_AGE_KEY_FILE' | 'SOPS_AGE_KEY' | 'default key file';

export interface AgeKeySource {
  kind: AgeKeySourceKind;
  /** A file path, or `$SOPS_AGE_KEY` for the inline variable. */
  location: string;
  /** 'loaded' (n keys), 'not set', 'missing' (variable set or default path, but no such file), 'empty' (no keys in it). */
  status: 'loaded' | 'not set' | 'missing' | 'empty';
  keys: number;
}

export interface AgeKey {
  identity: string;
  recipient: string;
  /** Where it came from, e.g. `SOPS_AGE_KEY_FILE=/home/me/keys.txt`. */
  origin: string;
}

export interface AgeKeyring {
  keys: AgeKey[];
  sources: AgeKeySource[];
}

const IDENTITY = /^AGE-SECRET-KEY-(?:PQ-)?1[0-9A-Z]+$/;

/** Reads identities from an age key file (`age-keygen` output): one per line, `#` comments and blank lines ignored. */
export function parseAgeKeys(text: string, origin: string): string[] {
  const keys: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!IDENTITY.test(line)) {
      throw new StrataError(`${origin}: line ${index + 1} is not an age identity`, {
        hint: 'an age key file holds lines starting with AGE-SECRET-KEY-1 (create one with `age-keygen -o keys.txt`)',
      });
    }
    keys.push(line);
  });
  return keys;
}

/** The default SOPS key file: `$XDG_CONFIG_HOME/sops/age/keys.txt`, else `~/.config/sops/age/keys.txt`. */
export function defaultAgeKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(config, 'sops', 'age', 'keys.txt');
}

/**
 * Collects identities in this order: `$STRATA_AGE_KEY_FILE`, `$SOPS_AGE_KEY_FILE`, `$SOPS_AGE_KEY` (inline keys),
 * the default key file. Duplicates are dropped; the first origin wins.
 */
export async function discoverAgeKeys(env: NodeJS.ProcessEnv = process.env): Promise<AgeKeyring> {
  const sources: AgeKeySource[] = [];
  const found: { identity: string; origin: string }[] = [];
  const fromFile = (kind: AgeKeySourceKind, path: string | undefined) => {
    if (path === undefined || path === '') {
      sources.push({ kind, location: `$${kind}`, status: 'not set', keys: 0 });
      return;
    }
    if (!existsSync(path)) {
      sources.push({ kind, location: path, status: 'missing', keys: 0 });
      return;
    }
    const origin = kind === 'default key file' ? path : `${kind}=${path}`;
    const keys = parseAgeKeys(readFileSync(path, 'utf8'), origin);
    sources.push({ kind, location: path, status: keys.length > 0 ? 'loaded' : 'empty', keys: keys.length });
    for (const identity of keys) found.push({ identity, origin });
  };
  fromFile('STRATA_AGE_KEY_FILE', env.STRATA_AGE_KEY_FILE);
  fromFile('SOPS_AGE_KEY_FILE', env.SOPS_AGE_KEY_FILE);
  if (env.SOPS_AGE_KEY === undefined || env.SOPS_AGE_KEY === '') {
    sources.push({ kind: 'SOPS_AGE_KEY', location: '$SOPS_AGE_KEY', status: 'not set', keys: 0 });
  } else {
    const keys = parseAgeKeys(env.SOPS_AGE_KEY, '$SOPS_AGE_KEY');
    sources.push({
      kind: 'SOPS_AGE_KEY',
      location: '$SOPS_AGE_KEY',
      status: keys.length > 0 ? 'loaded' : 'empty',
      keys: keys.length,
    });
    for (const identity of keys) found.push({ identity, origin: '$SOPS_AGE_KEY' });
  }
  fromFile('default key file', defaultAgeKeyFile(env));

  const seen = new Set<string>();
  const keys: AgeKey[] = [];
  for (const { identity, origin } of found) {
    if (seen.has(identity)) continue;
    seen.add(identity);
    keys.push({ identity, origin, recipient: await (await import('age-encryption')).identityToRecipient(identity) });
  }
  return { keys, sources };
}

/** One line per place looked, for "no key found" errors. */
export function describeKeySources(sources: AgeKeySource[]): string {
  return sources
    .map((s) => {
      const what = s.status === 'loaded' ? `${s.keys} key(s)` : s.status;
      return s.kind === 'default key file' || s.status === 'not set' || s.kind === 'SOPS_AGE_KEY'
        ? `  ${s.kind === 'default key file' ? s.location : `$${s.kind}`}: ${what}`
        : `  $${s.kind}=${s.location}: ${what}`;
    })
    .join('\n');
}
