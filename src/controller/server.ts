/**
 * The controller daemon: HTTPS (node:https) with hono routing. Limits that must hold before any routing runs
 * (method, canonical path, rate, body size) sit in a plain request listener in front of hono, which also writes the
 * access log, counts in-flight requests for draining, and hands each request the credentials and spec source that
 * were current when it arrived.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { StrataError } from '../errors.ts';
import { globalMasker } from '../util/mask.ts';
import { RateLimiter } from './rate-limit.ts';
import {
  checkRequestPath,
  isDumbHttpPath,
  openInside,
  type RepoSnapshot,
  realPaths,
  removeSnapshot,
  snapshotRepo,
} from './repo.ts';
import { generateSelfSigned, loadTls, type TlsMaterial } from './tls.ts';
import { safeEqual, verifyToken } from './tokens.ts';
import type { Credentials, NodeEntry, SpecSource } from './types.ts';
import { isValidIdentity } from './types.ts';

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
  /** How long close() waits for in-flight requests before cutting connections (default 10 s). */
  drainTimeoutMs?: number;
  /** Receives each log line (JSON, masked); default: standard error. */
  log?: (line: string) => void;
}

export interface ReloadResult {
  ok: boolean;
  nodes: number;
  errors: string[];
  ms: number;
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
}

type AuthKind = 'none' | 'site' | 'node' | 'repo' | 'invalid';

/** What the access log records about one request; filled in as the request is handled. */
interface RequestInfo {
  auth: AuthKind;
  node?: string;
  reason?: string;
  /** The presented bearer token, masked out of the logged path (it must never reach the log). */
  token?: string;
}

type Credential =
  | { kind: 'none' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'site' }
  | { kind: 'repo' }
  | { kind: 'node'; identity: string };

const JSON_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export async function startController(options: ControllerOptions): Promise<Controller> {
  const bind = options.bind ?? DEFAULT_BIND;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (record: Record<string, unknown>, token?: string) => {
    let line = JSON.stringify({ time: new Date().toISOString(), ...record });
    if (token && token.length >= 4) line = line.split(token).join('***');
    log(globalMasker.mask(line));
  };
  const tls: TlsMaterial = options.tls
    ? await loadTls(options.tls.certFile, options.tls.keyFile)
    : await generateSelfSigned(bind);
  const readCredentials = async (): Promise<Credentials> => {
    const value = typeof options.credentials === 'function' ? await options.credentials() : options.credentials;
    const credentials = value ?? {};
    // Registered with the masker so no log line or error message can ever print them.
    globalMasker.add(credentials.siteToken);
    globalMasker.add(credentials.repoToken);
    globalMasker.add(credentials.signingKey?.toString('hex'));
    return credentials;
  };
  let credentials = await readCredentials();
  const denyFiles = await realPaths([options.tls?.keyFile, ...(options.protectFiles ?? [])]);
  const readRepo = async (dir: string): Promise<RepoSnapshot> => {
    const snapshot = await snapshotRepo(dir, { mirror: options.gitMirror });
    if (!snapshot) {
      throw new StrataError(`${dir} is not in a git work tree`, {
        hint: "the controller serves what git tracks (ignored files such as decrypted secrets never); run 'git init' there, or serve none (strata serve --no-repo)",
      });
    }
    return snapshot;
  };
  let repo: RepoSnapshot | undefined = options.repo ? await readRepo(options.repo) : undefined;
  const source = options.source;
  const limiter = new RateLimiter(options.rateLimit ?? { perSecond: 50, burst: 100 });
  const maxBody = options.maxBodyBytes ?? 16 * 1024;
  const info = new WeakMap<IncomingMessage, RequestInfo>();

  // ---- credentials -------------------------------------------------------------------------------------------

  /** Classifies the bearer token. Every check runs in constant time against the configured secrets. */
  const identify = (header: string | undefined, current: Credentials): Credential => {
    if (header === undefined) return { kind: 'none' };
    const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    if (!match) return { kind: 'invalid', reason: 'malformed authorization header' };
    const token = match[1];
    const site = current.siteToken !== undefined && safeEqual(token, current.siteToken);
    const repoToken = current.repoToken !== undefined && safeEqual(token, current.repoToken);
    if (site) return { kind: 'site' };
    if (repoToken) return { kind: 'repo' };
    if (!current.signingKey) return { kind: 'invalid', reason: 'unknown token' };
    const check = verifyToken(current.signingKey, token);
    if (!check.ok) return { kind: 'invalid', reason: `node token ${check.reason}` };
    return { kind: 'node', identity: check.claims.n };
  };

  const record = (c: { env: HttpBindings }, credential: Credential, token: string | undefined) => {
    const entry = info.get(c.env.incoming);
    if (!entry) return;
    entry.auth = credential.kind;
    entry.token = token;
    if (credential.kind === 'node') entry.node = credential.identity;
    if (credential.kind === 'invalid') entry.reason = credential.reason;
  };

  const bearer = (incoming: IncomingMessage): string | undefined => {
    const header = incoming.headers.authorization;
    return header === undefined ? undefined : /^Bearer +(\S+)/i.exec(header)?.[1];
  };

  // ---- responses ---------------------------------------------------------------------------------------------

  // Every refusal has one fixed body per status: what is refused never depends on whether a node exists.
  const unauthorized = (credential: Credential) =>
    new Response('{"error":"unauthorized"}\n', {
      status: 401,
      headers: {
        ...JSON_HEADERS,
        'www-authenticate':
          credential.kind === 'invalid' ? 'Bearer realm="strata", error="invalid_token"' : 'Bearer realm="strata"',
      },
    });
  const refusal = (status: 400 | 403 | 404, c: { env: HttpBindings }, reason: string) => {
    const entry = info.get(c.env.incoming);
    if (entry) entry.reason ??= reason;
    const text = status === 400 ? 'bad request' : status === 403 ? 'forbidden' : 'not found';
    return new Response(`{"error":"${text}"}\n`, { status, headers: JSON_HEADERS });
  };
  const json = (data: unknown) => new Response(`${JSON.stringify(data)}\n`, { status: 200, headers: JSON_HEADERS });

  /** May this credential read this node? Missing nodes are decided by the caller, after this. */
  const allowed = (credential: Credential, node: NodeEntry): boolean => {
    if (credential.kind === 'invalid' || credential.kind === 'repo') return false;
    if (node.auth === 'network') return true;
    if (credential.kind === 'node') return credential.identity === node.identity;
    if (credential.kind === 'site') return node.auth !== 'node_token';
    return false;
  };

  // ---- routes ------------------------------------------------------------------------------------------------

  const app = new Hono<{ Bindings: HttpBindings }>();

  app.get('/health', () => json({ status: 'ok' }));

  // Lists only the nodes the caller could read: an anonymous caller learns nothing beyond network-posture nodes.
  app.get('/specs', (c) => {
    const current = credentials;
    const credential = identify(c.env.incoming.headers.authorization, current);
    record(c, credential, bearer(c.env.incoming));
    if (credential.kind === 'invalid' || credential.kind === 'repo') return unauthorized(credential);
    const visible: string[] = [];
    for (const identity of source.identities()) {
      const node = source.node(identity);
      if (node && allowed(credential, node)) visible.push(identity);
    }
    return json({ specs: visible });
  });

  app.get('/spec/:identity', (c) => {
    const current = credentials;
    const identity = c.req.param('identity');
    const credential = identify(c.env.incoming.headers.authorization, current);
    record(c, credential, bearer(c.env.incoming));
    // One lookup per request: a reload swapping the snapshot cannot change the answer halfway.
    const node = isValidIdentity(identity) ? source.node(identity) : undefined;
    switch (credential.kind) {
      case 'invalid':
      case 'repo':
        return unauthorized(credential);
      case 'none':
        return node && allowed(credential, node) ? json(node.spec) : unauthorized(credential);
      case 'node':
        if (node && allowed(credential, node)) return json(node.spec);
        if (credential.identity !== identity) return refusal(403, c, 'token is for another node');
        return node ? json(node.spec) : refusal(404, c, 'no such node');
      case 'site':
        if (!node) return refusal(404, c, 'no such node');
        return allowed(credential, node) ? json(node.spec) : refusal(403, c, 'node requires a node token');
    }
  });

  const serveFile = async (
    c: { env: HttpBindings; req: { method: string } },
    prefix: string,
    resolve: (snapshot: RepoSnapshot, path: string) => { root: string; path: string } | undefined,
  ) => {
    const credential = identify(c.env.incoming.headers.authorization, credentials);
    record(c, credential, bearer(c.env.incoming));
    // Any valid bearer token reads the repository; nothing is readable without one, whatever the posture.
    if (credential.kind === 'none' || credential.kind === 'invalid') return unauthorized(credential);
    const snapshot = repo;
    if (!snapshot) return refusal(404, c, 'no repository served');
    const raw = (c.env.incoming.url ?? '').split('?')[0].slice(prefix.length);
    const checked = checkRequestPath(raw);
    if (!checked.ok) return refusal(400, c, `path refused: ${checked.reason}`);
    const target = resolve(snapshot, checked.path);
    if (!target) return refusal(404, c, 'not servable');
    const file = await openInside(target.root, target.path, denyFiles);
    if (!file) return refusal(404, c, 'missing or outside the repository');
    const headers = {
      'content-type': file.contentType,
      'content-length': String(file.size),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    };
    if (c.req.method === 'HEAD') {
      await file.close();
      return new Response(null, { status: 200, headers });
    }
    return new Response(file.stream(), { status: 200, headers });
  };

  app.get('/repo/*', (c) =>
    serveFile(c, '/repo/', (snapshot, path) =>
      snapshot.allowed.has(path) ? { root: snapshot.root, path } : undefined,
    ),
  );
  app.get('/repo.git/*', (c) =>
    serveFile(c, '/repo.git/', (snapshot, path) =>
      snapshot.mirror && isDumbHttpPath(path) ? { root: snapshot.mirror, path } : undefined,
    ),
  );

  app.notFound((c) => refusal(404, c as unknown as { env: HttpBindings }, 'no such endpoint'));
  app.onError((error, c) => {
    const entry = info.get((c.env as HttpBindings).incoming);
    if (entry) entry.reason = `internal error: ${error.message}`;
    return new Response('{"error":"internal error"}\n', { status: 500, headers: JSON_HEADERS });
  });

  const honoListener = getRequestListener(app.fetch);

  // ---- the listener in front of hono -------------------------------------------------------------------------

  let draining = false;
  const inFlight = new Set<ServerResponse>();
  let onIdle: (() => void) | undefined;

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    const text = `${body}\n`;
    res.writeHead(status, { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const ip = req.socket.remoteAddress ?? 'unknown';
    const entry: RequestInfo = { auth: 'none' };
    info.set(req, entry);
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      const path = (req.url ?? '').split('?')[0];
      emit(
        {
          event: 'request',
          ip,
          method: req.method,
          path: path.length > 200 ? `${path.slice(0, 200)}...` : path,
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          auth: entry.auth,
          ...(entry.node ? { node: entry.node } : {}),
          ...(entry.reason ? { reason: entry.reason } : {}),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        entry.token,
      );
      if (inFlight.size === 0) onIdle?.();
    });
    if (draining) res.setHeader('connection', 'close');

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      entry.reason = 'method not allowed';
      return send(res, 405, '{"error":"method not allowed"}', { allow: 'GET, HEAD' });
    }
    const wait = limiter.take(ip);
    if (wait > 0) {
      entry.reason = 'rate limited';
      return send(res, 429, '{"error":"too many requests"}', { 'retry-after': String(Math.ceil(wait)) });
    }
    const target = req.url ?? '';
    if (!target.startsWith('/') || !isCanonicalPath(target.split('?')[0])) {
      entry.reason = 'non-canonical request path';
      return send(res, 400, '{"error":"bad request"}');
    }
    const tooLarge = () => {
      entry.reason = 'body too large';
      // The rest of the body is not read: the connection closes after the answer.
      send(res, 413, '{"error":"payload too large"}', { connection: 'close' });
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBody) return tooLarge();
    if (declared === undefined && req.headers['transfer-encoding'] === undefined) {
      void honoListener(req, res);
      return;
    }
    // A body nobody asked for: count it (chunked bodies declare no length), then route.
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        req.off('data', onData);
        req.pause();
        tooLarge();
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (size <= maxBody) void honoListener(req, res);
    });
  };

  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024,
      minVersion: 'TLSv1.2',
    },
    listener,
  );
  // Slow clients cannot hold connections open forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    emit({ event: 'request', ip: socket.remoteAddress, status, reason: `client error ${error.code ?? ''}`.trim() });
    if (socket.writable) {
      const text =
        status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  server.on('tlsClientError', () => {
    // Scanners and clients that refuse the self-signed certificate: nothing to answer, nothing worth logging.
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new StrataError(`cannot listen on ${bind}:${options.port ?? DEFAULT_PORT}: ${error.code ?? error.message}`, {
          hint:
            error.code === 'EADDRINUSE'
              ? 'another process uses the port: stop it or pass --port'
              : 'check --bind (an address of this machine) and --port',
        }),
      );
    });
    server.listen(options.port ?? DEFAULT_PORT, bind, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? DEFAULT_PORT);
  const host = bind.includes(':') ? `[${bind}]` : bind;
  const url = `https://${host}:${port}`;
  emit({ event: 'start', url, fingerprint: tls.fingerprint, nodes: source.identities().length, repo: repo?.root });

  // Reloads run one at a time; a reload requested while one runs waits for it and then reads the newest state.
  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, nodes: 0, errors: [], ms: 0 });
  let queued: Promise<ReloadResult> | undefined;
  const retired = new Set<RepoSnapshot>();
  const reloadOnce = async (): Promise<ReloadResult> => {
    const started = performance.now();
    const errors: string[] = [];
    const attempt = async (what: string, step: () => Promise<void>) => {
      try {
        await step();
      } catch (error) {
        errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await attempt('specs', () => source.reload());
    await attempt('credentials', async () => {
      credentials = await readCredentials();
    });
    if (options.repo) {
      const repoDir = options.repo;
      await attempt('repository', async () => {
        const next = await readRepo(repoDir);
        const previous = repo;
        repo = next;
        // Clones reading the old mirror keep it for a minute; it is removed at the latest on close.
        if (previous) {
          retired.add(previous);
          setTimeout(() => {
            retired.delete(previous);
            void removeSnapshot(previous);
          }, 60_000).unref();
        }
      });
    }
    const result = {
      ok: errors.length === 0,
      nodes: source.identities().length,
      errors,
      ms: Math.round(performance.now() - started),
    };
    emit({ event: 'reload', ...result });
    return result;
  };

  let closing: Promise<{ drained: boolean }> | undefined;
  const close = (): Promise<{ drained: boolean }> => {
    closing ??= (async () => {
      draining = true;
      emit({ event: 'drain', inFlight: inFlight.size });
      // Answers not yet started tell their clients not to reuse the connection.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Keep-alive connections become idle when their last response ends: close them as soon as they do.
      const idle = new Promise<void>((resolve) => {
        onIdle = () => {
          server.closeIdleConnections();
          resolve();
        };
        if (inFlight.size === 0) onIdle();
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), options.drainTimeoutMs ?? 10_000);
      });
      const outcome = await Promise.race([idle.then(() => closed), deadline]);
      clearTimeout(timer);
      const drained = outcome !== 'timeout';
      if (!drained) server.closeAllConnections();
      await reloading.catch(() => undefined);
      await removeSnapshot(repo);
      for (const old of retired) await removeSnapshot(old);
      emit({ event: 'stop', drained });
      return { drained };
    })();
    return closing;
  };

  return {
    url,
    port,
    fingerprint: tls.fingerprint,
    selfSigned: tls.selfSigned,
    server,
    reload: () => {
      // Signals can come faster than reloads finish: all requests made while one waits share that one.
      if (queued) return queued;
      const next = reloading
        .catch(() => undefined)
        .then(() => {
          queued = undefined;
          return reloadOnce();
        });
      queued = next;
      reloading = next;
      return next;
    },
    close,
  };
}

/**
 * The raw path as the client sent it must already be canonical: no dot or empty segments (also percent-encoded),
 * no backslashes, no encoded slashes, no control characters. URL parsers would silently normalise these, and the
 * route a request reaches must be the one it asked for.
 */
function isCanonicalPath(path: string): boolean {
  if (path === '/') return true;
  const check = checkRequestPath(path.slice(1));
  if (!check.ok) return false;
  return !/%2f/i.test(path);
}
