/**
 * A typed client for the Proxmox VE JSON API (`/api2/json`), authenticated with an API token.
 *
 * Each client owns an undici Agent, so TLS trust (fingerprint pin, private CA, or insecure) is per host and never
 * touches process-wide settings such as NODE_TLS_REJECT_UNAUTHORIZED. Every call has a bounded timeout; only
 * idempotent GETs are retried (connection errors, timeouts, 5xx), never POST/PUT/DELETE: a clone whose response was
 * lost may have happened, and repeating it would create a second VM or fail on a taken VMID.
 */
import { Agent, buildConnector, fetch } from 'undici';
import { StrataError } from '../errors.ts';
import { sleep } from '../util/fs.ts';
import { globalMasker } from '../util/mask.ts';

export interface PveEndpoint {
  /** Base URL such as `https://pve.lan:8006` (a trailing `/api2/json` is accepted). */
  url: string;
  /** `user@realm!tokenname` */
  tokenId: string;
  tokenSecret: string;
  /** SHA-256 certificate fingerprint as PVE shows it (`AB:CD:…`); colons and case are ignored. */
  fingerprint?: string;
  /** PEM of the CA that signed the node certificate (e.g. `/etc/pve/pve-root-ca.pem`). */
  ca?: string;
  /** Accept any certificate. Only for throw-away labs. */
  insecure?: boolean;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Retries for idempotent GETs; default 3. */
  retries?: number;
}

export interface PveTask {
  upid: string;
  node: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  type: string;
  id?: string;
}

export interface PveVmSummary {
  vmid: number;
  name: string;
  node: string;
  status: string;
  template: boolean;
  tags: string[];
  type: 'qemu' | 'lxc';
}

export interface PveNodeStatus {
  cpuinfo: { cpus: number; model: string; sockets?: number; cores?: number; flags: string[] };
  memory?: { total: number; used: number; free: number };
  pveversion?: string;
  kversion?: string;
  uptime?: number;
}

export interface PveAgentInterface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: Array<{ 'ip-address': string; 'ip-address-type': string; prefix: number }>;
}

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Params = Record<string, string | number | boolean | undefined>;

/** The API answered with an HTTP error. */
export class PveApiError extends StrataError {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly pveMessage: string;

  constructor(method: string, path: string, status: number, pveMessage: string, hint?: string) {
    super(`Proxmox API ${method} ${path} failed: HTTP ${status} ${pveMessage}`, { hint });
    this.name = 'PveApiError';
    this.method = method;
    this.path = path;
    this.status = status;
    this.pveMessage = pveMessage;
  }
}

/** The API could not be reached (DNS, refused, reset, TLS, or the per-request timeout). */
export class PveConnectionError extends StrataError {
  readonly method: string;
  readonly path: string;
  readonly code: string;

  constructor(method: string, path: string, code: string, reason: string, hint?: string) {
    super(`Proxmox API ${method} ${path} failed: ${reason}`, { hint });
    this.name = 'PveConnectionError';
    this.method = method;
    this.path = path;
    this.code = code;
  }
}

/** A task ended with an exit status other than OK (or warnings). */
export class PveTaskError extends StrataError {
  readonly upid: string;
  readonly exitstatus: string;
  readonly logTail: string[];

  constructor(upid: string, exitstatus: string, logTail: string[]) {
    const task = safeParseUpid(upid);
    const what = task ? `${task.type}${task.id ? ` ${task.id}` : ''} on ${task.node}` : upid;
    super(`Proxmox task ${what} failed: ${exitstatus}`, {
      details: logTail.length > 0 ? `Task log (last ${logTail.length} lines):\n${logTail.join('\n')}` : undefined,
      hint: `See the full log with: pvenode task log ${upid}`,
    });
    this.name = 'PveTaskError';
    this.upid = upid;
    this.exitstatus = exitstatus;
    this.logTail = logTail;
  }
}

/** waitForTask gave up before the task stopped (the task itself keeps running on the node). */
export class PveTimeoutError extends StrataError {
  readonly upid: string;
  constructor(upid: string, timeoutMs: number) {
    super(`Proxmox task ${upid} still running after ${Math.round(timeoutMs / 1000)} s`, {
      hint: 'Raise the timeout, or check the task on the node (it was not cancelled).',
    });
    this.name = 'PveTimeoutError';
    this.upid = upid;
  }
}

export interface ParsedUpid {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

// PVE's own pattern: UPID:node:pid(8 hex):pstart(8+ hex):starttime(8 hex):type:id:user:
const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function parseUpid(upid: string): ParsedUpid {
  const m = UPID_RE.exec(upid);
  if (!m) {
    throw new StrataError(`Not a Proxmox task id (UPID): ${JSON.stringify(upid)}`, {
      hint: 'A UPID looks like UPID:pve:0000A1B2:0012C3D4:65A1B2C3:qmclone:100:root@pam:',
    });
  }
  return {
    node: m[1],
    pid: Number.parseInt(m[3], 16),
    pstart: Number.parseInt(m[4], 16),
    starttime: Number.parseInt(m[5], 16),
    type: m[6],
    id: m[7],
    user: m[8],
  };
}

/** Inverse of parseUpid, with PVE's zero-padded upper-case hex fields. */
export function formatUpid(upid: ParsedUpid): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `UPID:${upid.node}:${hex(upid.pid)}:${hex(upid.pstart)}:${hex(upid.starttime)}:${upid.type}:${upid.id}:${upid.user}:`;
}

function safeParseUpid(upid: string): ParsedUpid | undefined {
  try {
    return parseUpid(upid);
  } catch {
    return undefined;
  }
}

/** Which hardware virtualisation flag the CPU exposes (`vmx` Intel VT-x, `svm` AMD-V), if any. */
export function virtualizationFlag(flags: string[]): 'vmx' | 'svm' | undefined {
  if (flags.includes('vmx')) return 'vmx';
  if (flags.includes('svm')) return 'svm';
  return undefined;
}

/**
 * `sshkeys` is declared with format "urlencoded" by qemu-server: PVE stores it escaped in the line-based VM config
 * and rejects values that are not already URL-encoded ("invalid urlencoded string"). So the keys are escaped once
 * for PVE, and the form body escapes that text again: encoded twice on the wire.
 */
export function encodeSshKeys(keys: string): string {
  return encodeURIComponent(keys);
}

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

function normaliseFingerprint(fp: string): string {
  return fp.replace(/[:\s]/g, '').toUpperCase();
}

function buildAgent(endpoint: PveEndpoint): Agent {
  if (endpoint.fingerprint) {
    const want = normaliseFingerprint(endpoint.fingerprint);
    if (!/^[0-9A-F]{64}$/.test(want)) {
      throw new StrataError(`Invalid TLS fingerprint for ${endpoint.url}: expected a SHA-256 (32 bytes, AB:CD:…)`);
    }
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
  if (endpoint.ca) return new Agent({ connect: { ca: endpoint.ca } });
  if (endpoint.insecure) return new Agent({ connect: { rejectUnauthorized: false } });
  return new Agent();
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

/**
 * PVE answers every application error with HTTP 500, so a 500 alone does not mean "try again". These messages are
 * definite answers (missing VM, stopped VM, absent agent, unknown node): retrying them only delays the caller.
 */
const PERMANENT_500 =
  /does not exist|not running|No QEMU guest agent configured|hostname lookup|no such |already exists|is locked/i;

const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 5000;

export class PveClient {
  readonly endpoint: PveEndpoint;
  readonly #base: string;
  readonly #auth: string;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #retries: number;

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
    this.#agent = buildAgent(endpoint);
    this.#timeoutMs = endpoint.timeoutMs ?? 30_000;
    this.#retries = endpoint.retries ?? 3;
  }

  /** Closes pooled connections; the client cannot be used afterwards. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #request<T>(method: HttpMethod, path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
    const attempts = method === 'GET' ? this.#retries + 1 : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS), signal);
      try {
        return await this.#once<T>(method, path, params, signal);
      } catch (error) {
        lastError = error;
        const retryable =
          (error instanceof PveApiError &&
            error.status >= 500 &&
            error.status !== 501 &&
            !PERMANENT_500.test(error.pveMessage)) ||
          (error instanceof PveConnectionError && RETRYABLE_CODES.has(error.code));
        if (!retryable || signal?.aborted) throw error;
      }
    }
    throw lastError;
  }

  async #once<T>(method: HttpMethod, path: string, params: Params, signal?: AbortSignal): Promise<T> {
    const inBody = method === 'POST' || method === 'PUT';
    const encoded = formEncode(params);
    const url = `${this.#base}${path}${!inBody && encoded ? `?${encoded}` : ''}`;
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
        dispatcher: this.#agent,
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
    let body: { data?: unknown; errors?: Record<string, string> | string; message?: string } | undefined;
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

  version(): Promise<{ version: string; release: string; repoid: string }> {
    return this.#request('GET', '/version');
  }

  nodes(): Promise<Array<{ node: string; status: string; maxcpu?: number; maxmem?: number }>> {
    return this.#request('GET', '/nodes');
  }

  /** Privileges of the calling token per ACL path, e.g. `{ "/": { "VM.Allocate": 1 } }`. */
  permissions(): Promise<Record<string, Record<string, number>>> {
    return this.#request('GET', '/access/permissions');
  }

  async nextId(): Promise<number> {
    return Number(await this.#request<string | number>('GET', '/cluster/nextid'));
  }

  async listVms(): Promise<PveVmSummary[]> {
    const rows = await this.#request<Array<Record<string, unknown>>>('GET', '/cluster/resources', { type: 'vm' });
    return rows.map((r) => ({
      vmid: Number(r.vmid),
      name: String(r.name ?? ''),
      node: String(r.node),
      status: String(r.status ?? 'unknown'),
      template: r.template === 1 || r.template === true || r.template === '1',
      tags: typeof r.tags === 'string' && r.tags ? r.tags.split(/[;, ]+/).filter(Boolean) : [],
      type: r.type === 'lxc' ? 'lxc' : 'qemu',
    }));
  }

  cloneVm(
    node: string,
    templateVmid: number,
    opts: {
      newid: number;
      name: string;
      full?: boolean;
      target?: string;
      storage?: string;
      pool?: string;
      description?: string;
    },
  ): Promise<string> {
    return this.#request('POST', `${vmPath(node, templateVmid)}/clone`, { ...opts });
  }

  /**
   * Asynchronous config update (POST). Returns the task UPID, or null when PVE had nothing to run as a task.
   * Pass `sshkeys` as plain OpenSSH lines: they are URL-encoded here as PVE requires (see encodeSshKeys).
   */
  async setVmConfig(
    node: string,
    vmid: number,
    config: Record<string, string | number | boolean>,
  ): Promise<string | null> {
    const params: Params = { ...config };
    if (typeof config.sshkeys === 'string') params.sshkeys = encodeSshKeys(config.sshkeys);
    const upid = await this.#request<string | null>('POST', `${vmPath(node, vmid)}/config`, params);
    return upid ?? null;
  }

  vmConfig(node: string, vmid: number): Promise<Record<string, unknown>> {
    return this.#request('GET', `${vmPath(node, vmid)}/config`);
  }

  /** `size` is absolute (`32G`) or relative (`+10G`). Waits for the resize task when PVE runs one (PVE 8+). */
  async resizeDisk(node: string, vmid: number, disk: string, size: string): Promise<void> {
    const upid = await this.#request<string | null>('PUT', `${vmPath(node, vmid)}/resize`, { disk, size });
    if (typeof upid === 'string' && upid.startsWith('UPID:')) await this.waitForTask(upid);
  }

  startVm(node: string, vmid: number): Promise<string> {
    return this.#request('POST', `${vmPath(node, vmid)}/status/start`);
  }

  stopVm(node: string, vmid: number): Promise<string> {
    return this.#request('POST', `${vmPath(node, vmid)}/status/stop`);
  }

  /** ACPI shutdown; PVE waits up to `timeoutS` seconds inside the task. */
  shutdownVm(node: string, vmid: number, timeoutS?: number): Promise<string> {
    return this.#request('POST', `${vmPath(node, vmid)}/status/shutdown`, { timeout: timeoutS });
  }

  vmStatus(
    node: string,
    vmid: number,
  ): Promise<{ status: string; qmpstatus?: string; name?: string; uptime?: number }> {
    return this.#request('GET', `${vmPath(node, vmid)}/status/current`);
  }

  deleteVm(
    node: string,
    vmid: number,
    opts: { purge?: boolean; destroyUnreferencedDisks?: boolean } = {},
  ): Promise<string> {
    return this.#request('DELETE', vmPath(node, vmid), {
      purge: opts.purge,
      'destroy-unreferenced-disks': opts.destroyUnreferencedDisks,
    });
  }

  /** Status of a task; the node is taken from the UPID, as PVE only knows a task on the node that runs it. */
  async taskStatus(upid: string, signal?: AbortSignal): Promise<PveTask> {
    const { node } = parseUpid(upid);
    const data = await this.#request<Record<string, unknown>>(
      'GET',
      `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`,
      {},
      signal,
    );
    return {
      upid: String(data.upid ?? upid),
      node: String(data.node ?? node),
      status: data.status === 'running' ? 'running' : 'stopped',
      exitstatus: data.exitstatus === undefined ? undefined : String(data.exitstatus),
      type: String(data.type ?? ''),
      id: data.id === undefined || data.id === '' ? undefined : String(data.id),
    };
  }

  /** The last `limit` lines of a task log. */
  async taskLog(upid: string, limit = 20): Promise<string[]> {
    const { node } = parseUpid(upid);
    const path = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/log`;
    // PVE pages task logs (default 50 lines) and reports the total only in the envelope: ask for one large page.
    const all = await this.#request<Array<{ n: number; t: string }>>('GET', path, { start: 0, limit: 50_000 });
    return all.slice(-limit).map((l) => l.t);
  }

  /** Polls until the task stops; throws PveTaskError unless it ended with OK (or WARNINGS: n). */
  async waitForTask(
    upid: string,
    opts: { timeoutMs?: number; pollMs?: number; signal?: AbortSignal } = {},
  ): Promise<PveTask> {
    const timeoutMs = opts.timeoutMs ?? 600_000;
    const pollMs = opts.pollMs ?? 1000;
    const deadline = Date.now() + timeoutMs;
    // Short tasks (config, start) end within a second: poll fast first, then back off to pollMs.
    let interval = Math.min(100, pollMs);
    for (;;) {
      const task = await this.taskStatus(upid, opts.signal);
      if (task.status === 'stopped') {
        const exit = task.exitstatus ?? 'unknown';
        if (exit === 'OK' || exit.startsWith('WARNINGS')) return task;
        let tail: string[] = [];
        try {
          tail = await this.taskLog(upid);
        } catch {
          // The log is context for the error; failing to fetch it must not hide the task failure itself.
        }
        throw new PveTaskError(upid, exit, tail);
      }
      if (Date.now() >= deadline) throw new PveTimeoutError(upid, timeoutMs);
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), opts.signal);
      interval = Math.min(pollMs, interval * 2);
    }
  }

  /**
   * True when the guest agent answers; false while the VM is stopped, its agent is not up yet ("QEMU guest agent is
   * not running") or does not answer in time ("qmp command 'guest-ping' failed - got timeout").
   */
  async agentPing(node: string, vmid: number): Promise<boolean> {
    try {
      await this.#request('POST', `${vmPath(node, vmid)}/agent/ping`);
      return true;
    } catch (error) {
      if (error instanceof PveApiError && error.status === 500 && /not running|got timeout/i.test(error.pveMessage)) {
        return false;
      }
      throw error;
    }
  }

  async agentNetworkInterfaces(node: string, vmid: number): Promise<PveAgentInterface[]> {
    const data = await this.#request<{ result?: PveAgentInterface[] }>(
      'GET',
      `${vmPath(node, vmid)}/agent/network-get-interfaces`,
    );
    return data?.result ?? [];
  }

  storages(node: string): Promise<Array<{ storage: string; content: string; type: string; active?: number }>> {
    return this.#request('GET', `/nodes/${encodeURIComponent(node)}/storage`);
  }

  storageContent(
    node: string,
    storage: string,
    content?: string,
  ): Promise<Array<{ volid: string; content: string; format?: string; size?: number }>> {
    return this.#request('GET', `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/content`, {
      content,
    });
  }

  /** Creates an API token; its secret is shown once by PVE and is registered with the output masker here. */
  async createApiToken(
    userid: string,
    tokenid: string,
    opts: { privsep?: boolean; comment?: string } = {},
  ): Promise<{ fullTokenId: string; value: string }> {
    const data = await this.#request<{ 'full-tokenid': string; value: string }>(
      'POST',
      `/access/users/${encodeURIComponent(userid)}/token/${encodeURIComponent(tokenid)}`,
      { privsep: opts.privsep, comment: opts.comment },
    );
    globalMasker.add(data.value);
    return { fullTokenId: data['full-tokenid'], value: data.value };
  }

  /** Node status with the CPU flags split into a list, so preflight can look for vmx/svm (nested virtualisation). */
  async nodeStatus(node: string): Promise<PveNodeStatus> {
    const data = await this.#request<Record<string, unknown>>('GET', `/nodes/${encodeURIComponent(node)}/status`);
    const cpu = (data.cpuinfo ?? {}) as Record<string, unknown>;
    return {
      cpuinfo: {
        cpus: Number(cpu.cpus ?? 0),
        model: String(cpu.model ?? ''),
        sockets: cpu.sockets === undefined ? undefined : Number(cpu.sockets),
        cores: cpu.cores === undefined ? undefined : Number(cpu.cores),
        flags: typeof cpu.flags === 'string' ? cpu.flags.split(/\s+/).filter(Boolean) : [],
      },
      memory: data.memory as PveNodeStatus['memory'],
      pveversion: data.pveversion === undefined ? undefined : String(data.pveversion),
      kversion: data.kversion === undefined ? undefined : String(data.kversion),
      uptime: data.uptime === undefined ? undefined : Number(data.uptime),
    };
  }
}

function vmPath(node: string, vmid: number): string {
  return `/nodes/${encodeURIComponent(node)}/qemu/${encodeURIComponent(String(vmid))}`;
}

function pveErrorMessage(
  status: number,
  statusText: string,
  body: { errors?: Record<string, string> | string; message?: string } | undefined,
  text: string,
): string {
  const parts: string[] = [];
  // PVE puts the reason in the HTTP status line; newer versions also repeat it as `message` in the body.
  const reason = (body?.message ?? statusText ?? '').trim();
  if (reason) parts.push(reason);
  if (body?.errors && typeof body.errors === 'object') {
    parts.push(
      Object.entries(body.errors)
        .map(([param, msg]) => `${param}: ${String(msg).trim()}`)
        .join('; '),
    );
  } else if (typeof body?.errors === 'string') {
    parts.push(body.errors.trim());
  }
  if (body === undefined && status < 400) parts.push(`unexpected non-JSON answer: ${text.slice(0, 120)}`);
  return parts.join(' - ') || `HTTP ${status}`;
}

function statusHint(status: number): string | undefined {
  if (status === 401)
    return 'Check the API token id and secret (PVEAPIToken=user@realm!name=secret); the token may be expired or deleted.';
  if (status === 403)
    return 'The token lacks a privilege: grant it on the path (pveum acl modify), and remember privilege-separated tokens need their own ACLs.';
  if (status === 501) return 'This Proxmox VE version does not implement the endpoint.';
  return undefined;
}

function connectionHint(code: string, endpoint: PveEndpoint): string | undefined {
  if (code === 'ERR_TLS_FINGERPRINT_MISMATCH') {
    return `The certificate of ${endpoint.url} is not the pinned one: check the fingerprint (pvenode cert info) or a man in the middle.`;
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return 'The node certificate is not trusted: pin its SHA-256 fingerprint (fingerprint), trust /etc/pve/pve-root-ca.pem (ca), or set insecure for a throw-away lab.';
  }
  if (code === 'TIMEOUT') return 'Raise timeoutMs, or check that pveproxy is up and reachable.';
  if (code === 'ECONNREFUSED')
    return `Nothing listens at ${endpoint.url}; is pveproxy running and the port (8006) right?`;
  return undefined;
}
