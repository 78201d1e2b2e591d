/**
 * `strata secrets check`: finds plain-text secrets by their content, for CI and pre-commit hooks. Known formats
 * (PEM private keys, age identities, Proxmox API token secrets, GitHub/GitLab/AWS/Slack tokens) are matched
 * exactly; values of password-like keys count when they look random (length, character mix, Shannon entropy).
 * SOPS and Ansible Vault files are skipped, as are paths git ignores and lines marked `strata:allow-secret`.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { StrataError } from '../errors.ts';
import { isSopsEncrypted } from './sops.ts';
import { isVaultEncrypted } from './vault.ts';

export interface SecretFinding {
  file: string;
  line: number;
  column: number;
  rule: string;
  message: string;
  /** A masked hint of the value: a few leading characters and the length, never the secret. */
  preview: string;
}

export interface ScanSummary {
  findings: SecretFinding[];
  scanned: number;
  skipped: { file: string; reason: string }[];
}

export const ALLOW_MARKER = 'strata:allow-secret';
/** Values of password-like keys count as secrets from this length and entropy (bits per character) up. */
export const MIN_SECRET_LENGTH = 8;
export const MIN_SECRET_ENTROPY = 3.0;
const MAX_FILE_BYTES = 2 * 1024 * 1024;

interface Detector {
  rule: string;
  message: string;
  pattern: RegExp;
  /** Which capture group holds the secret (0 = whole match). */
  group: number;
}

// Token shapes as their issuers document them (prefixes are public; the rest is the secret).
const DETECTORS: Detector[] = [
  {
    rule: 'age-secret-key',
    message: 'age secret key',
    pattern: /AGE-SECRET-KEY-(?:PQ-)?1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{50,}/g,
    group: 0,
  },
  {
    rule: 'pve-api-token',
    message: 'Proxmox API token secret',
    pattern:
      /PVEAPIToken=[^\s!'"]+![^\s='"]+=([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/g,
    group: 1,
  },
  { rule: 'github-token', message: 'GitHub token', pattern: /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g, group: 0 },
  { rule: 'github-token', message: 'GitHub token', pattern: /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g, group: 0 },
  { rule: 'gitlab-token', message: 'GitLab token', pattern: /\bgl(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{20,}/g, group: 0 },
  { rule: 'aws-access-key-id', message: 'AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, group: 0 },
  { rule: 'slack-token', message: 'Slack token', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, group: 0 },
];

const PEM_BEGIN = /-----BEGIN ((?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----/;
const SECRET_KEY_NAME =
  /(?:^|_)(?:password|passwd|pass|pwd|secret|token|apikey|api_key|secret_key|private_key|access_key|client_secret|passphrase|credentials?)$/;
// `key: value`, `key = "value"`, `"key": "value",`, `export KEY=value` (YAML, HCL/tfvars, JSON, dotenv, shell),
// anywhere on a line: minified JSON and one-line HCL hold several. An unquoted value runs to whitespace or
// punctuation; a `#` inside it is part of it (only ` #` starts a comment in YAML and shell).
const ASSIGNMENT =
  /(?:^|[\s{[(,;])(?:export\s+)?(["']?)([A-Za-z0-9_.-]+)\1\s*(?::|=)\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s#,;'"`()[\]{}][^\s,;'"`()[\]{}]*))/g;
// `key: |` or `key: >-` (a YAML block scalar): the value is on the lines below, indented further.
const BLOCK_SCALAR = /^(\s*)(?:-\s+)?(["']?)([A-Za-z0-9_.-]+)\2\s*:\s*[|>][+-]?\d*[+-]?\s*(?:#.*)?$/;

/** Shannon entropy in bits per character. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  const n = [...text].length;
  for (const c of counts.values()) {
    const p = c / n;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** A few leading characters and the length: enough to find the value, not enough to use it. */
export function maskPreview(secret: string): string {
  const shown = Math.min(4, Math.floor(secret.length / 4));
  return `${secret.slice(0, shown)}${'*'.repeat(8)} (${secret.length} chars)`;
}

function characterClasses(text: string): number {
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9\-_./]/].filter((re) => re.test(text)).length;
}

/**
 * References, placeholders and code are not secrets: `${VAR}`, `{{ .vars.x }}`, `!env X`, `ENC[…]`, `<token>`,
 * YAML aliases, paths, identifiers and member expressions (`VaultPassword`, `opts.token`), prose with spaces, and
 * values that spell out what they stand for (`lab-secret-123`, `vault-pass-1`, `example-token-x`).
 */
function isReference(value: string): boolean {
  return (
    /^[$!<%?]|^ENC\[|\{\{|\$\{|\s/.test(value) ||
    /(?<![a-z])(?:secret|password|passwd|pass|token|example|sample|dummy|fake|test|changeme|redacted|placeholder)(?![a-z])/i.test(
      value,
    ) ||
    /^\*[\w-]+$/.test(value) ||
    /^[A-Za-z_$]+$/.test(value) ||
    /^[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*)+!?$/.test(value) ||
    /^(?:var|local|module|data|each|self)\.[\w.[\]"-]+$/.test(value) ||
    /^[~.]?\/[\w./-]*$/.test(value) ||
    /^(?:x+|\*+|changeme|redacted|example|placeholder|none|null|true|false)$/i.test(value)
  );
}

function snakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[.-]/g, '_')
    .toLowerCase();
}

/** Findings in one text. `file` is used as given in the findings. */
export function scanText(text: string, file: string): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const lines = text.split(/\r?\n/);
  const allowed = (i: number) =>
    lines[i].includes(ALLOW_MARKER) ||
    (i > 0 && lines[i - 1].includes(ALLOW_MARKER) && /^\s*(#|\/\/)/.test(lines[i - 1]));
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (allowed(i)) continue;
    const add = (rule: string, message: string, secret: string, column: number) =>
      findings.push({ file, line: i + 1, column, rule, message, preview: maskPreview(secret) });
    const pem = PEM_BEGIN.exec(line);
    if (pem && pemHasBody(line, lines.slice(i + 1))) {
      add('private-key', `${pem[1] ?? ''}PEM private key`, pem[0], pem.index + 1);
      continue;
    }
    let matched = false;
    for (const detector of DETECTORS) {
      for (const m of line.matchAll(detector.pattern)) {
        const secret = m[detector.group];
        add(detector.rule, detector.message, secret, (m.index ?? 0) + m[0].indexOf(secret) + 1);
        matched = true;
      }
    }
    if (matched) continue;
    for (const m of line.matchAll(ASSIGNMENT)) {
      const [whole, , key, double, single, bare] = m;
      const value = double ?? single ?? bare ?? '';
      const start = m.index ?? 0;
      const end = start + whole.length;
      // `${VAR:?message}` and `${VAR:-default}` are shell expansions; an unquoted word followed by more words is prose.
      if (whole.startsWith('{') && line[start - 1] === '$') continue;
      if (bare !== undefined && /^\s+[A-Za-z0-9]/.test(line.slice(end))) continue;
      // Where the value starts: it ends the match, before a closing quote.
      const column = end - (bare === undefined ? 1 : 0) - value.length + 1;
      if (looksSecret(key, value)) add('password-like-value', `high-entropy value for '${key}'`, value, column);
    }
    const block = BLOCK_SCALAR.exec(line);
    const scalar = block ? blockScalar(lines, i, block[1].length) : undefined;
    if (block && scalar && looksSecret(block[3], scalar.value)) {
      findings.push({
        file,
        line: scalar.line + 1,
        column: scalar.column,
        rule: 'password-like-value',
        message: `high-entropy value for '${block[3]}'`,
        preview: maskPreview(scalar.value),
      });
    }
  }
  return findings;
}

/** A value under a password-like key that looks random (length, character mix, entropy) and is no reference. */
function looksSecret(key: string, written: string): boolean {
  if (!SECRET_KEY_NAME.test(snakeCase(key))) return false;
  // A Proxmox token written `user@realm!id=secret` is judged by its secret part.
  const value = /^[^@\s]+@[^!\s]+![^=\s]+=(.*)$/.exec(written)?.[1] ?? written;
  if (value.length < MIN_SECRET_LENGTH || isReference(value)) return false;
  return characterClasses(value) >= 2 && shannonEntropy(value) >= MIN_SECRET_ENTROPY;
}

/**
 * The content of the block scalar whose key is on line `keyLine`: its lines, indented deeper than the key, joined
 * (a token wrapped over lines); undefined for prose or a PEM block (lines with spaces), which other rules judge.
 */
function blockScalar(
  lines: string[],
  keyLine: number,
  keyIndent: number,
): { value: string; line: number; column: number } | undefined {
  const content: Array<{ text: string; line: number; column: number }> = [];
  for (let j = keyLine + 1; j < lines.length; j++) {
    const text = lines[j];
    if (text.trim() === '') continue;
    const indent = text.length - text.trimStart().length;
    if (indent <= keyIndent) break;
    content.push({ text: text.trim(), line: j, column: indent + 1 });
  }
  if (content.length === 0 || content.some((c) => /\s/.test(c.text))) return undefined;
  return { value: content.map((c) => c.text).join(''), line: content[0].line, column: content[0].column };
}

/** A header alone (in docs or code) is not a key; a base64 body after it is (next line, or `\n` in a JSON string). */
function pemHasBody(line: string, rest: string[]): boolean {
  if (/-----\\n[A-Za-z0-9+/=]{40,}/.test(line)) return true;
  const next = rest.find((l) => l.trim() !== '' && !/^[\w-]+:/.test(l.trim())) ?? '';
  return /^\s*[A-Za-z0-9+/=]{40,}\s*$/.test(next);
}

function isBinary(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(8192);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n).includes(0);
  } finally {
    closeSync(fd);
  }
}

function gitFiles(dir: string): string[] | undefined {
  try {
    execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  // Tracked plus untracked-but-not-ignored files: exactly what could be committed.
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: dir,
    maxBuffer: 256 * 1024 * 1024,
  }).toString('utf8');
  return out
    .split('\0')
    .filter((f) => f !== '')
    .map((f) => join(dir, f));
}

function walkFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git' || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Scans files and folders (default: the current folder). Folders in a git work tree list only what git would commit. */
export function scanPaths(paths: string[], cwd = process.cwd()): ScanSummary {
  const files = new Set<string>();
  for (const given of paths.length > 0 ? paths : ['.']) {
    const path = resolve(cwd, given);
    if (!existsSync(path)) throw new StrataError(`${given}: no such file or folder`);
    if (statSync(path).isDirectory()) for (const f of gitFiles(path) ?? walkFiles(path)) files.add(f);
    else files.add(path);
  }
  const summary: ScanSummary = { findings: [], scanned: 0, skipped: [] };
  for (const path of [...files].sort()) {
    const file = relative(cwd, path) || path;
    if (!existsSync(path) || !statSync(path).isFile()) continue;
    if (statSync(path).size > MAX_FILE_BYTES) {
      summary.skipped.push({ file, reason: 'larger than 2 MiB' });
      continue;
    }
    if (isBinary(path)) {
      summary.skipped.push({ file, reason: 'binary' });
      continue;
    }
    const text = readFileSync(path, 'utf8');
    if (isSopsEncrypted(text)) {
      summary.skipped.push({ file, reason: 'SOPS-encrypted' });
      continue;
    }
    if (isVaultEncrypted(text)) {
      summary.skipped.push({ file, reason: 'Ansible Vault-encrypted' });
      continue;
    }
    summary.scanned++;
    summary.findings.push(...scanText(text, file));
  }
  return summary;
}
