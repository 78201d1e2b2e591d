/**
 * Every TCP connection of the daemon, from accept to close, so none outlives its purpose:
 * - a TLS handshake that fails or never finishes is destroyed (writing an HTTP answer to a socket that never
 *   finished TLS cannot flush, and `end()` would leave it open for good);
 * - an HTTP client too slow with its headers or request gets its 408 and is destroyed shortly after, whether or not
 *   it ever reads the answer;
 * - a connection without traffic either way for the idle timeout is cut;
 * - draining cuts whatever is left as soon as no request is in flight.
 */
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Emit } from './access-log.ts';

export interface ConnectionTimeouts {
  /** A TLS handshake must complete within this (default 10 s). */
  handshakeMs: number;
  /** The request headers must arrive within this (default 10 s). */
  headersMs: number;
  /** The whole request must arrive within this (default 30 s). */
  requestMs: number;
  /** An idle keep-alive connection is closed after this (default 5 s). */
  keepAliveMs: number;
  /** A connection with no traffic either way for this long is cut (default 120 s). */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: ConnectionTimeouts = {
  handshakeMs: 10_000,
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  idleMs: 120_000,
};

/** How long a refused client gets to read its error answer before the socket is destroyed. */
const LINGER_MS = 1_000;

/** The server options that make node enforce the timeouts (checked at most 1 s late). */
export function serverTimeoutOptions(timeouts: ConnectionTimeouts): {
  handshakeTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    handshakeTimeout: timeouts.handshakeMs,
    headersTimeout: timeouts.headersMs,
    // node requires the request timeout to be at least the headers timeout.
    requestTimeout: Math.max(timeouts.requestMs, timeouts.headersMs),
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(timeouts.headersMs / 2))),
  };
}

export class Connections {
  /** Raw TCP sockets, from accept to close: destroying one frees its descriptor whatever TLS state it is in. */
  readonly #sockets = new Set<Socket>();
  /** TLS sockets whose handshake completed: only these can carry an HTTP answer. */
  readonly #secured = new WeakSet<Socket>();

  get open(): number {
    return this.#sockets.size;
  }

  /** Tracks the server's connections and answers client errors (logged through `emit`). */
  attach(server: Server, emit: Emit, idleMs: number): void {
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('secureConnection', (socket: Socket) => this.#secured.add(socket));
    // Without a 'timeout' listener node destroys the socket: what an idle connection deserves.
    server.setTimeout(idleMs);
    // https forwards every TLS handshake error (and handshake timeout) here too.
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      if (!this.#secured.has(socket)) {
        // A scanner, a client refusing the certificate, or a connection that never sent a ClientHello.
        socket.destroy();
        return;
      }
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      emit({ event: 'request', ip: socket.remoteAddress, status, reason: `client error ${error.code ?? ''}`.trim() });
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const text =
        status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      // A client that never reads the answer nor closes must not keep the socket.
      const linger = setTimeout(() => socket.destroy(), LINGER_MS);
      linger.unref();
      socket.once('close', () => clearTimeout(linger));
    });
  }

  /** Cuts every connection at once (draining calls it once nothing is in flight, or at its deadline). */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }
}
