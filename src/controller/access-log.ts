/**
 * The daemon's log: one JSON line per event (start, request, reload, drain, stop), masked, written through the
 * logger the embedding program hands in. A request's line is filled in while it is handled (who asked, why it was
 * refused) and written when its response closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { globalMasker } from '../util/mask.ts';
import type { Credential } from './auth.ts';

/** Receives each log line (JSON, masked, no trailing newline). */
export type LogSink = (line: string) => void;

/** Writes one event; `token` (the presented bearer token) is masked out of the line before anything else. */
export type Emit = (record: Record<string, unknown>, token?: string) => void;

export function createEmitter(log: LogSink): Emit {
  return (record, token) => {
    let line = JSON.stringify({ time: new Date().toISOString(), ...record });
    if (token && token.length >= 4) line = line.split(token).join('***');
    log(globalMasker.mask(line));
  };
}

/** What the access log records about one request. */
interface RequestInfo {
  auth: Credential['kind'];
  node?: string;
  reason?: string;
  /** The presented bearer token, masked out of the logged path (it must never reach the log). */
  token?: string;
}

export class AccessLog {
  readonly #info = new WeakMap<IncomingMessage, RequestInfo>();

  constructor(readonly emit: Emit) {}

  /** Starts the record of a request; its line is written when the response closes (`done` runs after). */
  begin(req: IncomingMessage, res: ServerResponse, done: () => void): void {
    const started = performance.now();
    const ip = req.socket.remoteAddress ?? 'unknown';
    const entry: RequestInfo = { auth: 'none' };
    this.#info.set(req, entry);
    res.once('close', () => {
      const path = (req.url ?? '').split('?')[0];
      this.emit(
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
      done();
    });
  }

  /** Records who the request identified as. */
  credential(req: IncomingMessage, credential: Credential, token: string | undefined): void {
    const entry = this.#info.get(req);
    if (!entry) return;
    entry.auth = credential.kind;
    entry.token = token;
    if (credential.kind === 'node') entry.node = credential.identity;
    if (credential.kind === 'invalid') entry.reason = credential.reason;
  }

  /** Records why the request was refused; the first reason given wins unless `override`. */
  reason(req: IncomingMessage, reason: string, override = false): void {
    const entry = this.#info.get(req);
    if (!entry) return;
    if (override) entry.reason = reason;
    else entry.reason ??= reason;
  }
}
