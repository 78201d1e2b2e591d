/**
 * The plain request listener in front of the routes: limits that must hold before any routing runs (method,
 * rate, canonical path, body size), the access log, and the count of requests in flight that draining waits for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLog } from './access-log.ts';
import type { RateLimiter } from './rate-limit.ts';
import { checkRequestPath } from './repo.ts';
import { sendRaw } from './responses.ts';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export interface GateOptions {
  access: AccessLog;
  limiter: RateLimiter;
  /** Request bodies above this size are refused with 413. */
  maxBody: number;
  /** Where admitted requests go (the routes). */
  forward: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

export class RequestGate {
  readonly #options: GateOptions;
  readonly #inFlight = new Set<ServerResponse>();
  #draining = false;
  #onIdle?: () => void;

  constructor(options: GateOptions) {
    this.#options = options;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  readonly listener: Listener = (req, res) => {
    const { access, limiter } = this.#options;
    this.#inFlight.add(res);
    access.begin(req, res, () => {
      this.#inFlight.delete(res);
      if (this.#inFlight.size === 0) this.#onIdle?.();
    });
    if (this.#draining) res.setHeader('connection', 'close');

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      access.reason(req, 'method not allowed');
      return sendRaw(res, 405, '{"error":"method not allowed"}', { allow: 'GET, HEAD' });
    }
    const wait = limiter.take(req.socket.remoteAddress ?? 'unknown');
    if (wait > 0) {
      access.reason(req, 'rate limited');
      return sendRaw(res, 429, '{"error":"too many requests"}', { 'retry-after': String(Math.ceil(wait)) });
    }
    const target = req.url ?? '';
    if (!target.startsWith('/') || !isCanonicalPath(target.split('?')[0])) {
      access.reason(req, 'non-canonical request path');
      return sendRaw(res, 400, '{"error":"bad request"}');
    }
    this.#admitBody(req, res);
  };

  /** From now on, every answer tells its client not to reuse the connection. */
  stopKeepAlive(): void {
    this.#draining = true;
    // Answers not yet started tell their clients too.
    for (const res of this.#inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /**
   * Resolves once nothing is in flight; `onEachIdle` runs then and every later time the last request ends
   * (keep-alive connections become idle then).
   */
  whenIdle(onEachIdle: () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#onIdle = () => {
        onEachIdle();
        resolve();
      };
      if (this.#inFlight.size === 0) this.#onIdle();
    });
  }

  /** Routes the request once its body (nobody asked for one) is known to be small enough. */
  #admitBody(req: IncomingMessage, res: ServerResponse): void {
    const { access, maxBody, forward } = this.#options;
    const tooLarge = () => {
      access.reason(req, 'body too large');
      // The rest of the body is not read: the connection closes after the answer.
      sendRaw(res, 413, '{"error":"payload too large"}', { connection: 'close' });
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBody) {
      tooLarge();
      return;
    }
    if (declared === undefined && req.headers['transfer-encoding'] === undefined) {
      void forward(req, res);
      return;
    }
    // Count it (chunked bodies declare no length), then route.
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
      if (size <= maxBody) void forward(req, res);
    });
  }
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
