/**
 * HTTP to one Proxmox VE host: token authentication, per-host TLS trust, a bounded timeout per call, and retries
 * for idempotent GETs only (connection errors, timeouts, 5xx), never POST/PUT/DELETE: a clone whose response was
 * lost may have happened, and repeating it would create a second VM or fail on a taken VMID.
 */
import type { Agent } from 'undici';

// undici loads on the first request: commands that only read a manifest (plan, validate) never pay for it.
type Undici = typeof import('undici');

import { StrataError } from '../errors.ts';
import { sleep } from '../util/fs.ts';
import { globalMasker } from '../util/mask.ts';
import { connectionHint, PveApiError, PveConnectionError, pveErrorMessage, statusHint } from './errors.ts';
import type { PveEndpoint } from './types.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type Params = Record<string, string | number | boolean | undefined>;

const TOKEN_ID_RE = /^[^@\s!]+@[^@\s!]+![A-Za-z][A-Za-z0-9._-]*$/;
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'TIMEOUT',
]);

/**
 * PVE answers every application error with HTTP 500, so a 500 alone does not mean "try again". These messages are
 * definite answers (missing VM, stopped VM, absent agent, unknown node): retrying them only delays the caller.
 */
const PERMANENT_500 =
  /does not exist|not running|No QEMU guest agent configured|hostname lookup|no such |already exists|is locked/i;

const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 5000;

function normaliseFingerprint(fp: string): string {
  return fp.replace(/[:\s]/g, '').toUpperCase();
}

/** An undici Agent per host, so TLS trust never touches process-wide settings (NODE_TLS_REJECT_UNAUTHORIZED). */
function buildAgent(undici: Undici, endpoint: PveEndpoint): Agent {
  const { Agent } = undici;
  if (endpoint.fingerprint) return pinnedAgent(undici, normaliseFingerprint(endpoint.fingerprint));
  if (endpoint.ca) return new Agent({ connect: { ca: endpoint.ca } });
  if (endpoint.insecure) return new Agent({ connect: { rejectUnauthorized: false } });
  return new Agent();
}

function checkFingerprint(endpoint: PveEndpoint): void {
  if (endpoint.fingerprint && !/^[0-9A-F]{64}$/.test(normaliseFingerprint(endpoint.fingerprint))) {
    throw new StrataError(`Invalid TLS fingerprint for ${endpoint.url}: expected a SHA-256 (32 bytes, AB:CD:…)`);
  }
}

function pinnedAgent({ Agent, buildConnector }: Undici, want: string): Agent {
  // Node verifies the chain before checkServerIdentity runs, so a self-signed certificate can only be pinned by
  // accepting any chain and comparing the peer certificate's digest ourselves, right after the handshake.
  // No TLS session cache: a resumed session carries no peer certificate, so the pin could not be checked.
  const base = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  return new Agent({
    connect(opts, callback) {
      base(opts, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('TLS connection failed'), null);
        const tls = socket as unknown as { getPeerCertificate?: () => { fingerprint256?: string } };
        const got = normaliseFingerprint(tls.getPeerCertificate?.().fingerprint256 ?? '');
        if (got !== want) {
          socket.destroy();
          const error = new Error(`TLS fingerprint mismatch: server presented ${got || 'no certificate'}`);
          (error as NodeJS.ErrnoException).code = 'ERR_TLS_FINGERPRINT_MISMATCH';
          return callback(error, null);
        }
        callback(null, socket);
      });
    },
  });
}

/** PVE takes application/x-www-form-urlencoded bodies; booleans are 0/1 and undefined values are left out. */
function formEncode(params: Params): string {
  // encodeURIComponent rather than URLSearchParams: it writes spaces as %20, never '+', which every decoder reads alike.
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'boolean' ? (v ? '1' : '0') : String(v))}`,
    )
    .join('&');
}

function errorCode(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'TIMEOUT';
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return 'UNKNOWN';
}

function errorReason(error: unknown): string {
  let current: unknown = error;
  let message = String(error);
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    message = current.message;
    current = current.cause;
  }
  return message;
}

function retryable(error: unknown): boolean {
  if (error instanceof PveApiError) {
    return error.status >= 500 && error.status !== 501 && !PERMANENT_500.test(error.pveMessage);
  }
  return error instanceof PveConnectionError && RETRYABLE_CODES.has(error.code);
}

type Body = { data?: unknown; errors?: Record<string, string> | string; message?: string };

export class PveTransport {
  readonly endpoint: PveEndpoint;
  readonly #base: string;
  readonly #auth: string;
  #agent: Promise<Agent> | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryBaseMs: number;

  constructor(endpoint: PveEndpoint) {
    if (!TOKEN_ID_RE.test(endpoint.tokenId)) {
      throw new StrataError(`Invalid Proxmox API token id ${JSON.stringify(endpoint.tokenId)}`, {
        hint: 'Token ids look like user@realm!name, e.g. strata@pve!ci',
      });
    }
    let url: URL;
    try {
      url = new URL(endpoint.url);
    } catch {
      throw new StrataError(`Invalid Proxmox API URL ${JSON.stringify(endpoint.url)}`, {
        hint: 'Use https://<host>:8006',
      });
    }
    globalMasker.add(endpoint.tokenSecret);
    this.endpoint = endpoint;
    this.#base = `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/api2\/json$/, '')}/api2/json`;
    this.#auth = `PVEAPIToken=${endpoint.tokenId}=${endpoint.tokenSecret}`;
    checkFingerprint(endpoint);
    this.#timeoutMs = endpoint.timeoutMs ?? 30_000;
    this.#retries = endpoint.retries ?? 3;
    this.#retryBaseMs = endpoint.retryBaseMs ?? BACKOFF_BASE_MS;
  }

  async close(): Promise<void> {
    if (this.#agent) await (await this.#agent).close();
  }

  #dispatcher(): Promise<Agent> {
    this.#agent ??= import('undici').then((undici) => buildAgent(undici, this.endpoint));
    return this.#agent;
  }

  /** One API call; GETs are retried with exponential backoff while the failure is worth retrying. */
  async request<T>(method: HttpMethod, path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
    const attempts = method === 'GET' ? this.#retries + 1 : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(Math.min(this.#retryBaseMs * 2 ** (attempt - 1), BACKOFF_MAX_MS), signal);
      try {
        return await this.#once<T>(method, path, params, signal);
      } catch (error) {
        lastError = error;
        if (!retryable(error) || signal?.aborted) throw error;
      }
    }
    throw lastError;
  }

  async #once<T>(method: HttpMethod, path: string, params: Params, signal?: AbortSignal): Promise<T> {
    const inBody = method === 'POST' || method === 'PUT';
    const encoded = formEncode(params);
    const url = `${this.#base}${path}${!inBody && encoded ? `?${encoded}` : ''}`;
    const [{ fetch }, dispatcher] = await Promise.all([import('undici'), this.#dispatcher()]);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const headers: Record<string, string> = { Authorization: this.#auth, Accept: 'application/json' };
    if (inBody) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    let status: number;
    let statusText: string;
    let text: string;
    try {
      const response = await fetch(url, {
        method,
        headers,
        body: inBody ? encoded : undefined,
        dispatcher,
        signal: combined,
      });
      status = response.status;
      statusText = response.statusText;
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const code = timeout.aborted ? 'TIMEOUT' : errorCode(error);
      const reason = code === 'TIMEOUT' ? `no answer within ${this.#timeoutMs} ms` : errorReason(error);
      throw new PveConnectionError(method, path, code, globalMasker.mask(reason), connectionHint(code, this.endpoint));
    }
    let body: Body | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (status >= 400 || body === undefined) {
      const message = pveErrorMessage(status, statusText, body, text);
      throw new PveApiError(method, path, status, globalMasker.mask(message), statusHint(status));
    }
    return body.data as T;
  }
}
