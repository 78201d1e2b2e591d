import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { StrataError, UsageError } from '../../errors.ts';
import { describeKeySources, discoverAgeKeys } from '../../secrets/age-keys.ts';
import { decryptFile, editFile, encryptFile, rotateFile, writeSecretFile } from '../../secrets/files.ts';
import { scanPaths } from '../../secrets/scan.ts';
import type { SopsRules } from '../../secrets/sops.ts';
import { parseFormat, render } from '../output.ts';

interface VaultFlag {
  vaultPasswordFile?: string;
}

const vaultOptions = (opts: VaultFlag) => ({ vault: { passwordFile: opts.vaultPasswordFile } });
const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((v) => v.trim())];

/** An invalid edit at a terminal: say why, wait for Enter, and open the editor again (Ctrl-C there discards). */
function backToEditor(error: StrataError): boolean {
  if (!process.stdin.isTTY) return false;
  process.stderr.write(`${error.message}\nPress Enter to return to the editor (Ctrl-C discards).\n`);
  return spawnSync('sh', ['-c', 'read _'], { stdio: 'inherit' }).status === 0;
}

/** `strata secrets …`: SOPS (age) and Ansible Vault files, and a scanner for plain-text secrets. */
export function register(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('Encrypt, view, edit and rotate SOPS (age) and Ansible Vault files; find plain-text secrets')
    .exitOverride();
  secrets.addHelpText(
    'after',
    `
Keys: age identities come from $STRATA_AGE_KEY_FILE, $SOPS_AGE_KEY_FILE, $SOPS_AGE_KEY and
~/.config/sops/age/keys.txt; vault passwords from --vault-password-file, $ANSIBLE_VAULT_PASSWORD_FILE
or $STRATA_VAULT_PASSWORD. See docs/secrets.md.

Examples:
  strata secrets encrypt secrets/prod.yaml --age age1… --in-place
  strata secrets edit secrets/prod.yaml
  strata secrets check`,
  );

  secrets
    .command('view <file>')
    .description('show a decrypted SOPS or vault file on the terminal')
    .option('--key <path>', 'show one value, e.g. db.password or users[0].token')
    .option('--force', 'print even when stdout is not a terminal (prefer `decrypt` in scripts)')
    .option('--vault-password-file <file>', 'Ansible Vault password file')
    .addHelpText('after', '\nExample:\n  strata secrets view secrets/prod.yaml --key db.password')
    .action(async (file: string, opts: VaultFlag & { key?: string; force?: boolean }) => {
      // Plaintext on purpose, but only where a person reads it: pipes and logs need an explicit --force.
      if (!process.stdout.isTTY && !opts.force) {
        throw new StrataError('refusing to print decrypted secrets: stdout is not a terminal', {
          hint: 'use `strata secrets decrypt` for scripts, or add --force',
        });
      }
      process.stdout.write(await decryptFile(file, { key: opts.key, ...vaultOptions(opts) }));
    });

  secrets
    .command('decrypt <file>')
    .description('write the decrypted content to stdout (or --output, created with mode 0600)')
    .option('--key <path>', 'only this value, e.g. db.password')
    .option('--output <file>', 'write to this file instead of stdout')
    .option('--vault-password-file <file>', 'Ansible Vault password file')
    .addHelpText('after', '\nExample:\n  strata secrets decrypt secrets/prod.yaml --key db.password')
    .action(async (file: string, opts: VaultFlag & { key?: string; output?: string }) => {
      const text = await decryptFile(file, { key: opts.key, ...vaultOptions(opts) });
      if (opts.output) writeFileSync(opts.output, text, { mode: 0o600 });
      else process.stdout.write(text);
    });

  secrets
    .command('encrypt <file>')
    .description('encrypt a plaintext YAML/JSON file with SOPS for age recipients (or with Ansible Vault)')
    .option(
      '--age <recipients...>',
      'age recipients (space- or comma-separated); default: .sops.yaml creation rules',
      collect,
    )
    .option('--in-place', 'replace the file')
    .option('--output <file>', 'write to this file (default: stdout)')
    .option('--encrypted-regex <re>', 'encrypt only values under keys matching this')
    .option('--unencrypted-regex <re>', 'leave values under keys matching this in plain text')
    .option('--encrypted-suffix <s>', 'encrypt only values under keys ending with this')
    .option('--unencrypted-suffix <s>', 'leave values under keys ending with this in plain text (default _unencrypted)')
    .option('--mac-only-encrypted', 'let the MAC cover encrypted values only')
    .option('--vault', 'encrypt the whole file with Ansible Vault instead of SOPS')
    .option('--vault-id <id>', 'vault id for the 1.2 header (with --vault)')
    .option('--vault-password-file <file>', 'Ansible Vault password file (with --vault)')
    .option('--dry-run', 'encrypt and report, but write nothing')
    .addHelpText(
      'after',
      '\nExamples:\n  strata secrets encrypt secrets/prod.yaml --age age1abc… --in-place\n  strata secrets encrypt secrets.tfvars --vault --vault-password-file .vault-pass --in-place',
    )
    .action(async (file: string, opts: EncryptFlags) => {
      if (opts.inPlace && opts.output) throw new UsageError('--in-place and --output exclude each other');
      const rules: SopsRules = {
        encryptedRegex: opts.encryptedRegex,
        unencryptedRegex: opts.unencryptedRegex,
        encryptedSuffix: opts.encryptedSuffix,
        unencryptedSuffix: opts.unencryptedSuffix,
        macOnlyEncrypted: opts.macOnlyEncrypted,
      };
      const result = await encryptFile(file, {
        age: opts.age,
        rules,
        vaultMode: opts.vault,
        vaultId: opts.vaultId,
        ...vaultOptions(opts),
      });
      const target = opts.inPlace ? file : opts.output;
      const what = opts.vault
        ? `Ansible Vault (password from ${result.from})`
        : `${result.recipients.join(', ')} (from ${result.from})`;
      if (opts.dryRun) {
        process.stderr.write(`dry run: would encrypt ${file} for ${what}${target ? ` into ${target}` : ''}\n`);
        return;
      }
      if (!target) {
        process.stdout.write(result.text);
        return;
      }
      writeSecretFile(target, result.text);
      process.stderr.write(`encrypted ${file} for ${what} -> ${target}\n`);
    });

  secrets
    .command('edit <file>')
    .description('decrypt into $EDITOR and re-encrypt if changed (keeps recipients, data key, vault id)')
    .option('--vault-password-file <file>', 'Ansible Vault password file')
    .addHelpText('after', '\nExample:\n  EDITOR=nano strata secrets edit secrets/prod.yaml')
    .action(async (file: string, opts: VaultFlag) => {
      const result = await editFile(file, { ...vaultOptions(opts), retryInvalid: backToEditor });
      process.stderr.write(result.changed ? `saved ${file} (re-encrypted)\n` : `no changes; ${file} left as it was\n`);
    });

  secrets
    .command('rotate <file>')
    .description('re-encrypt a SOPS file with a new data key, for the same or new age recipients')
    .option('--age <recipients...>', 'replace the recipients', collect)
    .option('--add-age <recipients...>', 'add recipients', collect)
    .option('--rm-age <recipients...>', 'remove recipients', collect)
    .option('--dry-run', 'rotate in memory and report, but write nothing')
    .addHelpText('after', '\nExample:\n  strata secrets rotate secrets/prod.yaml --add-age age1new…')
    .action(async (file: string, opts: { age?: string[]; addAge?: string[]; rmAge?: string[]; dryRun?: boolean }) => {
      const result = await rotateFile(file, { age: opts.age, add: opts.addAge, remove: opts.rmAge });
      if (!opts.dryRun) writeSecretFile(file, result.text);
      process.stderr.write(
        `${opts.dryRun ? 'dry run: would rotate' : 'rotated'} the data key of ${file}; recipients: ${result.recipients.join(', ')}\n`,
      );
    });

  secrets
    .command('check [paths...]')
    .description('find plain-text secrets (keys, tokens, random-looking passwords); exit 1 when any is found')
    .option('--format <format>', 'text, json or yaml', 'text')
    .addHelpText(
      'after',
      `
Skips SOPS and Ansible Vault files and, in a git work tree, paths git ignores.
Silence a line with a comment containing "strata:allow-secret" on it or on the line above.

Example (pre-commit / CI):
  strata secrets check stacks/ secrets/`,
    )
    .action((paths: string[], opts: { format: string }) => {
      const format = opts.format === 'text' ? 'text' : parseFormat(opts.format, ['text', 'json', 'yaml']);
      const summary = scanPaths(paths);
      if (format === 'text') {
        for (const f of summary.findings) {
          process.stdout.write(`${f.file}:${f.line}:${f.column}: ${f.rule}: ${f.message}: ${f.preview}\n`);
        }
        process.stderr.write(
          `${summary.findings.length} possible secret(s) in ${summary.scanned} file(s) scanned (${summary.skipped.length} skipped)\n`,
        );
      } else {
        process.stdout.write(render(summary, format));
      }
      if (summary.findings.length > 0) process.exitCode = 1;
    });

  secrets
    .command('keys')
    .description('list where age keys are looked for and the public keys found (never the private keys)')
    .option('--format <format>', 'text, json or yaml', 'text')
    .action(async (opts: { format: string }) => {
      const keyring = await discoverAgeKeys();
      const format = opts.format === 'text' ? 'text' : parseFormat(opts.format, ['text', 'json', 'yaml']);
      if (format !== 'text') {
        const keys = keyring.keys.map((k) => ({ recipient: k.recipient, origin: k.origin }));
        process.stdout.write(render({ keys, sources: keyring.sources }, format));
        return;
      }
      process.stdout.write(`Key sources, in order:\n${describeKeySources(keyring.sources)}\n`);
      process.stdout.write(
        `Public keys:\n${keyring.keys.map((k) => `  ${k.recipient} (${k.origin})`).join('\n') || '  (none)'}\n`,
      );
    });
}

interface EncryptFlags extends VaultFlag {
  age?: string[];
  inPlace?: boolean;
  output?: string;
  encryptedRegex?: string;
  unencryptedRegex?: string;
  encryptedSuffix?: string;
  unencryptedSuffix?: string;
  macOnlyEncrypted?: boolean;
  vault?: boolean;
  vaultId?: string;
  dryRun?: boolean;
}
