/**
 * Ansible Vault files and inline `!vault |` values, on the `ansible-vault` npm package (format 1.1 and 1.2,
 * AES256; interoperates with `ansible-vault` both ways). Password lookup follows ansible's conventions.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Scalar, ScalarTag } from 'yaml';
import { StrataError } from '../errors.ts';
import { yaml } from '../util/yaml-lib.ts';

export const VAULT_HEADER = '$ANSIBLE_VAULT;';

export interface VaultPassword {
  password: string;
  /** Where it came from, for messages: `--vault-password-file x`, `$ANSIBLE_VAULT_PASSWORD_FILE=x`, `$STRATA_VAULT_PASSWORD`. */
  source: string;
}

export interface VaultPasswordOptions {
  /** `--vault-password-file`; wins over the environment. */
  passwordFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A whole file encrypted with `ansible-vault encrypt`. */
export function isVaultEncrypted(text: string): boolean {
  return text.trimStart().startsWith(VAULT_HEADER);
}

/** A YAML file holding `!vault |` values (`ansible-vault encrypt_string`). */
export function hasInlineVault(text: string): boolean {
  return /!vault\s*[|>]/.test(text);
}

function readPasswordFile(path: string, source: string, cwd: string): VaultPassword {
  const file = resolve(cwd, path);
  if (!existsSync(file)) {
    throw new StrataError(`vault password file ${file} does not exist (${source})`, {
      hint: 'create it with mode 0600, holding the password on one line',
    });
  }
  let executable = true;
  try {
    accessSync(file, constants.X_OK);
  } catch {
    executable = false;
  }
  // As ansible does: an executable password file is a script that prints the password.
  const raw = executable
    ? execFileSync(file, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    : readFileSync(file, 'utf8');
  const password = raw.trim();
  if (password === '') throw new StrataError(`vault password file ${file} is empty (${source})`);
  return { password, source };
}

/** `--vault-password-file`, then `$ANSIBLE_VAULT_PASSWORD_FILE`, then `$STRATA_VAULT_PASSWORD`. */
export function resolveVaultPassword(options: VaultPasswordOptions = {}): VaultPassword {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (options.passwordFile) {
    return readPasswordFile(options.passwordFile, `--vault-password-file ${options.passwordFile}`, cwd);
  }
  if (env.ANSIBLE_VAULT_PASSWORD_FILE) {
    const path = env.ANSIBLE_VAULT_PASSWORD_FILE;
    return readPasswordFile(path, `$ANSIBLE_VAULT_PASSWORD_FILE=${path}`, cwd);
  }
  if (env.STRATA_VAULT_PASSWORD) return { password: env.STRATA_VAULT_PASSWORD, source: '$STRATA_VAULT_PASSWORD' };
  throw new StrataError('no Ansible Vault password given', {
    details:
      'Looked in, in this order:\n  --vault-password-file: not given\n  $ANSIBLE_VAULT_PASSWORD_FILE: not set\n  $STRATA_VAULT_PASSWORD: not set',
    hint: 'pass --vault-password-file <file> or set ANSIBLE_VAULT_PASSWORD_FILE',
  });
}

/** Vault id of a 1.2 header (`$ANSIBLE_VAULT;1.2;AES256;prod`), if any. */
export function vaultId(text: string): string | undefined {
  const header = text.trimStart().split(/\r?\n/, 1)[0];
  const parts = header.split(';');
  return parts[1] === '1.2' ? parts[3] : undefined;
}

/** Decrypts one vault blob (a file or an inline value). `where` names it in errors. */
export async function decryptVault(text: string, password: VaultPassword, where: string): Promise<string> {
  const blob = text
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trim())
    .join('\n');
  const { Vault } = await import('ansible-vault');
  let plain: string | undefined;
  try {
    plain = await new Vault({ password: password.password }).decrypt(blob, undefined);
  } catch (error) {
    const message = (error as Error).message;
    if (/integrity/i.test(message)) {
      throw new StrataError(`wrong vault password for ${where} (password from ${password.source})`, {
        hint: 'check the password file, or the vault id the file was encrypted with',
      });
    }
    throw new StrataError(`${where} is not a valid Ansible Vault blob: ${message}`);
  }
  if (plain === undefined) throw new StrataError(`${where}: vault decryption returned nothing`);
  return plain;
}

/** Encrypts text as ansible-vault does (`$ANSIBLE_VAULT;1.1;AES256`, or 1.2 with an id). Ends with a newline. */
export async function encryptVault(plaintext: string, password: VaultPassword, id?: string): Promise<string> {
  const { Vault } = await import('ansible-vault');
  return `${await new Vault({ password: password.password }).encrypt(plaintext, id as string)}\n`;
}

/** `name: !vault |` YAML for one value, like `ansible-vault encrypt_string --name`. */
export async function encryptVaultString(
  value: string,
  password: VaultPassword,
  name: string,
  id?: string,
): Promise<string> {
  const blob = (await encryptVault(value, password, id)).trimEnd();
  return `${name}: !vault |\n${blob
    .split('\n')
    .map((l) => `          ${l}`)
    .join('\n')}\n`;
}

/** Marks `!vault` scalars while parsing; their text is the vault blob. */
class VaultBlob {
  constructor(readonly blob: string) {}
}

const vaultTag: ScalarTag = {
  tag: '!vault',
  resolve: (text: string) => new VaultBlob(text),
};

/**
 * Decrypts every `!vault` value of a YAML text. Returns the YAML with plain strings in their place (comments and
 * order kept) and the data.
 */
export async function decryptInlineVault(
  text: string,
  password: VaultPassword,
  file: string,
): Promise<{ text: string; data: unknown }> {
  const { parseDocument, visit } = yaml();
  const doc = parseDocument(text, { customTags: [vaultTag] });
  const error = doc.errors[0];
  if (error) {
    throw new StrataError(`cannot parse ${file}: ${error.message.split('\n')[0]}`, {
      location: { file, line: error.linePos?.[0].line, col: error.linePos?.[0].col },
    });
  }
  const pending: { node: Scalar; blob: string; where: string }[] = [];
  visit(doc, {
    Scalar(_key, node) {
      if (node.value instanceof VaultBlob) {
        const line = node.range ? text.slice(0, node.range[0]).split('\n').length : undefined;
        pending.push({ node, blob: node.value.blob, where: line ? `${file}:${line}` : file });
      }
    },
  });
  for (const item of pending) {
    item.node.value = await decryptVault(item.blob, password, item.where);
    item.node.tag = undefined;
    item.node.type = undefined;
  }
  return { text: doc.toString({ lineWidth: 0 }), data: doc.toJS() };
}

/** Replaces the values at the given top-level keys of a YAML text by `!vault` values (encrypt_string for a file). */
export async function encryptInlineVault(
  text: string,
  password: VaultPassword,
  keys: string[],
  file: string,
  id?: string,
): Promise<string> {
  const { isScalar, parseDocument, Scalar } = yaml();
  const doc = parseDocument(text, { customTags: [vaultTag] });
  for (const key of keys) {
    const node = doc.get(key, true);
    if (!isScalar(node)) {
      throw new StrataError(`${file}: '${key}' is not a top-level scalar value`, {
        hint: 'only scalar values can be vaulted inline',
      });
    }
    const blob = (await encryptVault(String(node.value), password, id)).trimEnd();
    const replacement = new Scalar(blob);
    replacement.tag = '!vault';
    replacement.type = 'BLOCK_LITERAL';
    replacement.comment = node.comment;
    replacement.commentBefore = node.commentBefore;
    doc.set(key, replacement);
  }
  return doc.toString({ lineWidth: 0 });
}
