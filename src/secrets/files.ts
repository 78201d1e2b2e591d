/**
 * File-level operations behind `strata secrets`: detect how a file is protected, show it, encrypt it, edit it
 * through $EDITOR, and rotate its data key. Plaintext only leaves memory through withSecretFile (for the editor).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { StrataError } from '../errors.ts';
import { signalExitCode } from '../exec/index.ts';
import { writeFileAtomicSync } from '../util/fs.ts';
import type { AgeKeyring } from './age-keys.ts';
import { readSecretFile } from './read-file.ts';
import {
  decryptSops,
  encryptSops,
  isAgeRecipient,
  isSopsEncrypted,
  rulesOf,
  type SopsFormat,
  type SopsRules,
  sopsFormatFor,
} from './sops.ts';
import { creationRuleFor } from './sops-config.ts';
import { withSecretFile } from './tempfile.ts';
import { lookupKeyPath } from './values.ts';
import {
  decryptInlineVault,
  decryptVault,
  encryptVault,
  hasInlineVault,
  isVaultEncrypted,
  resolveVaultPassword,
  type VaultPasswordOptions,
  vaultId,
} from './vault.ts';

export type Protection = 'sops' | 'vault' | 'inline-vault' | 'plain';

export interface SecretFileOptions {
  env?: NodeJS.ProcessEnv;
  keyring?: AgeKeyring;
  vault?: VaultPasswordOptions;
}

export function protectionOf(text: string): Protection {
  if (isSopsEncrypted(text)) return 'sops';
  if (isVaultEncrypted(text)) return 'vault';
  if (hasInlineVault(text)) return 'inline-vault';
  return 'plain';
}

function readExisting(file: string): string {
  if (!existsSync(file)) throw new StrataError(`${file}: no such file`);
  return readSecretFile(file, file);
}

function vaultPassword(options: SecretFileOptions) {
  return resolveVaultPassword({ env: options.env, ...options.vault });
}

/** Decrypted text of a protected file; with `key`, only that value (scalars raw, collections as YAML/JSON). */
export async function decryptFile(file: string, options: SecretFileOptions & { key?: string } = {}): Promise<string> {
  const text = readExisting(file);
  let plain: string;
  let data: () => unknown;
  let format: SopsFormat = sopsFormatFor(file);
  switch (protectionOf(text)) {
    case 'sops': {
      const result = await decryptSops(text, { file, keyring: options.keyring, env: options.env });
      plain = result.text;
      data = () => result.data;
      break;
    }
    case 'vault': {
      plain = await decryptVault(text, vaultPassword(options), file);
      data = () => parseYaml(plain, file);
      break;
    }
    case 'inline-vault': {
      const result = await decryptInlineVault(text, vaultPassword(options), file);
      plain = result.text;
      data = () => result.data;
      format = 'yaml';
      break;
    }
    case 'plain':
      throw new StrataError(`${file} is not encrypted (neither SOPS nor Ansible Vault)`, {
        location: { file },
        hint: `encrypt it with \`strata secrets encrypt ${file} --age <recipient> --in-place\``,
      });
  }
  if (options.key === undefined) return plain;
  const value = lookupKeyPath(data(), options.key, file);
  if (value !== null && typeof value === 'object') {
    return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 });
  }
  return `${value ?? ''}\n`;
}

function parseYaml(text: string, file: string): unknown {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length === 0 || docs[0].errors.length > 0) {
    throw new StrataError(`${file}: the decrypted content is not YAML, so a key cannot be looked up`);
  }
  return docs[0].toJS();
}

export interface EncryptFileOptions extends SecretFileOptions {
  /** age recipients; when absent, the matching `.sops.yaml` creation rule is used. */
  age?: string[];
  rules?: SopsRules;
  /** Ansible Vault instead of SOPS. */
  vaultMode?: boolean;
  vaultId?: string;
}

export interface EncryptResult {
  text: string;
  /** What was used, for the CLI to report: recipients or the vault password source. */
  recipients: string[];
  from: string;
}

/** Encrypts a plaintext file (SOPS for age recipients, or Ansible Vault) and returns the encrypted text. */
export async function encryptFile(file: string, options: EncryptFileOptions = {}): Promise<EncryptResult> {
  const text = readExisting(file);
  const protection = protectionOf(text);
  if (protection === 'sops' || protection === 'vault') {
    throw new StrataError(`${file} is already encrypted (${protection === 'sops' ? 'SOPS' : 'Ansible Vault'})`, {
      hint: protection === 'sops' ? `change its recipients with \`strata secrets rotate ${file} --age …\`` : undefined,
    });
  }
  if (options.vaultMode) {
    const password = vaultPassword(options);
    return { text: await encryptVault(text, password, options.vaultId), recipients: [], from: password.source };
  }
  let recipients = options.age ?? [];
  let rules = options.rules;
  let from = '--age';
  if (recipients.length === 0) {
    const rule = creationRuleFor(file);
    if (!rule || rule.recipients.length === 0) {
      throw new StrataError(`no age recipients for ${file}`, {
        hint: 'pass --age <age1…> (see `age-keygen -y keys.txt`), or add a creation rule with `age:` to .sops.yaml',
      });
    }
    recipients = rule.recipients;
    const ruleRules = Object.values(rule.rules).some((v) => v !== undefined);
    rules = rules && Object.values(rules).some((v) => v !== undefined) ? rules : ruleRules ? rule.rules : undefined;
    from = `${rule.configFile} (creation rule ${rule.index})`;
  }
  for (const r of recipients) {
    if (!isAgeRecipient(r)) {
      throw new StrataError(`'${r}' is not an age recipient`, { hint: 'age recipients start with age1' });
    }
  }
  return { text: await encryptSops(text, { file, recipients, rules }), recipients, from };
}

/** Writes a secrets file atomically (util/fs), keeping the target's mode (0600 for a new file). */
export function writeSecretFile(file: string, text: string): void {
  writeFileAtomicSync(file, text, existsSync(file) ? statSync(file).mode & 0o777 : 0o600);
}

/**
 * Runs $EDITOR (then $VISUAL, then vi) on a file and waits; `EDITOR` may carry arguments (`code --wait`). While it
 * runs, Ctrl-C is the editor's (strata ignores SIGINT, as git does); a SIGTERM or SIGHUP sent to strata is passed
 * on to the editor and ends the edit with an error (exit status 128+n), the file left unchanged.
 */
export async function runEditor(path: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const editor = env.EDITOR || env.VISUAL || 'vi';
  const child = spawn('sh', ['-c', `exec ${editor} "$1"`, 'strata-editor', path], { stdio: 'inherit', env });
  let interrupted: NodeJS.Signals | undefined;
  const passOn = (signal: NodeJS.Signals) => {
    interrupted ??= signal;
    child.kill(signal);
  };
  const editorsToHandle = () => undefined;
  process.on('SIGTERM', passOn);
  process.on('SIGHUP', passOn);
  process.on('SIGINT', editorsToHandle);
  let exit: { code: number | null; signal: NodeJS.Signals | null };
  try {
    exit = await new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  } catch (error) {
    throw new StrataError(`could not start the editor '${editor}': ${(error as Error).message}`);
  } finally {
    process.off('SIGTERM', passOn);
    process.off('SIGHUP', passOn);
    process.off('SIGINT', editorsToHandle);
  }
  if (interrupted) {
    throw new StrataError(`interrupted by ${interrupted} while editing; file left unchanged`, {
      exitCode: signalExitCode(interrupted),
    });
  }
  if (exit.code !== 0) {
    throw new StrataError(
      `the editor '${editor}' exited with status ${exit.code ?? exit.signal}; file left unchanged`,
      {
        exitCode: exit.signal ? signalExitCode(exit.signal) : 1,
      },
    );
  }
}

export interface EditResult {
  changed: boolean;
}

/**
 * Decrypts to a private temp file, opens the editor, and re-encrypts when the content changed: SOPS files keep
 * their data key and recipients (unchanged values keep their ciphertext), vault files keep password and vault id.
 */
export interface EditOptions extends SecretFileOptions {
  /** The edited content is invalid: true opens the editor again (a person is there to fix it), else it fails. */
  retryInvalid?: (error: StrataError) => boolean;
}

export async function editFile(file: string, options: EditOptions = {}): Promise<EditResult> {
  const text = readExisting(file);
  const protection = protectionOf(text);
  const env = options.env ?? process.env;
  if (protection === 'plain' || protection === 'inline-vault') {
    throw new StrataError(
      protection === 'plain'
        ? `${file} is not encrypted; edit it directly, then \`strata secrets encrypt ${file} --in-place\``
        : `${file} holds inline !vault values; replace them with \`ansible-vault encrypt_string\``,
    );
  }
  if (protection === 'sops') {
    const plain = await decryptSops(text, { file, keyring: options.keyring, env });
    const edited = await editInTemp(plain.text, file, env, options.retryInvalid, (candidate) => {
      validateEdited(candidate, file, plain.format);
    });
    if (edited === plain.text) return { changed: false };
    const { metadata } = plain;
    const encrypted = await encryptSops(edited, {
      file,
      format: plain.format,
      rules: rulesOf(metadata),
      reuse: { dataKey: plain.dataKey, age: metadata.age, ivStash: plain.ivStash },
    });
    writeSecretFile(file, encrypted);
    return { changed: true };
  }
  const password = vaultPassword(options);
  const plain = await decryptVault(text, password, file);
  const edited = await editInTemp(plain, file, env, options.retryInvalid, () => undefined);
  if (edited === plain) return { changed: false };
  writeSecretFile(file, await encryptVault(edited, password, vaultId(text)));
  return { changed: true };
}

function validateEdited(text: string, file: string, format: SopsFormat): void {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [];
  const error = list.flatMap((d) => d.errors)[0];
  if (error)
    throw new StrataError(`${file}: the edited ${format.toUpperCase()} is invalid: ${error.message.split('\n')[0]}`);
}

/** Edits in a private temp file; on invalid content, re-opens the editor when the caller says to retry. */
async function editInTemp(
  content: string,
  file: string,
  env: NodeJS.ProcessEnv,
  retryInvalid: EditOptions['retryInvalid'],
  validate: (text: string) => void,
): Promise<string> {
  return withSecretFile(
    content,
    async (path) => {
      for (;;) {
        await runEditor(path, env);
        const edited = readFileSync(path, 'utf8');
        try {
          validate(edited);
          return edited;
        } catch (error) {
          if (!(error instanceof StrataError) || !retryInvalid?.(error)) throw error;
        }
      }
    },
    { name: basename(file), interactive: true },
  );
}

export interface RotateOptions extends SecretFileOptions {
  /** Replace the recipients. */
  age?: string[];
  add?: string[];
  remove?: string[];
}

/** New data key (and new ciphertext for every value); recipients kept, replaced, or changed by add/remove. */
export async function rotateFile(
  file: string,
  options: RotateOptions = {},
): Promise<{ text: string; recipients: string[] }> {
  const text = readExisting(file);
  if (protectionOf(text) !== 'sops') {
    throw new StrataError(`${file} is not a SOPS file; only SOPS files have a data key to rotate`, {
      hint: 'for Ansible Vault use `ansible-vault rekey`',
    });
  }
  const plain = await decryptSops(text, { file, keyring: options.keyring, env: options.env });
  let recipients = options.age && options.age.length > 0 ? options.age : plain.metadata.age.map((a) => a.recipient);
  recipients = [...recipients, ...(options.add ?? [])].filter((r) => !(options.remove ?? []).includes(r));
  recipients = [...new Set(recipients)];
  if (recipients.length === 0) throw new StrataError(`rotating ${file} would leave it with no recipients`);
  const { metadata } = plain;
  const encrypted = await encryptSops(plain.text, {
    file,
    format: plain.format,
    recipients,
    rules: rulesOf(metadata),
  });
  return { text: encrypted, recipients };
}
