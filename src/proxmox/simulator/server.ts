/**
 * A Proxmox VE API simulator: the JSON API subset strata's client uses, served under /api2/json with PVE's envelopes,
 * error shapes, privilege checks and asynchronous tasks (real UPIDs). Built on node:http(s) directly rather than a
 * web framework because PVE reports errors in the HTTP reason phrase, and fault injection needs to hold a request
 * open forever; both are plain on a raw ServerResponse.
 *
 * This file is the server's lifecycle and request dispatch; the routes live in routes/, one module per resource.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SimContext } from './context.ts';
import { FaultBook, type SimFault } from './faults.ts';
import { agentProblem, Guests } from './guests.ts';
import { type Ctx, type Router, readParams, SimHttpError, send } from './http.ts';
import { findNode } from './lookup.ts';
import { type NestedEndpoint, NestedHosts } from './nested.ts';
import { type ResolvedOptions, resolveOptions, type SimulatorOptions } from './options.ts';
import { authenticate, TicketSigner } from './permissions.ts';
import { handleControl } from './routes/control.ts';
import { apiRoutes } from './routes/index.ts';
import { validate } from './schema.ts';
import { defaultSeed, type SimRequest, type SimState, stateFromSeed } from './state.ts';
import { TaskRunner } from './tasks.ts';
import { Timers } from './timers.ts';
import { makeNodeCertificate, type SimCertificate } from './tls.ts';

export type { SimFault } from './faults.ts';
export type { NestedEndpoint } from './nested.ts';
export type { SimulatorOptions } from './options.ts';

export class PveSimulator {
  readonly state: SimState;
  readonly #options: ResolvedOptions;
  readonly #faults: FaultBook;
  readonly #timers = new Timers();
  readonly #nested: NestedHosts<PveSimulator>;
  readonly #routes: Router;
  readonly #signer = new TicketSigner();
  #server?: Server;
  #certificate?: SimCertificate;
  #port: number;
  readonly #requestedPort: number;

  constructor(options: SimulatorOptions = {}) {
    this.state = stateFromSeed(options.seed ?? defaultSeed());
    this.#port = options.port ?? 0;
    this.#requestedPort = this.#port;
    this.#options = resolveOptions(options);
    this.#faults = new FaultBook(this.state);
    this.#nested = new NestedHosts(this.state, this.#options, this.#timers, (inner) => new PveSimulator(inner));
    const context: SimContext = {
      state: this.state,
      options: this.#options,
      tasks: new TaskRunner(this.state, this.#faults, this.#timers, this.#options),
      guests: new Guests(this.#options, this.#timers, this.#nested),
      signer: this.#signer,
      flocks: new Map(),
      certificate: () => this.#certificate,
    };
    this.#routes = apiRoutes(context);
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
      this.#handle(req, res).catch((error) => send(res, 500, { data: null }, String(error)));
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
    this.#timers.close();
    await this.#nested.closeAll();
    await this.stopListening();
  }

  inject(fault: SimFault): number {
    return this.#faults.inject(fault);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  nestedEndpoints(): NestedEndpoint[] {
    return this.#nested.endpoints();
  }

  nested(vmid: number): PveSimulator | undefined {
    return this.#nested.get(vmid);
  }

  #authenticate(req: IncomingMessage, method: string) {
    return authenticate(this.state, this.#signer, req.headers, method);
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
        agent: agentProblem(vm, now) ?? 'ready',
      })),
      pools: [...this.state.pools],
      users: this.state.users.map((u) => ({
        userid: u.userid,
        privileges: u.privileges,
        tokens: u.tokens.map(({ secret: _secret, ...t }) => t),
      })),
      tasks: this.state.tasks.map(({ polls: _polls, ...t }) => structuredClone(t)),
      requests: structuredClone(this.state.requests),
      faults: this.#faults.list(),
      nested: this.nestedEndpoints(),
      nestedErrors: this.#nested.errors(),
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname.startsWith('/_sim/')) {
      return handleControl(
        {
          snapshot: () => this.snapshot(),
          faults: () => this.#faults.list(),
          inject: (fault) => this.inject(fault),
          clearFaults: () => this.clearFaults(),
          nestedEndpoints: () => this.nestedEndpoints(),
          nestedEndpoint: (vmid) => this.#nested.endpoint(vmid),
        },
        method,
        url,
        req,
        res,
      );
    }
    if (!url.pathname.startsWith('/api2/json/')) {
      return send(res, 501, { data: null }, `Method '${method} ${url.pathname}' not implemented`);
    }
    return this.#api(method, url, req, res);
  }

  /** One /api2/json request: recorded, checked against injected faults, authenticated, routed, answered. */
  async #api(method: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = url.pathname.slice('/api2/json'.length).replace(/\/+$/, '');
    const record: SimRequest = { method, path, status: null };
    this.state.requests.push(record);
    if (this.state.requests.length > 100_000) this.state.requests.shift();
    const reply = (status: number, body: unknown, reason?: string) => {
      record.status = status;
      if (status >= 400) {
        const errors = (body as { errors?: Record<string, string> } | undefined)?.errors;
        record.error = `${reason ?? ''}${errors ? ` ${JSON.stringify(errors)}` : ''}`;
      }
      send(res, status, body, reason);
    };

    const fault = this.#faults.takeRequestFault(method, path);
    if (fault?.kind === 'hang') return; // left open: the server closes it on shutdown
    if (fault?.kind === 'http-error') {
      const status = fault.status ?? 500;
      const message = fault.message ?? 'simulated failure (injected fault)';
      return reply(status, { data: null, message: `${message}\n` }, message);
    }

    try {
      const params = await readParams(req, url, method);
      const match = this.#routes.match(method, path);
      const caller = match?.route.noAuth ? undefined : this.#authenticate(req, method);
      if (!match) throw new SimHttpError(501, `Method '${method} ${path}' not implemented`);
      const { route } = match;
      for (const [key, value] of Object.entries(match.path)) {
        if (params[key] !== undefined && String(params[key]) !== value) {
          throw new SimHttpError(400, 'Parameter verification failed.', {
            [key]: 'duplicate parameter (already defined in URI) with conflicting values!',
          });
        }
        params[key] = value;
      }
      if (caller) route.check?.(caller, params);
      // pveproxy hands the request to the node it names (proxyto) before the handler verifies the parameters.
      if (match.path.node !== undefined) findNode(this.state, match.path.node);
      const ctx: Ctx = {
        caller: caller as Ctx['caller'],
        params: validate(route.schema, params, route.schemaFor),
        envelope: {},
      };
      const data = route.handler(ctx);
      return reply(200, { ...ctx.envelope, data: data === undefined ? null : data });
    } catch (error) {
      if (error instanceof SimHttpError && error.status === 401 && error.pveMessage !== 'authentication failure') {
        // pveproxy answers failed logins after 3 s, with the reason only (no body).
        const delay = this.#options.authFailureDelayMs * this.#options.latencyScale;
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        return reply(401, undefined, error.pveMessage);
      }
      if (error instanceof SimHttpError) {
        const body: Record<string, unknown> = { data: null, message: `${error.pveMessage}\n` };
        if (error.errors) body.errors = error.errors;
        return reply(error.status, body, error.pveMessage);
      }
      if (error instanceof SyntaxError) return reply(400, { data: null }, `invalid JSON body: ${error.message}`);
      throw error;
    }
  }
}
