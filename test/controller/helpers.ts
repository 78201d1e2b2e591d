import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { repoRoot } from '../helpers/shared.ts';

/** One client for every in-process test: the daemon's certificate is self-signed. */
export const insecure = new Agent({ connect: { rejectUnauthorized: false }, keepAliveTimeout: 1000 });

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export async function get(url: string, token?: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await request(url, {
    dispatcher: insecure,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
  });
  const body = await res.body.text();
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return { status: res.statusCode, headers: flat, body };
}

/** Sends bytes exactly as given (no client-side path normalisation) and returns the status and body. */
export function raw(port: number, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const textOut = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(textOut)?.[1] ?? 0);
      resolve({ status, body: textOut.split('\r\n\r\n').slice(1).join('\r\n\r\n') });
    });
  });
}

export function rawGet(
  port: number,
  path: string,
  token?: string,
  extra = '',
): Promise<{ status: number; body: string }> {
  const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
  return raw(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}${extra}Connection: close\r\n\r\n`);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `strata-ctl-${prefix}-`));
}

export function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  });
}

/** An iac-driver style site-config: dev (network), stage (site_token) and prod (node_token) postures. */
export function siteConfig(root: string): void {
  write(root, {
    'site.yaml': 'defaults: {domain: lan, timezone: Europe/Paris}\n',
    'postures/dev.yaml': 'auth: {method: network}\n',
    'postures/stage.yaml': 'auth: {method: site_token}\n',
    'postures/prod.yaml': 'auth: {method: node_token}\n',
    'specs/dev1.yaml': 'schema_version: 1\nplatform: {packages: [htop]}\n',
    'specs/stage1.yaml': 'access: {posture: stage}\nplatform: {packages: [curl]}\n',
    'specs/edge.yaml': 'access: {posture: prod}\nidentity: {domain: example.org}\nconfig: {timezone: UTC}\n',
  });
}

export interface Daemon {
  child: ChildProcess;
  url: string;
  port: number;
  fingerprint: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs `strata serve --port 0 --json <args>` in `cwd` and waits for its start-up line. */
export async function startDaemon(cwd: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Daemon> {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'bin', 'strata.js'), 'serve', '--port', '0', '--json', ...args],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`strata serve exited with ${code}: ${stderr}`)));
  });
  const info = JSON.parse(first) as { url: string; port: number; fingerprint: string };
  return { child, ...info, stderr: () => stderr, exited };
}
