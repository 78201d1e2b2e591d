/**
 * A Proxmox VE API simulator: the JSON API subset strata's client uses, served under /api2/json with PVE's envelopes,
 * error shapes, privilege checks and asynchronous tasks (real UPIDs). Built on node:http(s) directly rather than a
 * web framework because PVE reports errors in the HTTP reason phrase, and fault injection needs to hold a request
 * open forever; both are plain on a raw ServerResponse.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { StrataError } from '../../errors.ts';
import { formatUpid, parseUpid } from '../client.ts';
import {
  defaultSeed,
  newMac,
  type SimNode,
  type SimSeed,
  type SimState,
  type SimTask,
  type SimUser,
  type SimVm,
  stateFromSeed,
} from './state.ts';
import { makeNodeCertificate, type SimCertificate } from './tls.ts';

export type SimFault =
  /** Answer matching requests with an HTTP error (default 500) `times` times (default 1). */
  | { kind: 'http-error'; method?: string; path: string; status?: number; message?: string; times?: number }
  /** Never answer matching requests (the client's timeout fires) `times` times (default 1). */
  | { kind: 'hang'; method?: string; path: string; times?: number }
  /** Make matching tasks end with `exitstatus` (default "command failed") `times` times (default 1). */
  | { kind: 'task-failure'; taskType?: string; vmid?: number; exitstatus?: string; times?: number }
  /** The guest agent of a VM stops answering until faults are cleared or the VM is started again. */
  | { kind: 'agent-lost'; vmid: number };

export interface SimulatorOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Multiplies every task duration and the boot delay; 0 = instant, but a task still reports running once. */
  latencyScale?: number;
  /** Time from a finished start task until the guest agent answers, before scaling; default 8000 ms. */
  bootDelayMs?: number;
  seed?: SimSeed;
  /** Serve HTTPS with a fresh CA + node certificate (default) or plain HTTP (`false`). */
  tls?: boolean;
  /** Subnet the simulated DHCP hands addresses from; default 10.77.0.0/24. */
  subnet?: string;
  /** VMs carrying this tag become nested PVE hosts once booted; default `pve`. */
  nestedTag?: string;
  /** Seed for nested hosts; default: the default lab (template 9000 included) with the VM's name as node name. */
  nestedSeed?: (vm: SimVm) => SimSeed;
}

export interface NestedEndpoint {
  vmid: number;
  node: string;
  /** Address the guest agent reports; a real operator would use https://<ip>:8006. */
  ip?: string;
  url: string;
  fingerprint?: string;
  ca?: string;
  tokenId: string;
  tokenSecret: string;
}

interface ActiveFault {
  id: number;
  fault: SimFault;
  remaining: number;
}

/** An API error as PVE would send it; also what inject() throws for a malformed fault. */
class SimHttpError extends StrataError {
  readonly pveMessage: string;
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(
      errors
        ? `${message} ${Object.entries(errors)
            .map(([k, v]) => `${k}: ${v}`)
            .join('; ')}`
        : message,
    );
    this.pveMessage = message;
  }
}

/** A task body that ends the task with a non-OK exit status. */
class TaskFailure extends Error {}

interface Caller {
  user: SimUser;
  tokenId: string;
  privsep: boolean;
  tokenAcl: Record<string, string[]>;
  /** `user@realm!token`, as it appears in UPIDs. */
  name: string;
}

interface Ctx {
  caller: Caller;
  params: Record<string, string>;
  path: Record<string, string>;
  /** Extra envelope fields, e.g. `total` of a task log page. */
  envelope: Record<string, unknown>;
}

type Handler = (ctx: Ctx) => unknown;

const TASK_MS = {
  qmclone: 3000,
  qmstart: 1500,
  qmstop: 800,
  qmshutdown: 2000,
  qmreboot: 3000,
  qmconfig: 300,
  resize: 500,
  qmdestroy: 1500,
};
const UNPOLLED_TASK_MS = 1000;
const BOOL_KEYS = new Set(['onboot', 'protection', 'numa', 'kvm', 'tablet', 'ciupgrade', 'localtime', 'template']);
const INT_KEYS: Record<string, number> = { cores: 1, sockets: 1, vcpus: 1, memory: 16, balloon: 0, cpuunits: 1 };
const SIMPLE_KEYS = new Set([
  'name',
  'cores',
  'sockets',
  'vcpus',
  'cpu',
  'numa',
  'cpulimit',
  'cpuunits',
  'affinity',
  'memory',
  'balloon',
  'shares',
  'ciuser',
  'cipassword',
  'sshkeys',
  'nameserver',
  'searchdomain',
  'citype',
  'cicustom',
  'ciupgrade',
  'scsihw',
  'machine',
  'bios',
  'vga',
  'ostype',
  'hotplug',
  'tags',
  'description',
  'onboot',
  'agent',
  'boot',
  'protection',
  'kvm',
  'tablet',
  'localtime',
  'startup',
  'efidisk0',
  'tpmstate0',
  'hookscript',
  'args',
]);
const INDEXED_KEY = /^(ipconfig|net|scsi|virtio|sata|ide|serial|unused|usb|hostpci)(\d+)$/;
const DISK_KEY = /^(scsi|virtio|sata|ide|efidisk|tpmstate|unused)\d+$/;
const CONTROL_KEYS = new Set(['delete', 'digest', 'skiplock', 'background_delay', 'revert', 'node', 'vmid']);
const URLENCODED = /^[-%a-zA-Z0-9_.!~*'()]*$/;
const DNS_NAME = /^(?=.{1,255}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;

function configPrivilege(key: string): string {
  if (/^(cores|sockets|vcpus|cpu|numa|cpulimit|cpuunits|affinity)$/.test(key)) return 'VM.Config.CPU';
  if (/^(memory|balloon|shares)$/.test(key)) return 'VM.Config.Memory';
  if (/^(ciuser|cipassword|sshkeys|nameserver|searchdomain|citype|cicustom|ciupgrade|ipconfig\d+)$/.test(key)) {
    return 'VM.Config.Cloudinit';
  }
  if (/^net\d+$/.test(key)) return 'VM.Config.Network';
  if (DISK_KEY.test(key)) return 'VM.Config.Disk';
  if (/^(scsihw|machine|bios|vga|ostype|hotplug|serial\d+|usb\d+|hostpci\d+|args)$/.test(key))
    return 'VM.Config.HWType';
  return 'VM.Config.Options';
}

function agentEnabled(config: Record<string, string | number>): boolean {
  const value = String(config.agent ?? '0');
  return /^(enabled=)?1(,|$)/.test(value) || /(^|,)enabled=1(,|$)/.test(value);
}

function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(text);
  if (!m) return undefined;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export class PveSimulator {
  readonly state: SimState;
  readonly #options: Required<Omit<SimulatorOptions, 'seed' | 'nestedSeed' | 'port'>> &
    Pick<SimulatorOptions, 'nestedSeed'>;
  readonly #routes: Array<{ method: string; re: RegExp; keys: string[]; handler: Handler }> = [];
  readonly #faults: ActiveFault[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #nested = new Map<number, { sim: PveSimulator; endpoint?: NestedEndpoint }>();
  /** Why a nested host failed to come up (e.g. openssl missing), shown in the state snapshot. */
  readonly #nestedErrors = new Map<number, string>();
  readonly #taskHooks = new Map<string, { done: () => string[]; failed: () => void; vmid?: number }>();
  #server?: Server;
  #certificate?: SimCertificate;
  #port: number;
  readonly #requestedPort: number;
  #faultIds = 0;
  #pid = 0x1000 + Math.floor(Math.random() * 0xfff);
  #nextHost = 10;
  #closed = false;

  constructor(options: SimulatorOptions = {}) {
    this.state = stateFromSeed(options.seed ?? defaultSeed());
    this.#port = options.port ?? 0;
    this.#requestedPort = this.#port;
    this.#options = {
      latencyScale: options.latencyScale ?? 1,
      bootDelayMs: options.bootDelayMs ?? 8000,
      tls: options.tls ?? true,
      subnet: options.subnet ?? '10.77.0.0/24',
      nestedTag: options.nestedTag ?? 'pve',
      nestedSeed: options.nestedSeed,
    };
    if (!(this.#options.latencyScale >= 0)) throw new StrataError('latencyScale must be a number >= 0');
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(this.#options.subnet)) {
      throw new StrataError(`Invalid simulator subnet ${JSON.stringify(this.#options.subnet)}`, {
        hint: 'Use CIDR, e.g. 10.77.0.0/24',
      });
    }
    this.#registerRoutes();
  }

  get url(): string {
    return `${this.#options.tls ? 'https' : 'http'}://127.0.0.1:${this.#port}`;
  }

  get certificate(): SimCertificate | undefined {
    return this.#certificate;
  }

  async listen(): Promise<void> {
    if (this.#options.tls && !this.#certificate)
      this.#certificate = await makeNodeCertificate(this.state.nodes[0].node);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((error) => this.#send(res, 500, { data: null }, String(error)));
    };
    const server = this.#certificate
      ? createHttpsServer({ key: this.#certificate.key, cert: this.#certificate.cert }, handler)
      : createHttpServer(handler);
    const bind = (port: number) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    try {
      await bind(this.#port);
    } catch (error) {
      // A restarted host comes back on its old port when it can; a port the caller asked for must not move.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.#port === this.#requestedPort) throw error;
      await bind(0);
    }
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops answering (like a powered-off host) but keeps the state, so listen() can resume it. */
  async stopListening(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all([...this.#nested.values()].map((n) => n.sim.close()));
    this.#nested.clear();
    await this.stopListening();
  }

  inject(fault: SimFault): number {
    const valid = ['http-error', 'hang', 'task-failure', 'agent-lost'];
    if (!fault || !valid.includes(fault.kind)) {
      throw new SimHttpError(400, 'Parameter verification failed.', {
        kind: `value must be one of ${valid.join(', ')}`,
      });
    }
    if ((fault.kind === 'http-error' || fault.kind === 'hang') && typeof fault.path !== 'string') {
      throw new SimHttpError(400, 'Parameter verification failed.', { path: 'a regular expression is required' });
    }
    if ('path' in fault) {
      try {
        new RegExp(fault.path);
      } catch (error) {
        throw new SimHttpError(400, 'Parameter verification failed.', { path: (error as Error).message });
      }
    }
    if (fault.kind === 'agent-lost') {
      const vm = this.state.vms.find((v) => v.vmid === fault.vmid);
      if (!vm) throw new SimHttpError(400, 'Parameter verification failed.', { vmid: `no VM ${fault.vmid}` });
      vm.agentLost = true;
    }
    const times = 'times' in fault && fault.times !== undefined ? fault.times : 1;
    if (!Number.isInteger(times) || times < 1) {
      throw new SimHttpError(400, 'Parameter verification failed.', { times: 'value must be an integer >= 1' });
    }
    const id = ++this.#faultIds;
    this.#faults.push({ id, fault, remaining: fault.kind === 'agent-lost' ? Number.POSITIVE_INFINITY : times });
    return id;
  }

  clearFaults(): void {
    this.#faults.length = 0;
    for (const vm of this.state.vms) vm.agentLost = undefined;
  }

  nestedEndpoints(): NestedEndpoint[] {
    return [...this.#nested.values()].flatMap((n) => (n.endpoint ? [n.endpoint] : []));
  }

  nested(vmid: number): PveSimulator | undefined {
    return this.#nested.get(vmid)?.sim;
  }

  /** A JSON snapshot of everything (token secrets left out; nested endpoints carry their bootstrap token). */
  snapshot(): Record<string, unknown> {
    const now = Date.now();
    return {
      url: this.url,
      fingerprint: this.#certificate?.fingerprint,
      version: this.state.version,
      nodes: this.state.nodes.map(({ pstart: _pstart, ...n }) => n),
      storages: structuredClone(this.state.storages),
      vms: this.state.vms.map((vm) => ({
        ...structuredClone(vm),
        agent: this.#agentProblem(vm, now) ?? 'ready',
      })),
      users: this.state.users.map((u) => ({
        userid: u.userid,
        privileges: u.privileges,
        tokens: u.tokens.map(({ secret: _secret, ...t }) => t),
      })),
      tasks: this.state.tasks.map(({ polls: _polls, ...t }) => structuredClone(t)),
      requests: structuredClone(this.state.requests),
      faults: this.#faults.map((f) => ({ id: f.id, ...f.fault, remaining: f.remaining })),
      nested: this.nestedEndpoints(),
      nestedErrors: Object.fromEntries(this.#nestedErrors),
    };
  }

  // ---------------------------------------------------------------- HTTP plumbing

  #send(res: ServerResponse, status: number, body: unknown, reason?: string): void {
    if (res.headersSent || res.destroyed) return;
    res.statusCode = status;
    // The reason phrase is where PVE puts its error text; it must be one latin-1 line.
    if (reason)
      res.statusMessage = reason
        .replace(/[\r\n]+/g, ' ')
        .replace(/[^\x20-\x7e]/g, '?')
        .slice(0, 500);
    res.setHeader('Content-Type', 'application/json;charset=UTF-8');
    res.setHeader('Cache-Control', 'max-age=0');
    res.end(JSON.stringify(body));
  }

  async #readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 1024 * 1024) throw new SimHttpError(413, 'request entity too large');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname.startsWith('/_sim/')) return this.#control(method, url, req, res);
    if (!url.pathname.startsWith('/api2/json/')) {
      return this.#send(res, 501, { data: null }, `Method '${method} ${url.pathname}' not implemented`);
    }
    const path = url.pathname.slice('/api2/json'.length).replace(/\/+$/, '');
    const record = { method, path, status: null as number | null };
    this.state.requests.push(record);
    if (this.state.requests.length > 100_000) this.state.requests.shift();
    const reply = (status: number, body: unknown, reason?: string) => {
      record.status = status;
      this.#send(res, status, body, reason);
    };

    const fault = this.#matchFault(method, path);
    if (fault?.kind === 'hang') return; // left open: the server closes it on shutdown
    if (fault?.kind === 'http-error') {
      const status = fault.status ?? 500;
      const message = fault.message ?? 'simulated failure (injected fault)';
      return reply(status, { data: null, message: `${message}\n` }, message);
    }

    try {
      const caller = this.#authenticate(req.headers.authorization);
      const params: Record<string, string> = Object.fromEntries(url.searchParams);
      if (method === 'POST' || method === 'PUT') {
        const body = await this.#readBody(req);
        const type = String(req.headers['content-type'] ?? '');
        if (body && type.includes('application/json')) {
          const parsed = JSON.parse(body) as Record<string, unknown>;
          for (const [k, v] of Object.entries(parsed)) params[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
        } else if (body) {
          Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
        }
      }
      for (const route of this.#routes) {
        const m = route.re.exec(path);
        if (!m || route.method !== method) continue;
        const pathParams: Record<string, string> = {};
        route.keys.forEach((key, i) => {
          pathParams[key] = decodeURIComponent(m[i + 1]);
        });
        const ctx: Ctx = { caller, params, path: pathParams, envelope: {} };
        const data = route.handler(ctx);
        return reply(200, { ...ctx.envelope, data: data === undefined ? null : data });
      }
      throw new SimHttpError(501, `Method '${method} ${path}' not implemented`);
    } catch (error) {
      if (error instanceof SimHttpError) {
        const body: Record<string, unknown> = { data: null, message: `${error.pveMessage}\n` };
        if (error.errors) body.errors = error.errors;
        return reply(error.status, body, error.pveMessage);
      }
      if (error instanceof SyntaxError) return reply(400, { data: null }, `invalid JSON body: ${error.message}`);
      throw error;
    }
  }

  /** Uses up one occurrence of a fault; spent faults leave the list. */
  #consume(active: ActiveFault): void {
    active.remaining--;
    if (active.remaining <= 0) this.#faults.splice(this.#faults.indexOf(active), 1);
  }

  #matchFault(method: string, path: string): SimFault | undefined {
    for (const active of this.#faults) {
      const f = active.fault;
      if (f.kind !== 'http-error' && f.kind !== 'hang') continue;
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (!new RegExp(f.path).test(path)) continue;
      this.#consume(active);
      return f;
    }
    return undefined;
  }

  async #control(method: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '');
    try {
      if (method === 'GET' && path === '/_sim/state') return this.#send(res, 200, { data: this.snapshot() });
      if (method === 'GET' && path === '/_sim/faults') return this.#send(res, 200, { data: this.snapshot().faults });
      if (method === 'POST' && path === '/_sim/faults') {
        const fault = JSON.parse((await this.#readBody(req)) || 'null') as SimFault;
        return this.#send(res, 200, { data: { id: this.inject(fault) } });
      }
      if (method === 'DELETE' && path === '/_sim/faults') {
        this.clearFaults();
        return this.#send(res, 200, { data: null });
      }
      if (method === 'GET' && path === '/_sim/nested') return this.#send(res, 200, { data: this.nestedEndpoints() });
      const nested = /^\/_sim\/nested\/(\d+)$/.exec(path);
      if (method === 'GET' && nested) {
        const endpoint = this.#nested.get(Number(nested[1]))?.endpoint;
        if (!endpoint) throw new SimHttpError(404, `VM ${nested[1]} is not a running nested PVE host (yet)`);
        return this.#send(res, 200, { data: endpoint });
      }
      throw new SimHttpError(404, `no simulator control endpoint ${method} ${path}`);
    } catch (error) {
      if (error instanceof SimHttpError) {
        return this.#send(
          res,
          error.status,
          { data: null, message: error.pveMessage, errors: error.errors },
          error.pveMessage,
        );
      }
      if (error instanceof SyntaxError)
        return this.#send(res, 400, { data: null }, `invalid JSON body: ${error.message}`);
      throw error;
    }
  }

  // ---------------------------------------------------------------- auth and privileges

  #authenticate(header: string | undefined): Caller {
    if (!header) throw new SimHttpError(401, 'No ticket');
    const m = /^PVEAPIToken[= ]([^@\s!]+@[^@\s!]+)!([^=\s]+)[=:](\S+)$/.exec(header.trim());
    if (!m) throw new SimHttpError(401, 'authentication failure');
    const user = this.state.users.find((u) => u.userid === m[1]);
    const token = user?.tokens.find((t) => t.id === m[2]);
    if (!user || !token || token.secret !== m[3]) throw new SimHttpError(401, 'authentication failure');
    return {
      user,
      tokenId: token.id,
      privsep: token.privsep,
      tokenAcl: token.privileges,
      name: `${user.userid}!${token.id}`,
    };
  }

  /** Effective privileges on a path: ACLs on the path and every parent propagate; a privsep token is capped by its user. */
  #privileges(caller: Caller, path: string): Set<string> {
    const collect = (acl: Record<string, string[]>) => {
      const out = new Set<string>();
      for (const [aclPath, privs] of Object.entries(acl)) {
        const prefix = aclPath === '/' ? '/' : `${aclPath}/`;
        if (aclPath === path || path.startsWith(prefix)) for (const p of privs) out.add(p);
      }
      return out;
    };
    const userPrivs = collect(caller.user.privileges);
    if (!caller.privsep) return userPrivs;
    const tokenPrivs = collect(caller.tokenAcl);
    return new Set([...tokenPrivs].filter((p) => userPrivs.has(p)));
  }

  #can(caller: Caller, path: string, priv: string): boolean {
    return this.#privileges(caller, path).has(priv);
  }

  #need(caller: Caller, path: string, ...anyOf: string[]): void {
    if (anyOf.some((priv) => this.#can(caller, path, priv))) return;
    throw new SimHttpError(403, `Permission check failed (${path}, ${anyOf.join(' | ')})`);
  }

  // ---------------------------------------------------------------- lookup helpers

  #node(name: string): SimNode {
    const node = this.state.nodes.find((n) => n.node === name);
    if (!node) {
      throw new SimHttpError(
        500,
        `hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`,
      );
    }
    return node;
  }

  #vm(node: string, vmidText: string): SimVm {
    this.#node(node);
    const vmid = Number(vmidText);
    if (!/^\d+$/.test(vmidText) || vmid < 100) {
      throw new SimHttpError(400, 'Parameter verification failed.', { vmid: `value must have a minimum value of 100` });
    }
    const vm = this.state.vms.find((v) => v.vmid === vmid && v.node === node);
    if (!vm) throw new SimHttpError(500, `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
    return vm;
  }

  #checkLock(vm: SimVm): void {
    if (vm.lock) throw new SimHttpError(500, `VM ${vm.vmid} is locked (${vm.lock})`);
  }

  #scaled(ms: number): number {
    return ms * this.#options.latencyScale;
  }

  #timer(ms: number, fn: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Starts a worker task: returns its UPID at once; `done` runs when the task ends (its log lines are appended) and
   * may throw TaskFailure; `failed` undoes what the request already did (locks, placeholders).
   */
  #startTask(
    node: SimNode,
    caller: Caller,
    type: keyof typeof TASK_MS,
    id: string,
    hooks: { done: () => string[]; failed?: () => void; firstLines?: string[]; vmid?: number; durationMs?: number },
  ): string {
    this.#pid = (this.#pid + 1 + Math.floor(Math.random() * 16)) % 0x3fffff;
    const starttime = Math.floor(Date.now() / 1000);
    const upid = formatUpid({
      node: node.node,
      pid: this.#pid,
      pstart: node.pstart,
      starttime,
      type,
      id,
      user: caller.name,
    });
    const task: SimTask = {
      upid,
      node: node.node,
      type,
      id,
      user: caller.name,
      status: 'running',
      starttime,
      log: [...(hooks.firstLines ?? [])],
      polls: 0,
    };
    this.state.tasks.push(task);
    if (this.state.tasks.length > 10_000) this.state.tasks.shift();
    this.#taskHooks.set(upid, { done: hooks.done, failed: hooks.failed ?? (() => {}), vmid: hooks.vmid });
    const duration = this.#scaled(hooks.durationMs ?? TASK_MS[type]);
    // At latencyScale 0 polling ends a task (see the status route); a task nobody polls (its polls fail, or the client
    // went away) still ends on its own, as on PVE, after UNPOLLED_TASK_MS.
    this.#timer(duration > 0 ? duration : UNPOLLED_TASK_MS, () => this.#finishTask(task));
    return upid;
  }

  #finishTask(task: SimTask): void {
    if (task.status !== 'running') return;
    const hooks = this.#taskHooks.get(task.upid);
    this.#taskHooks.delete(task.upid);
    const injected = this.#faults.find(
      (f) =>
        f.fault.kind === 'task-failure' &&
        (f.fault.taskType === undefined || f.fault.taskType === task.type) &&
        (f.fault.vmid === undefined || f.fault.vmid === hooks?.vmid || String(f.fault.vmid) === task.id),
    );
    task.status = 'stopped';
    task.endtime = Math.floor(Date.now() / 1000);
    try {
      if (injected && injected.fault.kind === 'task-failure') {
        this.#consume(injected);
        throw new TaskFailure(injected.fault.exitstatus ?? 'command failed');
      }
      task.log.push(...(hooks?.done() ?? []), 'TASK OK');
      task.exitstatus = 'OK';
    } catch (error) {
      if (!(error instanceof TaskFailure)) throw error;
      hooks?.failed();
      task.log.push(`TASK ERROR: ${error.message}`);
      task.exitstatus = error.message;
    }
  }

  #task(node: string, upidText: string): SimTask {
    this.#node(node);
    try {
      parseUpid(upidText);
    } catch {
      throw new SimHttpError(400, 'Parameter verification failed.', {
        upid: `unable to parse worker upid '${upidText}'`,
      });
    }
    const task = this.state.tasks.find((t) => t.upid === upidText && t.node === node);
    if (!task)
      throw new SimHttpError(500, `unable to open file '/var/log/pve/tasks/active' - no such task '${upidText}'`);
    return task;
  }

  // ---------------------------------------------------------------- guest agent, boot, nested hosts

  #agentProblem(vm: SimVm, now = Date.now()): string | undefined {
    if (vm.status !== 'running') return `VM ${vm.vmid} is not running`;
    if (!agentEnabled(vm.config)) return 'No QEMU guest agent configured';
    if (vm.agentLost || vm.bootedAt === undefined || now < vm.bootedAt) return 'QEMU guest agent is not running';
    return undefined;
  }

  #allocateIp(vm: SimVm): void {
    const staticIp = /(?:^|,)ip=(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(String(vm.config.ipconfig0 ?? ''));
    if (staticIp) {
      vm.ip = `${staticIp[1]}/${staticIp[2]}`;
      return;
    }
    if (vm.ip) return;
    const [base, prefix] = this.#options.subnet.split('/');
    const size = 2 ** (32 - Number(prefix));
    const host = this.#nextHost++ % (size - 2 || 1);
    vm.ip = `${intToIp(ipToInt(base) + Math.max(1, host))}/${prefix}`;
  }

  #onBooted(vm: SimVm): void {
    if (vm.status !== 'running' || !vm.tags.includes(this.#options.nestedTag)) return;
    this.#nestedErrors.delete(vm.vmid);
    this.#startNested(vm).catch((error) => this.#nestedErrors.set(vm.vmid, (error as Error).message));
  }

  async #startNested(vm: SimVm): Promise<void> {
    let entry = this.#nested.get(vm.vmid);
    if (!entry) {
      const hostName = vm.name.split('.')[0].replace(/[^a-zA-Z0-9-]/g, '-') || `pve${vm.vmid}`;
      const outerNode = this.#node(vm.node);
      // Nested virtualisation reaches the inner host only with the host CPU type passed through.
      const flags =
        vm.config.cpu === 'host' || String(vm.config.cpu ?? '').startsWith('host,')
          ? outerNode.cpuFlags
          : outerNode.cpuFlags.filter((f) => f !== 'vmx' && f !== 'svm');
      const seed = this.#options.nestedSeed?.(vm) ?? defaultSeed(hostName);
      seed.nodes = (seed.nodes ?? [{ node: hostName }]).map((n) => ({ ...n, cpuFlags: n.cpuFlags ?? flags }));
      const innerSubnetBase = ipToInt(this.#options.subnet.split('/')[0]) + 256 * (vm.vmid % 200);
      const sim = new PveSimulator({
        latencyScale: this.#options.latencyScale,
        bootDelayMs: this.#options.bootDelayMs,
        tls: this.#options.tls,
        subnet: `${intToIp(innerSubnetBase)}/24`,
        nestedTag: this.#options.nestedTag,
        nestedSeed: this.#options.nestedSeed,
        seed,
      });
      entry = { sim };
      this.#nested.set(vm.vmid, entry);
    }
    await entry.sim.listen();
    // The VM may have been stopped or removed while the inner host was coming up.
    if (this.#closed || vm.status !== 'running' || !this.state.vms.includes(vm)) {
      await entry.sim.stopListening();
      return;
    }
    const root = entry.sim.state.users.find((u) => u.userid === 'root@pam');
    const token = root?.tokens[0] ?? entry.sim.state.users[0]?.tokens[0];
    const owner = root ?? entry.sim.state.users[0];
    entry.endpoint = {
      vmid: vm.vmid,
      node: entry.sim.state.nodes[0].node,
      ip: vm.ip?.split('/')[0],
      url: entry.sim.url,
      fingerprint: entry.sim.certificate?.fingerprint,
      ca: entry.sim.certificate?.ca,
      tokenId: `${owner?.userid}!${token?.id}`,
      tokenSecret: token?.secret ?? '',
    };
  }

  async #stopNested(vm: SimVm, remove: boolean): Promise<void> {
    const entry = this.#nested.get(vm.vmid);
    if (!entry) return;
    entry.endpoint = undefined;
    if (remove) {
      this.#nested.delete(vm.vmid);
      await entry.sim.close();
    } else {
      await entry.sim.stopListening();
    }
  }

  #powerOff(vm: SimVm): void {
    vm.status = 'stopped';
    vm.startedAt = undefined;
    vm.bootedAt = undefined;
    void this.#stopNested(vm, false);
  }

  // ---------------------------------------------------------------- routes

  #route(method: string, pattern: string, handler: Handler): void {
    const keys: string[] = [];
    const re = new RegExp(
      `^${pattern.replace(/\{(\w+)\}/g, (_m, key: string) => {
        keys.push(key);
        return '([^/]+)';
      })}$`,
    );
    this.#routes.push({ method, re, keys, handler });
  }

  #registerRoutes(): void {
    this.#route('GET', '/version', () => this.state.version);
    this.#route('GET', '/nodes', ({ caller }) =>
      this.state.nodes.map((n) => ({
        node: n.node,
        id: `node/${n.node}`,
        type: 'node',
        status: 'online',
        level: '',
        ...(this.#can(caller, `/nodes/${n.node}`, 'Sys.Audit')
          ? {
              maxcpu: n.maxcpu,
              maxmem: n.maxmem,
              mem: Math.floor(n.maxmem / 8),
              cpu: 0.03,
              uptime: Math.floor(process.uptime()),
              ssl_fingerprint: this.#certificate?.fingerprint,
            }
          : {}),
      })),
    );
    this.#route('GET', '/nodes/{node}/status', ({ caller, path }) => {
      const node = this.#node(path.node);
      this.#need(caller, `/nodes/${node.node}`, 'Sys.Audit');
      return {
        cpuinfo: {
          cpus: node.maxcpu,
          cores: node.maxcpu,
          sockets: 1,
          model: 'Simulated CPU @ 3.00GHz',
          mhz: '3000.000',
          hvm: node.cpuFlags.includes('vmx') || node.cpuFlags.includes('svm') ? '1' : '0',
          user_hz: 100,
          flags: node.cpuFlags.join(' '),
        },
        memory: {
          total: node.maxmem,
          used: Math.floor(node.maxmem / 8),
          free: node.maxmem - Math.floor(node.maxmem / 8),
        },
        pveversion: `pve-manager/${this.state.version.version}/${this.state.version.repoid}`,
        kversion: 'Linux 6.8.12-9-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9 (simulated)',
        uptime: Math.floor(process.uptime()),
        loadavg: ['0.10', '0.05', '0.01'],
      };
    });
    this.#route('GET', '/access/permissions', ({ caller, params }) => {
      const paths = new Set([
        ...Object.keys(caller.user.privileges),
        ...Object.keys(caller.privsep ? caller.tokenAcl : {}),
      ]);
      if (params.path) paths.add(params.path);
      const out: Record<string, Record<string, number>> = {};
      for (const p of params.path ? [params.path] : paths) {
        const privs = this.#privileges(caller, p);
        if (privs.size > 0) out[p] = Object.fromEntries([...privs].sort().map((x) => [x, 1]));
      }
      return out;
    });
    this.#route('POST', '/access/users/{userid}/token/{tokenid}', ({ caller, path, params }) => {
      const self = caller.user.userid === path.userid;
      if (!self) this.#need(caller, `/access/users/${path.userid}`, 'User.Modify');
      if (!/^[A-Za-z][A-Za-z0-9.\-_]+$/.test(path.tokenid)) {
        throw new SimHttpError(400, 'Parameter verification failed.', {
          tokenid: `value does not match the regex pattern`,
        });
      }
      const user = this.state.users.find((u) => u.userid === path.userid);
      if (!user) throw new SimHttpError(500, `no such user ('${path.userid}')`);
      if (user.tokens.some((t) => t.id === path.tokenid)) throw new SimHttpError(500, 'Token already exists.');
      const privsep = params.privsep === undefined ? true : params.privsep === '1';
      const value = randomUUID();
      user.tokens.push({ id: path.tokenid, secret: value, privsep, comment: params.comment, privileges: {} });
      return {
        'full-tokenid': `${user.userid}!${path.tokenid}`,
        info: {
          privsep: privsep ? 1 : 0,
          expire: Number(params.expire ?? 0),
          ...(params.comment ? { comment: params.comment } : {}),
        },
        value,
      };
    });
    this.#route('GET', '/cluster/nextid', ({ params }) => {
      const taken = new Set(this.state.vms.map((v) => v.vmid));
      if (params.vmid !== undefined) {
        const wanted = Number(params.vmid);
        if (taken.has(wanted))
          throw new SimHttpError(400, 'Parameter verification failed.', { vmid: `VM ${wanted} already exists` });
        return String(wanted);
      }
      let id = 100;
      while (taken.has(id)) id++;
      return String(id);
    });
    this.#route('GET', '/cluster/resources', ({ caller, params }) => {
      const type = params.type;
      if (type !== undefined && !['vm', 'storage', 'node', 'sdn', 'pool'].includes(type)) {
        throw new SimHttpError(400, 'Parameter verification failed.', {
          type: `value '${type}' does not have a value in the enumeration 'vm, storage, node, sdn, pool'`,
        });
      }
      const rows: unknown[] = [];
      if (!type || type === 'vm') {
        for (const vm of this.state.vms) {
          if (!this.#can(caller, `/vms/${vm.vmid}`, 'VM.Audit')) continue;
          rows.push({
            id: `qemu/${vm.vmid}`,
            type: 'qemu',
            vmid: vm.vmid,
            name: vm.name,
            node: vm.node,
            status: vm.status,
            template: vm.template ? 1 : 0,
            tags: vm.tags.join(';'),
            maxcpu: Number(vm.config.cores ?? 1) * Number(vm.config.sockets ?? 1),
            maxmem: Number(vm.config.memory ?? 512) * 1024 ** 2,
            uptime: vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0,
            ...(vm.lock ? { lock: vm.lock } : {}),
            ...(vm.pool ? { pool: vm.pool } : {}),
          });
        }
      }
      if (!type || type === 'node') {
        for (const n of this.state.nodes) {
          rows.push({
            id: `node/${n.node}`,
            type: 'node',
            node: n.node,
            status: 'online',
            maxcpu: n.maxcpu,
            maxmem: n.maxmem,
          });
        }
      }
      if (!type || type === 'storage') {
        for (const n of this.state.nodes) {
          for (const s of this.state.storages) {
            if (!this.#can(caller, `/storage/${s.storage}`, 'Datastore.Audit')) continue;
            rows.push({
              id: `storage/${n.node}/${s.storage}`,
              type: 'storage',
              node: n.node,
              storage: s.storage,
              status: 'available',
              content: s.content.join(','),
              plugintype: s.type,
              maxdisk: s.total,
            });
          }
        }
      }
      return rows;
    });

    this.#route('GET', '/nodes/{node}/qemu', ({ caller, path }) => {
      this.#node(path.node);
      return this.state.vms
        .filter((vm) => vm.node === path.node && this.#can(caller, `/vms/${vm.vmid}`, 'VM.Audit'))
        .map((vm) => ({
          vmid: vm.vmid,
          name: vm.name,
          status: vm.status,
          ...(vm.template ? { template: 1 } : {}),
          tags: vm.tags.join(';'),
        }));
    });
    this.#route('GET', '/nodes/{node}/qemu/{vmid}/config', ({ caller, path }) => {
      const vm = this.#vm(path.node, path.vmid);
      this.#need(caller, `/vms/${vm.vmid}`, 'VM.Audit');
      const config: Record<string, unknown> = { ...vm.config };
      if (vm.lock) config.lock = vm.lock;
      if (vm.tags.length > 0) config.tags = vm.tags.join(';');
      config.digest = createHash('sha1').update(JSON.stringify(vm.config)).digest('hex');
      return config;
    });
    this.#route('POST', '/nodes/{node}/qemu/{vmid}/config', (ctx) => this.#updateConfig(ctx, true));
    this.#route('PUT', '/nodes/{node}/qemu/{vmid}/config', (ctx) => this.#updateConfig(ctx, false));
    this.#route('PUT', '/nodes/{node}/qemu/{vmid}/resize', (ctx) => this.#resize(ctx));
    this.#route('POST', '/nodes/{node}/qemu/{vmid}/clone', (ctx) => this.#clone(ctx));
    this.#route('DELETE', '/nodes/{node}/qemu/{vmid}', (ctx) => this.#destroy(ctx));
    this.#route('GET', '/nodes/{node}/qemu/{vmid}/status/current', ({ caller, path }) => {
      const vm = this.#vm(path.node, path.vmid);
      this.#need(caller, `/vms/${vm.vmid}`, 'VM.Audit');
      return {
        vmid: vm.vmid,
        name: vm.name,
        status: vm.status,
        qmpstatus: vm.status === 'running' ? 'running' : 'stopped',
        uptime: vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0,
        agent: agentEnabled(vm.config) ? 1 : 0,
        cpus: Number(vm.config.cores ?? 1),
        maxmem: Number(vm.config.memory ?? 512) * 1024 ** 2,
        ...(vm.template ? { template: 1 } : {}),
        ...(vm.lock ? { lock: vm.lock } : {}),
        ...(vm.tags.length ? { tags: vm.tags.join(';') } : {}),
      };
    });
    for (const action of ['start', 'stop', 'shutdown', 'reboot'] as const) {
      this.#route('POST', `/nodes/{node}/qemu/{vmid}/status/${action}`, (ctx) => this.#power(ctx, action));
    }
    this.#route('POST', '/nodes/{node}/qemu/{vmid}/agent/ping', ({ caller, path }) => {
      const vm = this.#vm(path.node, path.vmid);
      this.#need(caller, `/vms/${vm.vmid}`, 'VM.Monitor', 'VM.GuestAgent.Audit');
      const problem = this.#agentProblem(vm);
      if (problem) throw new SimHttpError(500, problem);
      return { result: {} };
    });
    this.#route('GET', '/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', ({ caller, path }) => {
      const vm = this.#vm(path.node, path.vmid);
      this.#need(caller, `/vms/${vm.vmid}`, 'VM.Monitor', 'VM.GuestAgent.Audit');
      const problem = this.#agentProblem(vm);
      if (problem) throw new SimHttpError(500, problem);
      const [ip, prefix] = (vm.ip ?? '').split('/');
      const mac = /=([0-9A-F:]{17})/i.exec(String(vm.config.net0 ?? ''))?.[1]?.toLowerCase() ?? vm.mac.toLowerCase();
      const suffix = mac.split(':').slice(3).join('');
      return {
        result: [
          {
            name: 'lo',
            'hardware-address': '00:00:00:00:00:00',
            'ip-addresses': [
              { 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 },
              { 'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128 },
            ],
            statistics: { 'rx-bytes': 0, 'tx-bytes': 0, 'rx-packets': 0, 'tx-packets': 0 },
          },
          {
            name: 'eth0',
            'hardware-address': mac,
            'ip-addresses': [
              ...(ip ? [{ 'ip-address': ip, 'ip-address-type': 'ipv4', prefix: Number(prefix) }] : []),
              {
                'ip-address': `fe80::be24:11ff:fe${suffix.slice(0, 2)}:${suffix.slice(2)}`,
                'ip-address-type': 'ipv6',
                prefix: 64,
              },
            ],
            statistics: { 'rx-bytes': 4096, 'tx-bytes': 2048, 'rx-packets': 40, 'tx-packets': 20 },
          },
        ],
      };
    });
    this.#route('GET', '/nodes/{node}/tasks/{upid}/status', ({ caller, path }) => {
      const task = this.#task(path.node, path.upid);
      if (task.user !== caller.name) this.#need(caller, `/nodes/${task.node}`, 'Sys.Audit');
      // latencyScale 0: instant, yet still asynchronous; the first poll sees 'running', the next one the result.
      if (task.status === 'running' && this.#options.latencyScale === 0) {
        if (task.polls > 0) this.#finishTask(task);
        task.polls++;
      }
      const parsed = parseUpid(task.upid);
      const data = {
        upid: task.upid,
        node: task.node,
        pid: parsed.pid,
        pstart: parsed.pstart,
        starttime: task.starttime,
        type: task.type,
        id: task.id,
        user: task.user.split('!')[0],
        ...(task.user.includes('!') ? { tokenid: task.user.split('!')[1] } : {}),
        status: task.status,
        ...(task.exitstatus !== undefined ? { exitstatus: task.exitstatus } : {}),
      };
      return data;
    });
    this.#route('GET', '/nodes/{node}/tasks/{upid}/log', ({ caller, path, params, envelope }) => {
      const task = this.#task(path.node, path.upid);
      if (task.user !== caller.name) this.#need(caller, `/nodes/${task.node}`, 'Sys.Audit');
      const start = Number(params.start ?? 0);
      const limit = Number(params.limit ?? 50);
      envelope.total = task.log.length;
      return task.log.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
    });
    this.#route('GET', '/nodes/{node}/storage', ({ caller, path, params }) => {
      this.#node(path.node);
      return this.state.storages
        .filter(
          (s) =>
            this.#can(caller, `/storage/${s.storage}`, 'Datastore.Audit') ||
            this.#can(caller, `/storage/${s.storage}`, 'Datastore.AllocateSpace'),
        )
        .filter((s) => !params.content || params.content.split(',').some((c) => s.content.includes(c)))
        .filter((s) => !params.storage || params.storage === s.storage)
        .map((s) => {
          const used = s.items.reduce((sum, item) => sum + (item.size ?? 0), 0);
          return {
            storage: s.storage,
            type: s.type,
            content: s.content.join(','),
            active: 1,
            enabled: 1,
            shared: 0,
            total: s.total,
            used,
            avail: s.total - used,
            used_fraction: used / s.total,
          };
        });
    });
    this.#route('GET', '/nodes/{node}/storage/{storage}/content', ({ caller, path, params }) => {
      this.#node(path.node);
      const storage = this.state.storages.find((s) => s.storage === path.storage);
      if (!storage) throw new SimHttpError(500, `storage '${path.storage}' does not exist`);
      this.#need(caller, `/storage/${storage.storage}`, 'Datastore.Audit', 'Datastore.AllocateSpace');
      if (params.content && !storage.content.includes(params.content)) return [];
      return storage.items
        .filter((item) => !params.content || item.content === params.content)
        .filter((item) => !params.vmid || new RegExp(`[:/](vm|base)-${params.vmid}-`).test(item.volid))
        .map((item) => {
          const owner = /[:/](?:vm|base)-(\d+)-/.exec(item.volid);
          return { ...item, ...(owner ? { vmid: Number(owner[1]) } : {}), ctime: 1700000000 };
        });
    });
  }

  // ---------------------------------------------------------------- VM operations

  #validateConfig(params: Record<string, string>): { set: Record<string, string | number>; remove: string[] } {
    const errors: Record<string, string> = {};
    const set: Record<string, string | number> = {};
    const remove = (params.delete ?? '').split(/[,;\s]+/).filter(Boolean);
    for (const [key, raw] of Object.entries(params)) {
      if (CONTROL_KEYS.has(key)) continue;
      if (!SIMPLE_KEYS.has(key) && !INDEXED_KEY.test(key)) {
        errors[key] = 'property is not defined in schema and the schema does not allow additional properties';
        continue;
      }
      if (key in INT_KEYS) {
        if (!/^-?\d+$/.test(raw)) errors[key] = `type check ('integer') failed - got '${raw}'`;
        else if (Number(raw) < INT_KEYS[key]) errors[key] = `value must have a minimum value of ${INT_KEYS[key]}`;
        else set[key] = Number(raw);
        continue;
      }
      if (BOOL_KEYS.has(key)) {
        if (!/^(0|1|yes|no|on|off|true|false)$/i.test(raw))
          errors[key] = `type check ('boolean') failed - got '${raw}'`;
        else set[key] = /^(1|yes|on|true)$/i.test(raw) ? 1 : 0;
        continue;
      }
      if (key === 'name' && !DNS_NAME.test(raw)) {
        errors[key] = 'invalid format - value does not look like a valid DNS name';
        continue;
      }
      if (key === 'sshkeys') {
        if (!URLENCODED.test(raw)) {
          errors[key] = `invalid format - invalid urlencoded string: ${raw}`;
          continue;
        }
        const keys = decodeURIComponent(raw)
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
        if (keys.some((k) => !/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]+(\s.*)?$/.test(k))) {
          errors[key] = 'SSH public key validation error';
          continue;
        }
      }
      if (/^ipconfig\d+$/.test(key)) {
        const ok = raw
          .split(',')
          .every((part) =>
            /^(ip=(dhcp|\d+\.\d+\.\d+\.\d+\/\d+)|gw=\d+\.\d+\.\d+\.\d+|ip6=(dhcp|auto|[0-9a-fA-F:]+\/\d+)|gw6=[0-9a-fA-F:]+)$/.test(
              part,
            ),
          );
        if (!ok) {
          errors[key] = `invalid format - format error\n${key}: unable to parse value`;
          continue;
        }
      }
      if (
        key === 'agent' &&
        !/^((enabled=)?[01])?(,?(fstrim_cloned_disks|type|freeze-fs-on-backup)=[^,]+)*$/.test(raw)
      ) {
        errors[key] = `invalid format - format error\nagent.enabled: type check ('boolean') failed - got '${raw}'`;
        continue;
      }
      if (key === 'tags' && !/^[a-zA-Z0-9_][a-zA-Z0-9_\-+.;, ]*$/.test(raw)) {
        errors[key] = 'invalid format - invalid characters in tag';
        continue;
      }
      set[key] = raw;
    }
    for (const key of remove) {
      if (key in set) errors[key] = `unable to delete '${key}' - option is also set`;
    }
    if (Object.keys(errors).length > 0) throw new SimHttpError(400, 'Parameter verification failed.', errors);
    if (Object.keys(set).length === 0 && remove.length === 0) {
      throw new SimHttpError(500, 'no options specified');
    }
    return { set, remove };
  }

  #applyConfig(vm: SimVm, set: Record<string, string | number>, remove: string[]): void {
    for (const key of remove) {
      delete vm.config[key];
      if (key === 'tags') vm.tags = [];
    }
    for (const [key, value] of Object.entries(set)) {
      vm.config[key] = value;
      if (key === 'name') vm.name = String(value);
      if (key === 'tags')
        vm.tags = String(value)
          .split(/[;, ]+/)
          .filter(Boolean);
      if (key === 'ipconfig0' && /ip=\d/.test(String(value))) vm.ip = undefined;
    }
  }

  #updateConfig(ctx: Ctx, async: boolean): unknown {
    const vm = this.#vm(ctx.path.node, ctx.path.vmid);
    const { set, remove } = this.#validateConfig(ctx.params);
    for (const key of new Set([...Object.keys(set), ...remove]))
      this.#need(ctx.caller, `/vms/${vm.vmid}`, configPrivilege(key));
    if (ctx.params.skiplock !== '1') this.#checkLock(vm);
    const lines = [
      ...Object.entries(set).map(([k, v]) => `update VM ${vm.vmid}: -${k} ${k === 'cipassword' ? '**********' : v}`),
      ...remove.map((k) => `delete VM ${vm.vmid}: ${k}`),
    ];
    if (!async) {
      this.#applyConfig(vm, set, remove);
      return null;
    }
    return this.#startTask(this.#node(vm.node), ctx.caller, 'qmconfig', String(vm.vmid), {
      vmid: vm.vmid,
      done: () => {
        this.#applyConfig(vm, set, remove);
        return lines;
      },
    });
  }

  #resize(ctx: Ctx): unknown {
    const vm = this.#vm(ctx.path.node, ctx.path.vmid);
    const { disk, size } = ctx.params;
    const errors: Record<string, string> = {};
    if (!disk) errors.disk = 'property is missing and it is not optional';
    else if (!DISK_KEY.test(disk) || disk.startsWith('unused'))
      errors.disk = `value '${disk}' does not have a value in the enumeration`;
    if (!size) errors.size = 'property is missing and it is not optional';
    else if (!/^\+?\d+(\.\d+)?[KMGT]?$/.test(size)) errors.size = `value does not match the regex pattern`;
    if (Object.keys(errors).length > 0) throw new SimHttpError(400, 'Parameter verification failed.', errors);
    this.#need(ctx.caller, `/vms/${vm.vmid}`, 'VM.Config.Disk');
    this.#checkLock(vm);
    const drive = vm.config[disk];
    if (drive === undefined) throw new SimHttpError(500, `disk '${disk}' does not exist`);
    if (/media=cdrom/.test(String(drive))) throw new SimHttpError(500, "you can't resize a cdrom");
    const current = parseSize(/size=([\d.]+[KMGT]?)/.exec(String(drive))?.[1] ?? '0') ?? 0;
    const delta = parseSize(size.replace(/^\+/, '')) ?? 0;
    const target = size.startsWith('+') ? current + delta : delta;
    if (target < current) throw new SimHttpError(500, 'shrinking disks is not supported');
    const volid = String(drive).split(',')[0];
    return this.#startTask(this.#node(vm.node), ctx.caller, 'resize', String(vm.vmid), {
      vmid: vm.vmid,
      done: () => {
        const newValue = /size=/.test(String(drive))
          ? String(drive).replace(/size=[\d.]+[KMGT]?/, `size=${formatSize(target)}`)
          : `${drive},size=${formatSize(target)}`;
        vm.config[disk] = newValue;
        for (const s of this.state.storages) for (const item of s.items) if (item.volid === volid) item.size = target;
        return [`  Size of logical volume ${volid} changed from ${formatSize(current)} to ${formatSize(target)}.`];
      },
    });
  }

  #clone(ctx: Ctx): unknown {
    const { caller, params } = ctx;
    const source = this.#vm(ctx.path.node, ctx.path.vmid);
    const errors: Record<string, string> = {};
    const newid = Number(params.newid);
    if (params.newid === undefined) errors.newid = 'property is missing and it is not optional';
    else if (!/^\d+$/.test(params.newid)) errors.newid = `type check ('integer') failed - got '${params.newid}'`;
    else if (newid < 100 || newid > 999999999) errors.newid = 'value must have a minimum value of 100';
    if (params.name !== undefined && !DNS_NAME.test(params.name))
      errors.name = 'invalid format - value does not look like a valid DNS name';
    if (params.full !== undefined && !/^[01]$/.test(params.full))
      errors.full = `type check ('boolean') failed - got '${params.full}'`;
    if (params.target !== undefined && !this.state.nodes.some((n) => n.node === params.target)) {
      errors.target = `no such cluster node '${params.target}'`;
    }
    if (Object.keys(errors).length > 0) throw new SimHttpError(400, 'Parameter verification failed.', errors);
    const full = params.full === undefined ? !source.template : params.full === '1';
    const targetNode = params.target ?? source.node;
    const storage = params.storage ? this.state.storages.find((s) => s.storage === params.storage) : undefined;
    this.#need(caller, `/vms/${source.vmid}`, 'VM.Clone');
    this.#need(caller, params.pool ? `/pool/${params.pool}` : `/vms/${newid}`, 'VM.Allocate');
    if (params.storage) {
      if (!storage) throw new SimHttpError(500, `storage '${params.storage}' does not exist`);
      this.#need(caller, `/storage/${storage.storage}`, 'Datastore.AllocateSpace');
      if (!storage.content.includes('images')) {
        throw new SimHttpError(500, `storage '${storage.storage}' does not support content-type 'images'`);
      }
      if (!full)
        throw new SimHttpError(400, 'Parameter verification failed.', {
          storage: 'option is only allowed for full clones',
        });
    }
    if (!full && !source.template) throw new SimHttpError(500, 'linked clone feature is only available for templates');
    if (this.state.vms.some((v) => v.vmid === newid)) {
      throw new SimHttpError(500, `unable to create VM ${newid}: config file already exists`);
    }
    // A template is shared-locked (concurrent linked clones are fine); any other source is exclusively locked.
    if (source.lock && !(source.template && source.lock === 'clone')) this.#checkLock(source);

    const config: Record<string, string | number> = {};
    const volumes: Array<{ storage: string; volid: string; size: number }> = [];
    const lines: string[] = [];
    let diskIndex = 0;
    for (const [key, value] of Object.entries(source.config)) {
      if (key === 'template' || key === 'name' || key === 'description') continue;
      const text = String(value);
      if (DISK_KEY.test(key) && !text.startsWith('none') && !/media=cdrom/.test(text.replace(/cloudinit.*/, ''))) {
        const [volid, ...opts] = text.split(',');
        const [srcStorage, volume] = volid.split(':');
        const sizeText = /size=([\d.]+[KMGT]?)/.exec(text)?.[1];
        if (/cloudinit/.test(volume ?? '')) {
          const st = storage?.storage ?? srcStorage;
          config[key] = [`${st}:vm-${newid}-cloudinit`, ...opts].join(',');
          volumes.push({ storage: st, volid: `${st}:vm-${newid}-cloudinit`, size: 4 * 1024 ** 2 });
          continue;
        }
        const st = full ? (storage?.storage ?? srcStorage) : srcStorage;
        const newVolume = full ? `vm-${newid}-disk-${diskIndex}` : `${volume}/vm-${newid}-disk-${diskIndex}`;
        diskIndex++;
        config[key] = [`${st}:${newVolume}`, ...opts].join(',');
        volumes.push({ storage: st, volid: `${st}:${newVolume}`, size: parseSize(sizeText ?? '0') ?? 0 });
        lines.push(`create ${full ? 'full' : 'linked'} clone of drive ${key} (${volid})`);
        continue;
      }
      if (/^net\d+$/.test(key)) {
        config[key] = text.replace(/=([0-9A-F]{2}:){5}[0-9A-F]{2}/i, `=${newMac(newid)}`);
        continue;
      }
      config[key] = value;
    }
    const name = params.name ?? `Copy-of-VM-${source.name}`;
    config.name = name;
    if (params.description !== undefined) config.description = params.description;
    const vm: SimVm = {
      vmid: newid,
      name,
      node: targetNode,
      template: false,
      tags: [...source.tags.filter((t) => t !== 'template')],
      status: 'stopped',
      config,
      lock: 'clone',
      mac: newMac(newid),
      pool: params.pool,
    };
    if (vm.tags.length > 0) vm.config.tags = vm.tags.join(';');
    else delete vm.config.tags;
    this.state.vms.push(vm);
    source.lock = 'clone';
    const releaseSource = () => {
      const stillCloning = this.state.tasks.some(
        (t) => t.status === 'running' && t.type === 'qmclone' && t.id === String(source.vmid),
      );
      if (!stillCloning && source.lock === 'clone') source.lock = undefined;
    };
    return this.#startTask(this.#node(source.node), caller, 'qmclone', String(source.vmid), {
      vmid: newid,
      durationMs: full ? TASK_MS.qmclone * 2 : TASK_MS.qmclone,
      done: () => {
        vm.lock = undefined;
        for (const v of volumes) {
          this.state.storages
            .find((s) => s.storage === v.storage)
            ?.items.push({ volid: v.volid, content: 'images', format: 'raw', size: v.size });
        }
        releaseSource();
        return lines;
      },
      failed: () => {
        this.state.vms = this.state.vms.filter((v) => v !== vm);
        releaseSource();
      },
    });
  }

  #power(ctx: Ctx, action: 'start' | 'stop' | 'shutdown' | 'reboot'): unknown {
    const vm = this.#vm(ctx.path.node, ctx.path.vmid);
    this.#need(ctx.caller, `/vms/${vm.vmid}`, 'VM.PowerMgmt');
    if (action !== 'stop' || ctx.params.skiplock !== '1') this.#checkLock(vm);
    if (vm.template) throw new SimHttpError(500, "you can't start a vm if it's a template");
    const node = this.#node(vm.node);
    const type = { start: 'qmstart', stop: 'qmstop', shutdown: 'qmshutdown', reboot: 'qmreboot' }[
      action
    ] as keyof typeof TASK_MS;
    return this.#startTask(node, ctx.caller, type, String(vm.vmid), {
      vmid: vm.vmid,
      done: () => {
        if (action === 'start') {
          if (vm.status === 'running') throw new TaskFailure(`VM ${vm.vmid} already running`);
          this.#boot(vm);
          return [`generating cloud-init ISO`];
        }
        if (action === 'stop') {
          if (vm.status === 'running') this.#powerOff(vm);
          return [];
        }
        if (vm.status !== 'running') throw new TaskFailure(`VM ${vm.vmid} not running`);
        this.#powerOff(vm);
        if (action === 'reboot') this.#boot(vm);
        return [];
      },
    });
  }

  #boot(vm: SimVm): void {
    const now = Date.now();
    vm.status = 'running';
    vm.startedAt = now;
    vm.agentLost = undefined;
    this.#allocateIp(vm);
    const delay = this.#scaled(this.#options.bootDelayMs);
    vm.bootedAt = now + delay;
    if (delay > 0) this.#timer(delay, () => this.#onBooted(vm));
    else this.#onBooted(vm);
  }

  #destroy(ctx: Ctx): unknown {
    const vm = this.#vm(ctx.path.node, ctx.path.vmid);
    this.#need(ctx.caller, `/vms/${vm.vmid}`, 'VM.Allocate');
    this.#checkLock(vm);
    if (vm.status === 'running') throw new SimHttpError(500, `VM ${vm.vmid} is running - destroy failed`);
    if (String(vm.config.protection ?? '0') === '1') {
      throw new SimHttpError(500, `can't remove VM ${vm.vmid} - protection mode enabled`);
    }
    const unreferenced = ctx.params['destroy-unreferenced-disks'] === '1' || ctx.params.purge === '1';
    vm.lock = 'destroyed';
    return this.#startTask(this.#node(vm.node), ctx.caller, 'qmdestroy', String(vm.vmid), {
      vmid: vm.vmid,
      done: () => {
        const referenced = new Set(
          Object.entries(vm.config)
            .filter(([k]) => DISK_KEY.test(k))
            .map(([, v]) => String(v).split(',')[0]),
        );
        const removed: string[] = [];
        for (const s of this.state.storages) {
          s.items = s.items.filter((item) => {
            // Only the last path element names the owner: base-9000-disk-0/vm-101-disk-0 belongs to 101.
            const owned = new RegExp(`^(vm|base)-${vm.vmid}-`).test(item.volid.split(':')[1]?.split('/').pop() ?? '');
            const drop = referenced.has(item.volid) || (unreferenced && owned);
            if (drop) removed.push(item.volid);
            return !drop;
          });
        }
        this.state.vms = this.state.vms.filter((v) => v !== vm);
        void this.#stopNested(vm, true);
        return removed.map((volid) => `Removing image: ${volid}`);
      },
      failed: () => {
        vm.lock = undefined;
      },
    });
  }
}
