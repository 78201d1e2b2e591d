/**
 * Secret values that stay unread until a tool runs. A SecretRef knows where a secret lives (a SOPS file, an
 * Ansible Vault file or inline value, an environment variable) and prints only a mask and that origin; reading
 * it registers the plaintext with the global masker so later output hides it.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { inspect } from 'node:util';
import { StrataError } from '../errors.ts';
import { globalMasker, MASK } from '../util/mask.ts';
import { didYouMean } from '../util/suggest.ts';
import { yaml } from '../util/yaml-lib.ts';
import type { AgeKeyring } from './age-keys.ts';
import { readSecretFile } from './read-file.ts';
import { decryptSops, isSopsEncrypted, sopsFormatFor } from './sops.ts';
import {
  decryptInlineVault,
  decryptVault,
  hasInlineVault,
  isVaultEncrypted,
  resolveVaultPassword,
  type VaultPassword,
  type VaultPasswordOptions,
} from './vault.ts';

export type SecretKind = 'sops' | 'vault' | 'env';

/** How secrets are opened; everything defaults to the process environment. */
export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  keyring?: AgeKeyring;
  vaultPassword?: VaultPassword | VaultPasswordOptions;
  /** Decrypted files by path, so several references into one file decrypt it once. */
  cache?: Map<string, Promise<SecretDocument>>;
}

/** A decrypted file: its text (for whole-file references) and its data (for key paths). */
export interface SecretDocument {
  kind: 'sops' | 'vault';
  text: string;
  data: unknown;
}

/** Where a SecretRef reads from; build refs with parseSecretTag, envSecret or vaultSecret rather than by hand. */
export type SecretTarget =
  | { kind: 'file'; path: string; display: string; candidates: string[]; keyPath?: string }
  | { kind: 'env'; name: string }
  | { kind: 'inline-vault'; blob: string; file: string };

/** Splits `db.password`, `users[0].name`, `['a.b'].c` into keys and list indexes. */
export function parseKeyPath(path: string): (string | number)[] {
  const invalid = () =>
    new StrataError(`invalid key path '${path}'`, {
      hint: "use dots between keys and [n] for list items, e.g. db.password or users[0].token; quote odd keys: ['a.b']",
    });
  const parts: (string | number)[] = [];
  let afterDot = false;
  let i = 0;
  while (i < path.length) {
    const rest = path.slice(i);
    if (rest.startsWith('.')) {
      if (parts.length === 0 || afterDot) throw invalid();
      afterDot = true;
      i++;
      continue;
    }
    const bracket = /^\[(\d+)\]|^\[(["'])(.*?)\2\]/.exec(rest);
    const key = bracket ? undefined : /^[^.[\]]+/.exec(rest);
    if (bracket ? afterDot : !key || (parts.length > 0 && !afterDot)) throw invalid();
    if (bracket) parts.push(bracket[1] !== undefined ? Number(bracket[1]) : bracket[3]);
    else parts.push((key as RegExpExecArray)[0]);
    i += (bracket ?? (key as RegExpExecArray))[0].length;
    afterDot = false;
  }
  if (afterDot || parts.length === 0) throw invalid();
  return parts;
}

function formatKeyPath(parts: (string | number)[]): string {
  return parts
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[^.[\]'"]+$/.test(p) ? (i ? `.${p}` : p) : `['${p}']`))
    .join('');
}

/** Looks a key path up in decrypted data, with did-you-mean on a miss. */
export function lookupKeyPath(data: unknown, keyPath: string, file: string): unknown {
  const parts = parseKeyPath(keyPath);
  let current: unknown = data;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const here = formatKeyPath(parts.slice(0, i)) || 'the top level';
    if (typeof part === 'number') {
      if (!Array.isArray(current)) throw new StrataError(`${file}: ${here} is not a list (in key path '${keyPath}')`);
      if (part >= current.length) {
        throw new StrataError(`${file}: ${here} has ${current.length} items; [${part}] does not exist`);
      }
      current = current[part];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) {
        throw new StrataError(`${file}: ${here} is not a map (in key path '${keyPath}')`);
      }
      const map = current as Record<string, unknown>;
      if (!Object.hasOwn(map, part)) {
        throw new StrataError(`key '${formatKeyPath(parts.slice(0, i + 1))}' not found in ${file}`, {
          location: { file },
          hint: didYouMean(part, Object.keys(map)) ?? `keys at ${here}: ${Object.keys(map).join(', ') || '(none)'}`,
        });
      }
      current = map[part];
    }
  }
  return current;
}

/** The text a value is handed to tools as: scalars as they read, maps and lists as JSON. */
function asText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function password(options: ResolveOptions): VaultPassword {
  const given = options.vaultPassword;
  if (given && 'password' in given) return given;
  return resolveVaultPassword({ env: options.env, ...(given ?? {}) });
}

/** Decrypts a SOPS file, a vault file, or a YAML file with inline `!vault` values. */
export async function openSecretFile(
  path: string,
  display: string,
  options: ResolveOptions = {},
): Promise<SecretDocument> {
  const text = readSecretFile(path, display);
  if (isSopsEncrypted(text)) {
    const plain = await decryptSops(text, {
      file: display,
      format: sopsFormatFor(path),
      keyring: options.keyring,
      env: options.env,
    });
    return { kind: 'sops', text: plain.text, data: plain.data };
  }
  if (isVaultEncrypted(text)) {
    const plain = await decryptVault(text, password(options), display);
    let data: unknown;
    try {
      data = yaml().parse(plain);
    } catch {
      // A vaulted tfvars or shell file: usable whole, not by key path.
      data = undefined;
    }
    return { kind: 'vault', text: plain, data };
  }
  if (hasInlineVault(text)) {
    const plain = await decryptInlineVault(text, password(options), display);
    return { kind: 'vault', text: plain.text, data: plain.data };
  }
  throw new StrataError(`${display} is not encrypted (neither SOPS nor Ansible Vault)`, {
    location: { file: display },
    hint: `encrypt it with \`strata secrets encrypt ${display} --age <recipient> --in-place\`, or use !env for values from the environment`,
  });
}

function kindOfFile(path: string): SecretKind | 'file' {
  if (!existsSync(path)) return 'file';
  const text = readSecretFile(path, path);
  if (isSopsEncrypted(text)) return 'sops';
  if (isVaultEncrypted(text) || hasInlineVault(text)) return 'vault';
  return 'file';
}

export class SecretRef {
  /** Where the secret lives, never its value: `sops:secrets/prod.yaml#db.password`, `env:PM_API_TOKEN_SECRET`. */
  readonly source: string;
  readonly #target: SecretTarget;

  constructor(source: string, target: SecretTarget) {
    this.source = source;
    this.#target = target;
  }

  /** A mask and the origin, safe to print anywhere. */
  describe(): string {
    return `${MASK} (secret from ${this.source})`;
  }

  /** The plaintext; registered with the global masker before it is returned. */
  async resolve(options: ResolveOptions = {}): Promise<string> {
    const value = await this.#read(options);
    globalMasker.add(value);
    return value;
  }

  async #read(options: ResolveOptions): Promise<string> {
    const target = this.#target;
    if (target.kind === 'env') {
      const env = options.env ?? process.env;
      const value = env[target.name];
      if (value === undefined) {
        throw new StrataError(`environment variable ${target.name} is not set (needed for ${this.source})`, {
          hint: `export ${target.name}=… before running strata`,
        });
      }
      return value;
    }
    if (target.kind === 'inline-vault') {
      return decryptVault(target.blob, password(options), `!vault value in ${target.file}`);
    }
    if (!existsSync(target.path)) {
      throw new StrataError(`secret file ${target.display} not found (referenced as ${this.source})`, {
        details: `Looked for:\n${target.candidates.map((c) => `  ${c}`).join('\n')}`,
        hint: '!secret paths are relative to the stack file that uses them, or to the base path',
      });
    }
    const cache = options.cache;
    let pending = cache?.get(target.path);
    if (!pending) {
      pending = openSecretFile(target.path, target.display, options);
      cache?.set(target.path, pending);
    }
    const doc = await pending;
    if (target.keyPath === undefined) return doc.text;
    if (doc.data === undefined) {
      throw new StrataError(`${target.display} is not YAML or JSON, so '${target.keyPath}' cannot be looked up`, {
        hint: `reference the whole file: !secret ${target.display}`,
      });
    }
    return asText(lookupKeyPath(doc.data, target.keyPath, target.display));
  }

  toJSON(): string {
    return this.describe();
  }

  toString(): string {
    return this.describe();
  }

  [inspect.custom](): string {
    return `SecretRef(${this.describe()})`;
  }
}

/**
 * Environment variable names that hold secrets: SECRET, TOKEN, PASSWORD, PASS, PASSWD, PASSPHRASE, API_KEY,
 * PRIVATE_KEY, ACCESS_KEY or CREDENTIALS as a word of the name (`PM_API_TOKEN_SECRET`, `DB_PASSWORD`,
 * `AWS_SECRET_ACCESS_KEY`; not `TOKENIZER_PATH`). `!env` with such a name gives a SecretRef.
 */
const SECRET_NAME =
  /(?:^|_)(?:SECRETS?|TOKENS?|PASSWORDS?|PASS|PASSWD|PASSPHRASE|API_?KEYS?|PRIVATE_KEYS?|ACCESS_KEYS?|CREDENTIALS?)(?:_|$)/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A secret read from an environment variable (`!secret env:NAME`, or `!env` of a secret-like name). */
export function envSecret(name: string): SecretRef {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new StrataError(`'${name}' is not an environment variable name`);
  return new SecretRef(`env:${name}`, { kind: 'env', name });
}

/** An inline `!vault |` value written in a stack file. */
export function vaultSecret(blob: string, file: string): SecretRef {
  if (!isVaultEncrypted(blob)) {
    throw new StrataError(`${file}: !vault value does not start with $ANSIBLE_VAULT;`, { location: { file } });
  }
  return new SecretRef(`vault:${file}#inline`, { kind: 'inline-vault', blob, file });
}

/**
 * Parses the argument of `!secret <file> [key.path]` (or `!secret env:NAME`). `baseDir` is the stack file's
 * folder, optionally followed by more folders to try (the base path): the first folder holding the file wins.
 * The file is not decrypted here; only when resolve() runs.
 */
export function parseSecretTag(arg: string, baseDir: string | string[]): SecretRef {
  const text = arg.trim();
  if (text === '') {
    throw new StrataError('!secret needs a file and a key path', {
      hint: '!secret secrets/prod.yaml db.password   (or !secret env:NAME)',
    });
  }
  const env = /^env:(.+)$/.exec(text);
  if (env) return envSecret(env[1]);
  const parts = text.split(/\s+/);
  if (parts.length > 2) {
    throw new StrataError(`!secret takes a file and one key path, got '${text}'`, {
      hint: '!secret secrets/prod.yaml db.password',
    });
  }
  const [file, keyPath] = parts;
  if (keyPath !== undefined) parseKeyPath(keyPath);
  const dirs = Array.isArray(baseDir) ? baseDir : [baseDir];
  const candidates = isAbsolute(file) ? [file] : dirs.map((d) => resolve(d, file));
  const path = candidates.find((c) => existsSync(c)) ?? candidates[0];
  const rel = relative(process.cwd(), path);
  const display = rel === '' || rel.startsWith('..') ? path : rel;
  const kind = kindOfFile(path);
  const source = `${kind}:${display}${keyPath === undefined ? '' : `#${keyPath}`}`;
  return new SecretRef(source, { kind: 'file', path, display, candidates, keyPath });
}

/**
 * Replaces every SecretRef in a structure (arrays, plain objects, Maps) by its plaintext. Call it right before a
 * tool runs; the input is not modified. A file referenced several times is decrypted once.
 */
export async function resolveSecrets(value: unknown, options: ResolveOptions = {}): Promise<unknown> {
  const shared: ResolveOptions = { ...options, cache: options.cache ?? new Map() };
  const walk = async (v: unknown): Promise<unknown> => {
    if (v instanceof SecretRef) return v.resolve(shared);
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (v instanceof Map) {
      const out = new Map();
      for (const [k, item] of v) out.set(k, await walk(item));
      return out;
    }
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = await walk(item);
      return out;
    }
    return v;
  };
  return walk(value);
}

/** True when a structure holds at least one SecretRef (e.g. to decide whether a plan needs keys). */
export function containsSecrets(value: unknown): boolean {
  if (value instanceof SecretRef) return true;
  if (Array.isArray(value)) return value.some(containsSecrets);
  if (value instanceof Map) return [...value.values()].some(containsSecrets);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsSecrets);
  return false;
}
