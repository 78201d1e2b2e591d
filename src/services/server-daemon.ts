/**
 * iac-driver's `server start|stop|status` around `strata serve --site-config`: a daemon in its own session, its log in
 * $HOMESTAK_ROOT/logs/server.log, its pid in $HOMESTAK_ROOT/.run/server-<port>.pid (written once /health answers),
 * stopped with SIGTERM (SIGKILL after 10 s).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StrataError } from '../errors.ts';
import { sleep, writeFileAtomic } from '../util/fs.ts';
import { processAlive } from '../util/pid.ts';
import { homestakPaths, httpGet } from './iacdriver-node.ts';

export const DEFAULT_SERVER_PORT = 44443;

export interface ServerStatus {
  running: boolean;
  pid: number | null;
  healthy: boolean;
}

export interface ServerOptions {
  port?: number;
  bind?: string;
  env?: NodeJS.ProcessEnv;
}

function pidFile(port: number, env: NodeJS.ProcessEnv): string {
  return join(homestakPaths(env).root, '.run', `server-${port}.pid`);
}

async function healthy(bind: string, port: number): Promise<boolean> {
  const host = bind === '0.0.0.0' ? '127.0.0.1' : bind;
  try {
    const answer = await httpGet(new URL(`https://${host}:${port}/health`), '', true);
    return answer.status === 200;
  } catch {
    return false;
  }
}

function readPid(file: string): number | null {
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** `server status`: running (its pid alive), healthy (its /health answers). */
export async function serverStatus(options: ServerOptions = {}): Promise<ServerStatus> {
  const env = options.env ?? process.env;
  const port = options.port ?? DEFAULT_SERVER_PORT;
  const pid = readPid(pidFile(port, env));
  if (pid === null || !processAlive(pid)) return { running: false, pid: null, healthy: false };
  return { running: true, pid, healthy: await healthy(options.bind ?? '127.0.0.1', port) };
}

export interface StartOptions extends ServerOptions {
  siteConfig: string;
  /** How to run strata itself (the CLI knows: node and its script, or the single executable). */
  self: string[];
  cert?: string;
  key?: string;
  /** Repository token for /{repo}.git/ (handed over in the environment, never on the command line). */
  repoToken?: string;
  /** Serve no repository. */
  noRepo?: boolean;
}

/** `server start`: reuses a healthy server, replaces a stale one, else starts one and waits for /health. */
export async function startServer(options: StartOptions): Promise<ServerStatus & { started: boolean }> {
  const env = options.env ?? process.env;
  const port = options.port ?? DEFAULT_SERVER_PORT;
  const bind = options.bind ?? '127.0.0.1';
  const file = pidFile(port, env);
  const current = await serverStatus({ port, bind, env });
  if (current.running && current.healthy) return { ...current, started: false };
  if (current.running) await stopServer({ port, env });
  rmSync(file, { force: true });
  const { root } = homestakPaths(env);
  mkdirSync(join(root, 'logs'), { recursive: true });
  const log = openSync(join(root, 'logs', 'server.log'), 'a', 0o600);
  const args = ['serve', '--site-config', resolve(options.siteConfig), '--port', String(port), '--bind', bind];
  if (options.cert && options.key) args.push('--cert', options.cert, '--key', options.key);
  if (options.noRepo) args.push('--no-repo');
  const [command, ...prefix] = options.self;
  const child = spawn(command, [...prefix, ...args], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...env, ...(options.repoToken ? { STRATA_REPO_TOKEN: options.repoToken } : {}) },
  });
  closeSync(log);
  child.unref();
  const pid = child.pid as number;
  for (let i = 0; i < 150; i++) {
    if (await healthy(bind, port)) {
      await writeFileAtomic(file, `${pid}\n`);
      return { running: true, pid, healthy: true, started: true };
    }
    if (!processAlive(pid) || child.exitCode !== null) break;
    await sleep(100);
  }
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  throw new StrataError(`Failed to start server on ${bind}:${port}`, {
    hint: `see ${join(root, 'logs', 'server.log')}`,
  });
}

/** `server stop`: SIGTERM, then SIGKILL after 10 s; a server that is not running is fine. */
export async function stopServer(options: ServerOptions = {}): Promise<{ stopped: boolean; pid: number | null }> {
  const env = options.env ?? process.env;
  const port = options.port ?? DEFAULT_SERVER_PORT;
  const file = pidFile(port, env);
  const pid = readPid(file);
  if (pid === null || !processAlive(pid)) {
    rmSync(file, { force: true });
    return { stopped: false, pid: null };
  }
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(100);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(file, { force: true });
  return { stopped: true, pid };
}
