/**
 * The controller daemon's lifecycle: TLS identity, the HTTPS listener (node:https, with the request gate in front of
 * the hono routes), reload and drain. It writes nothing to the terminal: every line goes to the logger handed in.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { StrataError } from '../errors.ts';
import { AccessLog, createEmitter, type Emit, type LogSink } from './access-log.ts';
import { credentialValues, readCredentials } from './auth.ts';
import { Connections, type ConnectionTimeouts, DEFAULT_TIMEOUTS, serverTimeoutOptions } from './connections.ts';
import { RequestGate } from './gate.ts';
import { RateLimiter } from './rate-limit.ts';
import { Reloader, type ReloadResult } from './reload.ts';
import { type RepoSnapshot, realPaths, snapshotRepo } from './repo.ts';
import { createRoutes, type LiveState, type RouteContext } from './routes.ts';
import { generateSelfSigned, loadTls, type TlsMaterial } from './tls.ts';
import type { Credentials, SpecSource } from './types.ts';

export type { LogSink } from './access-log.ts';
export type { ConnectionTimeouts } from './connections.ts';
export type { ReloadResult } from './reload.ts';

export const DEFAULT_PORT = 44443;
export const DEFAULT_BIND = '127.0.0.1';

export interface ControllerOptions {
  source: SpecSource;
  /** Address to listen on (default 127.0.0.1). */
  bind?: string;
  /** Port (default 44443; 0 picks a free one). */
  port?: number;
  /** PEM files; without them a self-signed certificate is generated with openssl. */
  tls?: { certFile: string; keyFile: string };
  /** Token material, or a function that reads it (called at start and on every reload). */
  credentials?: Credentials | (() => Promise<Credentials> | Credentials);
  /**
   * Folder of a git work tree served read-only under /repo/ (tracked and untracked-but-not-ignored files) and as
   * git dumb HTTP under /repo.git/ (committed history); omit to serve none.
   */
  repo?: string;
  /** Files never served even inside the repository (the signing key file); the TLS key is always protected. */
  protectFiles?: string[];
  /** Serve /repo.git/ from a bare clone (default true when `repo` is a git work tree with a commit). */
  gitMirror?: boolean;
  /** Per-client token bucket; `perSecond: 0` turns it off. Default 50/s, burst 100. */
  rateLimit?: { perSecond: number; burst: number };
  /** Request bodies above this size are refused with 413 (default 16 KiB; the API takes no bodies). */
  maxBodyBytes?: number;
  /** Request headers above this size are refused with 431 (default 16 KiB). */
  maxHeaderBytes?: number;
  /** Handshake, headers, request, keep-alive and idle timeouts (defaults 10 s, 10 s, 30 s, 5 s, 120 s). */
  timeouts?: Partial<ConnectionTimeouts>;
  /** How long close() waits for in-flight requests before cutting connections (default 10 s). */
  drainTimeoutMs?: number;
  /** Receives each log line (JSON, masked): the access log and the start, reload, drain and stop events. */
  log: LogSink;
  /** Another protocol over the same daemon (iac-driver's: iacdriver-routes.ts); default strata's own endpoints. */
  routes?: (context: RouteContext) => (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

export interface Controller {
  url: string;
  port: number;
  /** SHA-256 fingerprint of the served certificate (AA:BB:...). */
  fingerprint: string;
  selfSigned: boolean;
  /** Re-reads specs, credentials and the repository snapshot; parts that fail keep their previous state. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting, lets in-flight requests finish (up to the drain deadline), then closes every connection. */
  close(): Promise<{ drained: boolean }>;
  readonly server: Server;
  /** TCP connections open now (handshaking, idle or busy). */
  readonly connections: number;
}

export async function startController(options: ControllerOptions): Promise<Controller> {
  const bind = options.bind ?? DEFAULT_BIND;
  const emit = createEmitter(options.log);
  const tls: TlsMaterial = options.tls
    ? await loadTls(options.tls.certFile, options.tls.keyFile)
    : await generateSelfSigned(bind);
  const repoDir = options.repo;
  const live: LiveState = { credentials: await readCredentials(options.credentials) };
  const readRepo =
    repoDir === undefined
      ? undefined
      : () => readRepoSnapshot(repoDir, options.gitMirror, credentialValues(live.credentials), emit);
  live.repo = readRepo ? await readRepo() : undefined;
  const access = new AccessLog(emit);
  const gate = new RequestGate({
    access,
    limiter: new RateLimiter(options.rateLimit ?? { perSecond: 50, burst: 100 }),
    maxBody: options.maxBodyBytes ?? 16 * 1024,
    forward: (options.routes ?? createRoutes)({
      source: options.source,
      live,
      denyFiles: await realPaths([options.tls?.keyFile, ...(options.protectFiles ?? [])]),
      access,
    }),
  });
  const { server, connections } = createHttpsServer(tls, options, gate, emit);
  const port = await listen(server, bind, options.port ?? DEFAULT_PORT);
  const url = `https://${bind.includes(':') ? `[${bind}]` : bind}:${port}`;
  emit({
    event: 'start',
    url,
    fingerprint: tls.fingerprint,
    nodes: options.source.identities().length,
    repo: live.repo?.root,
  });

  const reloader = new Reloader({
    source: options.source,
    live,
    readCredentials: () => readCredentials(options.credentials),
    readRepo,
    emit,
  });
  let closing: Promise<{ drained: boolean }> | undefined;
  return {
    url,
    port,
    fingerprint: tls.fingerprint,
    selfSigned: tls.selfSigned,
    server,
    get connections() {
      return connections.open;
    },
    reload: () => reloader.reload(),
    close: () => {
      closing ??= drain(server, gate, connections, options.drainTimeoutMs ?? 10_000, emit).then(async (drained) => {
        await reloader.dispose();
        emit({ event: 'stop', drained });
        return { drained };
      });
      return closing;
    },
  };
}

/** The HTTPS listener with its limits, every connection tracked from accept to close. */
function createHttpsServer(
  tls: TlsMaterial,
  options: ControllerOptions,
  gate: RequestGate,
  emit: Emit,
): { server: Server; connections: Connections } {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024,
      minVersion: 'TLSv1.2',
      ...serverTimeoutOptions(timeouts),
    },
    gate.listener,
  );
  const connections = new Connections();
  connections.attach(server, emit, timeouts.idleMs);
  return { server, connections };
}

async function readRepoSnapshot(
  dir: string,
  mirror: boolean | undefined,
  secrets: string[],
  emit: Emit,
): Promise<RepoSnapshot> {
  const snapshot = await snapshotRepo(dir, { mirror, secrets });
  if (!snapshot) {
    throw new StrataError(`${dir} is not in a git work tree`, {
      hint: "the controller serves what git tracks (ignored files such as decrypted secrets never); run 'git init' there, or serve none (strata serve --no-repo)",
    });
  }
  if (snapshot.mirrorRefused) {
    emit({
      event: 'warning',
      message: `/repo.git/ is not served: ${snapshot.mirrorRefused}`,
      hint: 'remove it from the history (and rotate it), or start with --no-git; /repo/ still serves the work tree',
    });
  }
  return snapshot;
}

/** Listens and returns the port bound (the one asked for, or the free one picked for 0). */
async function listen(server: Server, bind: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new StrataError(`cannot listen on ${bind}:${port}: ${error.code ?? error.message}`, {
          hint:
            error.code === 'EADDRINUSE'
              ? 'another process uses the port: stop it or pass --port'
              : 'check --bind (an address of this machine) and --port',
        }),
      );
    });
    server.listen(port, bind, () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/**
 * Stops accepting and waits for the requests in flight, up to the deadline. As soon as none is left, every
 * connection still open (idle keep-alive, half-open, mid-handshake) is cut: none of them has anything to finish.
 * Resolves whether everything finished in time.
 */
async function drain(
  server: Server,
  gate: RequestGate,
  connections: Connections,
  timeoutMs: number,
  emit: Emit,
): Promise<boolean> {
  emit({ event: 'drain', inFlight: gate.inFlight });
  gate.stopKeepAlive();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Idle keep-alive connections close now; answers still running tell their clients to close after them.
  server.closeIdleConnections();
  const idle = gate.whenIdle(() => connections.destroyAll());
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([idle.then(() => closed), deadline]);
  clearTimeout(timer);
  const drained = outcome !== 'timeout';
  if (!drained) {
    connections.destroyAll();
    await closed;
  }
  return drained;
}
