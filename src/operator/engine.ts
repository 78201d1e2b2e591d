/**
 * The operator: walks a manifest's node graph to create, destroy or test it on Proxmox VE.
 * Ordering and parallel siblings come from the shared graph scheduler; every node transition is persisted to the
 * execution state before the run moves on, and the Proxmox API (names + marker) is the second source of truth that
 * makes resume after SIGKILL and destroy without state work.
 */
import { connect as netConnect } from 'node:net';
import { StrataError } from '../errors.ts';
import { type GraphNode, runGraph } from '../graph/index.ts';
import { PveClient, type PveEndpoint, type PveVmSummary } from '../proxmox/client.ts';
import { sleep } from '../util/fs.ts';
import { globalMasker } from '../util/mask.ts';
import {
  type ProxmoxTarget,
  proxmoxSettings,
  proxmoxTarget,
  type ResolvedNode,
  resolveNodes,
  type StackContext,
  vmMarker,
  vmName,
  vmTags,
} from './context.ts';
import { childrenOf, type Manifest, type ManifestPlan, type OnError, planManifest } from './manifest.ts';
import { addressLocator, type NestedAccess, type NestedHost, type NestedLocator, simulatorLocator } from './nested.ts';
import {
  createVm,
  destroyVm,
  type Identity,
  ownedBy,
  type Target,
  VmidAllocator,
  type Waits,
} from './provisioners/proxmox-api.ts';
import { describeCommands, hasTofuState, runTofu, tofuCommands, tofuDir, writeModule } from './provisioners/tofu.ts';
import {
  acquireLock,
  type DelegationState,
  type ExecutionState,
  type NodeState,
  type NodeStatus,
  newState,
  readState,
  StateStore,
  statePaths,
} from './state.ts';

export type Verb = 'create' | 'destroy' | 'test';

export interface ProgressEvent {
  node: string;
  status: NodeStatus;
  /** Step inside a running node: lookup, clone, configure, resize, start, wait_ip, delegate, destroy, ... */
  phase?: string;
  vm_id?: number;
  ip?: string;
  error?: string;
}

export interface OperatorOptions {
  manifest: Manifest;
  /** The stack the manifest runs against; optional only for a dry run of a manifest without presets. */
  context?: StackContext;
  /** Folder for execution state and locks (.strata/state). */
  stateDir: string;
  /** Folder for generated tofu modules (.strata). */
  workDir: string;
  env?: NodeJS.ProcessEnv;
  dryRun?: boolean;
  maxConcurrency?: number;
  /** Overrides the manifest's settings.on_error. */
  onError?: OnError;
  /** Poll interval for tasks, the guest agent and nested APIs (default: settings.proxmox.poll_ms or 1000). */
  pollMs?: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Human log lines (dry-run plan, warnings). */
  log?: (line: string) => void;
  /** Recorded in the lock file. */
  command?: string;
  /** tofu or terraform. */
  tofuBinary?: string;
  /** How to reach nested PVE hosts (default: settings.proxmox.nested, i.e. https://<ip>:8006). */
  nestedLocator?: NestedLocator;
  /** Running against the PVE simulator: nested hosts come from its control API and guests have no TCP. */
  simulated?: boolean;
}

export interface PhaseResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  duration: number;
  message?: string;
}

export interface NodeReport {
  name: string;
  status: NodeStatus;
  vm_id?: number;
  ip?: string;
  duration?: number;
  error?: string;
}

/** The seed's JSON output (scenario, success, duration_seconds, phases, context, error) plus nodes. */
export interface RunResult {
  scenario: string;
  verb: Verb;
  manifest: string;
  stack: string;
  success: boolean;
  duration_seconds: number;
  phases: PhaseResult[];
  nodes: NodeReport[];
  context: Record<string, unknown>;
  error?: string;
  dry_run?: boolean;
  /** What a dry run would do, one line per action. */
  plan?: string[];
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const now = () => Date.now() / 1000;

function message(error: unknown): string {
  if (error instanceof StrataError && error.details) return globalMasker.mask(`${error.message}\n${error.details}`);
  if (error instanceof Error) return globalMasker.mask(error.message);
  return globalMasker.mask(String(error));
}

/** TCP connect with a deadline: the `test` verify step (SSH or any port answering). */
export async function portOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

interface NestedSettings {
  locator?: string;
  port: number;
  scheme: string;
  bootstrapToken?: string;
  storage?: string;
  bridge?: string;
}

function nestedSettings(context: StackContext, env: NodeJS.ProcessEnv): NestedSettings {
  const proxmox = proxmoxSettings(context);
  const nested = (proxmox.nested ?? {}) as Record<string, unknown>;
  const tokenEnv = typeof nested.bootstrap_token_env === 'string' ? nested.bootstrap_token_env : undefined;
  return {
    locator: typeof nested.locator === 'string' ? nested.locator : undefined,
    port: typeof nested.port === 'number' ? nested.port : 8006,
    scheme: nested.scheme === 'http' ? 'http' : 'https',
    bootstrapToken: tokenEnv ? env[tokenEnv] : undefined,
    storage: typeof nested.storage === 'string' ? nested.storage : undefined,
    bridge: typeof nested.bridge === 'string' ? nested.bridge : undefined,
  };
}

class Operator {
  readonly o: OperatorOptions;
  readonly manifest: Manifest;
  readonly plan: ManifestPlan;
  readonly stack: string;
  readonly env: NodeJS.ProcessEnv;
  readonly children: Map<string, string[]>;
  resolved!: Map<string, ResolvedNode>;
  outer!: ProxmoxTarget;
  outerTarget!: Target;
  store!: StateStore;
  waits!: Waits;
  readonly inner = new Map<string, Target>();
  readonly clients: PveClient[] = [];
  readonly allocators = new Map<string, VmidAllocator>();
  /** Nodes this run brought to completed, in completion order (what rollback undoes). */
  readonly created: string[] = [];

  constructor(options: OperatorOptions) {
    this.o = options;
    this.manifest = options.manifest;
    this.plan = planManifest(options.manifest);
    this.stack = options.context?.stack ?? '';
    this.env = options.env ?? process.env;
    this.children = childrenOf(options.manifest).children;
  }

  emit(event: ProgressEvent): void {
    this.o.onProgress?.(event);
  }

  log(line: string): void {
    this.o.log?.(line);
  }

  identity(node: string): Identity {
    return {
      manifest: this.manifest.name,
      stack: this.stack,
      node,
      vmName: vmName(this.manifest.name, node),
      // `pve` marks a nested PVE host (the simulator boots those as new API endpoints).
      tags: this.resolved?.get(node)?.type === 'pve' ? [...vmTags(this.stack), 'pve'] : vmTags(this.stack),
      marker: vmMarker(this.manifest.name, this.stack, node),
    };
  }

  provisionerOf(node: ResolvedNode): 'proxmox-api' | 'tofu' {
    return node.provisioner ?? this.manifest.settings.provisioner;
  }

  /** Resolves nodes and the stack's Proxmox target; opens the outer API client. */
  setup(needTarget: boolean): void {
    this.resolved = resolveNodes(this.manifest, this.o.context);
    if (!needTarget) return;
    if (!this.o.context) {
      throw new StrataError('This command needs a stack: pass -s <stack>', {
        hint: 'The stack gives the Proxmox endpoint (settings.proxmox) and the presets and images (vars).',
      });
    }
    this.outer = proxmoxTarget(this.o.context, this.env);
    const proxmox = proxmoxSettings(this.o.context);
    const pollMs = this.o.pollMs ?? (typeof proxmox.poll_ms === 'number' ? proxmox.poll_ms : 1000);
    const t = this.manifest.settings.timeouts;
    this.waits = { taskMs: t.task * 1000, waitIpMs: t.waitIp * 1000, pollMs, signal: this.o.signal };
    this.outerTarget = this.makeTarget(this.outer.endpoint, this.outer.node, this.outer);
  }

  makeTarget(
    endpoint: PveEndpoint,
    node: string,
    options: Pick<ProxmoxTarget, 'storage' | 'bridge' | 'ciuser' | 'sshKeys' | 'nameserver'>,
  ): Target {
    const client = new PveClient(endpoint);
    this.clients.push(client);
    return { client, url: endpoint.url, node, ...options };
  }

  allocator(url: string): VmidAllocator {
    let allocator = this.allocators.get(url);
    if (!allocator) {
      allocator = new VmidAllocator();
      this.allocators.set(url, allocator);
    }
    return allocator;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
  }

  /** The host a node is created on: the stack's host for roots, its parent's nested PVE for the others. */
  targetOf(name: string): Target | undefined {
    const parent = this.resolved.get(name)?.parent;
    if (parent === undefined) return this.outerTarget;
    return this.inner.get(parent);
  }

  async transition(name: string, change: Partial<NodeState>): Promise<void> {
    await this.store.update(name, change);
    const state = this.store.node(name);
    this.emit({
      node: name,
      status: state.status,
      phase: state.phase,
      vm_id: state.vm_id,
      ip: state.ip,
      error: state.error,
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Nested PVE: reach the inner host's API and create a token there for this manifest.

  async delegate(name: string, ip: string, vmid: number, outer: Target): Promise<void> {
    const saved = this.store.state.delegations[name];
    if (saved) {
      const target = this.makeTarget(
        { url: saved.url, tokenId: saved.token_id, tokenSecret: saved.token_secret, fingerprint: saved.fingerprint },
        saved.pve_node,
        this.innerOptions(),
      );
      try {
        await target.client.version();
        this.inner.set(name, target);
        return;
      } catch {
        // The saved token no longer works (host re-created): make a new one below.
      }
    }
    const nested = nestedSettings(this.o.context as StackContext, this.env);
    const locate =
      this.o.nestedLocator ??
      (nested.locator === 'simulator' || this.o.simulated
        ? simulatorLocator
        : addressLocator({ port: nested.port, scheme: nested.scheme, bootstrapToken: nested.bootstrapToken }));
    const host: NestedHost = {
      name,
      vmid,
      ip,
      outerUrl: outer.url,
      outerToken: { tokenId: outer.client.endpoint.tokenId, tokenSecret: outer.client.endpoint.tokenSecret },
    };
    const deadline = Date.now() + this.manifest.settings.timeouts.innerApi * 1000;
    let lastError: unknown;
    let access: NestedAccess | undefined;
    let client: PveClient | undefined;
    for (;;) {
      try {
        access = await locate(host);
        client = new PveClient({ ...access, timeoutMs: 10_000, retries: 0 });
        this.clients.push(client);
        await client.version();
        break;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        throw new StrataError(`Nested PVE '${name}': its API did not answer: ${message(lastError)}`, {
          hint: 'The image must start pveproxy on boot; raise settings.timeouts.inner_api, or check settings.proxmox.nested (port, bootstrap_token_env).',
        });
      }
      await sleep(this.waits.pollMs, this.o.signal);
    }
    const pveNode = (await client.nodes())[0]?.node;
    if (!pveNode) throw new StrataError(`Nested PVE '${name}' at ${access.url} lists no node`);
    const userid = access.tokenId.split('!')[0];
    const token = await client.createApiToken(userid, `strata-${Date.now().toString(36)}`, {
      privsep: false,
      comment: `strata manifest ${this.manifest.name} stack ${this.stack}`,
    });
    const delegation: DelegationState = {
      url: access.url,
      token_id: token.fullTokenId,
      token_secret: token.value,
      fingerprint: access.fingerprint,
      pve_node: pveNode,
    };
    this.store.state.delegations[name] = delegation;
    await this.store.save();
    this.inner.set(
      name,
      this.makeTarget(
        {
          url: access.url,
          tokenId: token.fullTokenId,
          tokenSecret: token.value,
          fingerprint: access.fingerprint,
          ca: access.ca,
        },
        pveNode,
        this.innerOptions(),
      ),
    );
  }

  innerOptions(): Pick<ProxmoxTarget, 'storage' | 'bridge' | 'ciuser' | 'sshKeys' | 'nameserver'> {
    const nested = nestedSettings(this.o.context as StackContext, this.env);
    return {
      storage: nested.storage,
      bridge: nested.bridge ?? this.outer.bridge,
      ciuser: this.outer.ciuser,
      sshKeys: this.outer.sshKeys,
      nameserver: this.outer.nameserver,
    };
  }

  /** Reconnects to the nested hosts recorded in the state (for destroy and resume). */
  async reopenDelegations(): Promise<void> {
    for (const [name, saved] of Object.entries(this.store.state.delegations)) {
      if (!this.resolved.has(name)) continue;
      this.inner.set(
        name,
        this.makeTarget(
          { url: saved.url, tokenId: saved.token_id, tokenSecret: saved.token_secret, fingerprint: saved.fingerprint },
          saved.pve_node,
          this.innerOptions(),
        ),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Create

  async vmAlive(target: Target, state: NodeState): Promise<boolean> {
    if (state.vm_id === undefined) return false;
    const vm = (await target.client.listVms()).find((v) => v.vmid === state.vm_id);
    return vm !== undefined && vm.name === vmName(this.manifest.name, state.name) && vm.status === 'running';
  }

  async createNode(name: string): Promise<void> {
    const node = this.resolved.get(name) as ResolvedNode;
    const target = this.targetOf(name);
    if (!target) throw new StrataError(`Node '${name}': its parent's API is not available`);
    const state = this.store.node(name);
    const hasChildren = (this.children.get(name) ?? []).length > 0;
    const provisioner = this.provisionerOf(node);
    if (state.status === 'completed' && provisioner === 'proxmox-api' && (await this.vmAlive(target, state))) {
      // Completed by an earlier run: keep it; a nested host only needs its API handle again.
      this.emit({ node: name, status: 'completed', phase: 'kept', vm_id: state.vm_id, ip: state.ip });
      if (node.type === 'pve' && hasChildren && state.ip && state.vm_id !== undefined) {
        await this.delegate(name, state.ip, state.vm_id, target);
      }
      return;
    }
    const resumeTask = state.task;
    await this.transition(name, {
      status: 'running',
      started_at: now(),
      completed_at: undefined,
      error: undefined,
      endpoint: target.url,
      phase: 'lookup',
    });
    try {
      let vmid: number | undefined;
      let ip: string | undefined;
      let pveNode = target.node;
      if (provisioner === 'tofu') {
        const dir = tofuDir(this.o.workDir, this.manifest.name, this.stack, name);
        await writeModule(dir, this.tofuInput(node, target));
        await this.transition(name, { phase: 'apply' });
        const result = await runTofu(
          tofuCommands(dir, 'apply', { TF_VAR_api_token: this.apiToken(target) }, this.o.tofuBinary),
          { prefix: `[${name}] `, signal: this.o.signal, timeoutMs: this.waits.taskMs * 2 },
        );
        vmid = result.vmid;
        ip = result.ip;
        pveNode = result.pveNode ?? pveNode;
      } else {
        const created = await createVm(
          target,
          node,
          this.identity(name),
          this.allocator(target.url),
          this.waits,
          (phase, change) => this.transition(name, { phase, ...change }),
          resumeTask,
        );
        vmid = created.vmid;
        ip = created.ip;
        pveNode = created.pveNode;
        if (created.adopted) this.log(`${name}: adopted VM ${vmid} left by an interrupted run`);
      }
      await this.transition(name, { vm_id: vmid, ip, pve_node: pveNode });
      if (node.type === 'pve' && hasChildren) {
        if (!ip || vmid === undefined) throw new StrataError(`Nested PVE '${name}' has no IP to reach its API`);
        await this.transition(name, { phase: 'delegate' });
        await this.delegate(name, ip, vmid, target);
      }
      await this.transition(name, { status: 'completed', phase: 'done', task: undefined, completed_at: now() });
      this.created.push(name);
    } catch (error) {
      await this.transition(name, { status: 'failed', error: message(error), completed_at: now() });
      throw error;
    }
  }

  apiToken(target: Target): string {
    const endpoint = target.client.endpoint;
    return `${endpoint.tokenId}=${endpoint.tokenSecret}`;
  }

  tofuInput(node: ResolvedNode, target: Target) {
    return {
      node,
      id: this.identity(node.name),
      endpoint: { url: target.url, insecure: target.client.endpoint.insecure },
      pveNode: target.node,
      target,
    };
  }

  async runCreate(): Promise<{ ok: boolean; error?: string }> {
    const onError = this.o.onError ?? this.manifest.settings.onError;
    const nodes: GraphNode<undefined>[] = this.plan.create_order.map((name) => {
      const parent = this.resolved.get(name)?.parent;
      return { id: name, needs: parent === undefined ? [] : [parent], data: undefined };
    });
    // Nodes that were running when an earlier run died start again from "lookup": mark them pending first.
    for (const name of this.plan.create_order) {
      const state = this.store.node(name);
      if (state.status !== 'completed') state.status = 'pending';
    }
    await this.store.save();
    const result = await runGraph(nodes, (node) => this.createNode(node.id), {
      maxConcurrency: this.o.maxConcurrency ?? this.manifest.settings.maxConcurrency ?? 4,
      onError: onError === 'continue' ? 'continue' : 'stop',
      signal: this.o.signal,
    });
    for (const [name, outcome] of result.outcomes) {
      if (outcome.outcome === 'skipped') {
        const parent = this.resolved.get(name)?.parent;
        await this.transition(name, { status: 'skipped', error: `not created: '${parent}' (or an ancestor) failed` });
      }
    }
    this.store.state.completed_at = now();
    await this.store.save();
    if (result.failed.length === 0 && !this.o.signal?.aborted) return { ok: true };
    const first = result.failed[0];
    const error = first
      ? `Failed node(s): ${result.failed.join(', ')} (${first}: ${message(result.outcomes.get(first)?.error)})`
      : 'Interrupted';
    if (onError === 'rollback') await this.rollback();
    return { ok: false, error };
  }

  /** Destroys what this run created plus the failed nodes' half-created VMs, children before parents. */
  async rollback(): Promise<void> {
    this.discovered.clear();
    const undo = new Set(this.created);
    for (const name of this.plan.create_order) {
      const state = this.store.node(name);
      if (state.status === 'failed' && state.vm_id !== undefined) undo.add(name);
    }
    for (const name of this.plan.destroy_order) {
      if (!undo.has(name)) continue;
      await this.destroyNode(name, { rollback: true });
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Destroy

  /** One listing per host and destroy pass: every node of the pass reads the same snapshot. */
  readonly discovered = new Map<string, Promise<Map<string, PveVmSummary[]>>>();

  discoverOnce(target: Target): Promise<Map<string, PveVmSummary[]>> {
    let found = this.discovered.get(target.url);
    if (!found) {
      found = this.discover(target);
      this.discovered.set(target.url, found);
      // A failed listing is not cached: the next node asks again.
      found.catch(() => this.discovered.delete(target.url));
    }
    return found;
  }

  /** VMs of this manifest on a host, by name and marker: the API as the source of truth when the state is gone. */
  async discover(target: Target): Promise<Map<string, PveVmSummary[]>> {
    const names = new Map<string, string>();
    for (const node of this.manifest.nodes) names.set(vmName(this.manifest.name, node.name), node.name);
    const found = new Map<string, PveVmSummary[]>();
    for (const vm of await target.client.listVms()) {
      const node = names.get(vm.name);
      if (vm.template || node === undefined) continue;
      if (!(await ownedBy(target, vm, vmMarker(this.manifest.name, this.stack, node)))) continue;
      const list = found.get(node) ?? [];
      list.push(vm);
      found.set(node, list);
    }
    return found;
  }

  async destroyNode(name: string, options: { rollback?: boolean } = {}): Promise<void> {
    const node = this.resolved.get(name) as ResolvedNode;
    const parent = node.parent;
    const target = this.targetOf(name);
    if (!target) {
      // No API handle for the nested host (state lost): the VM lives inside its host and goes away with it.
      await this.transition(name, {
        status: 'destroyed',
        phase: 'with_host',
        error: undefined,
        completed_at: now(),
      });
      this.log(`${name}: removed together with its host '${parent}'`);
      return;
    }
    await this.transition(name, { phase: 'destroy', error: undefined });
    try {
      if (this.provisionerOf(node) === 'tofu') {
        const dir = tofuDir(this.o.workDir, this.manifest.name, this.stack, name);
        if (await hasTofuState(dir)) {
          await writeModule(dir, this.tofuInput(node, target));
          await runTofu(tofuCommands(dir, 'destroy', { TF_VAR_api_token: this.apiToken(target) }, this.o.tofuBinary), {
            prefix: `[${name}] `,
            signal: this.o.signal,
            timeoutMs: this.waits.taskMs,
          });
        }
      }
      const vms = (await this.discoverOnce(target)).get(name) ?? [];
      const ids = new Map<number, string>(vms.map((v) => [v.vmid, v.node]));
      for (const [vmid, pveNode] of ids) await destroyVm(target, pveNode, vmid, this.waits);
      if (node.type === 'pve') {
        this.inner.delete(name);
        delete this.store.state.delegations[name];
      }
      await this.transition(name, {
        status: 'destroyed',
        phase: options.rollback ? 'rolled_back' : 'destroyed',
        vm_id: undefined,
        ip: undefined,
        completed_at: now(),
      });
    } catch (error) {
      await this.transition(name, { status: 'failed', error: message(error), completed_at: now() });
      throw error;
    }
  }

  async runDestroy(): Promise<{ ok: boolean; error?: string }> {
    this.discovered.clear();
    await this.reopenDelegations();
    // Reverse graph: a node waits for its children; siblings are destroyed in parallel.
    const nodes: GraphNode<undefined>[] = this.plan.destroy_order.map((name) => ({
      id: name,
      needs: this.children.get(name) ?? [],
      data: undefined,
    }));
    const failures: string[] = [];
    await runGraph(
      nodes,
      async (node) => {
        try {
          await this.destroyNode(node.id);
        } catch (error) {
          // Keep going: a host is destroyed even when one of its children could not be (it goes away with it).
          failures.push(`${node.id}: ${message(error)}`);
        }
      },
      { maxConcurrency: this.o.maxConcurrency ?? this.manifest.settings.maxConcurrency ?? 4, signal: this.o.signal },
    );
    this.store.state.completed_at = now();
    await this.store.save();
    if (failures.length > 0) return { ok: false, error: `Destroy failed for ${failures.join('; ')}` };
    if (this.o.signal?.aborted) return { ok: false, error: 'Interrupted' };
    return { ok: true };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Verify (test)

  /**
   * Every created node must have an IP and a guest agent that answers; with verify_ssh its port must accept a TCP
   * connection. Against the simulator the guests have no network stack, so the agent answer is the whole check.
   */
  async runVerify(): Promise<{ ok: boolean; message: string }> {
    const settings = this.manifest.settings;
    const nodes = this.plan.create_order.map((n) => this.store.node(n)).filter((n) => n.status === 'completed');
    const missing = nodes.filter((n) => !n.ip).map((n) => n.name);
    if (missing.length > 0) return { ok: false, message: `No IP for node(s): ${missing.join(', ')}` };
    const deadline = Date.now() + settings.timeouts.verify * 1000;
    const checkPort = settings.verifySsh && !this.o.simulated;
    const pending = new Set(nodes.map((n) => n.name));
    const problems = new Map<string, string>();
    while (pending.size > 0) {
      await Promise.all(
        [...pending].map(async (name) => {
          const state = this.store.node(name);
          const target = this.targetOf(name);
          try {
            if (!target || !(await target.client.agentPing(state.pve_node ?? target.node, state.vm_id as number))) {
              problems.set(name, `${name}: guest agent not answering`);
              return;
            }
          } catch (error) {
            problems.set(name, `${name}: ${message(error)}`);
            return;
          }
          if (checkPort && !(await portOpen(state.ip as string, settings.verifyPort, 3000))) {
            problems.set(name, `${name} (${state.ip}): port ${settings.verifyPort} not reachable`);
            return;
          }
          problems.delete(name);
          pending.delete(name);
        }),
      );
      if (pending.size === 0) break;
      if (Date.now() > deadline) return { ok: false, message: `Verify failed: ${[...problems.values()].join('; ')}` };
      await sleep(this.waits.pollMs, this.o.signal);
    }
    const what = checkPort
      ? `guest agent up and port ${settings.verifyPort} reachable`
      : this.o.simulated && settings.verifySsh
        ? 'guest agent up (simulator: no TCP to guests, port check skipped)'
        : 'guest agent up';
    return { ok: true, message: `All ${nodes.length} node(s) verified: ${what}` };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Dry run

  dryRunPlan(verb: Verb): string[] {
    const lines: string[] = [];
    const depth = new Map<string, number>();
    this.plan.levels.forEach((level, i) => {
      for (const n of level) depth.set(n, i);
    });
    const order = verb === 'destroy' ? this.plan.destroy_order : this.plan.create_order;
    lines.push(`DRY-RUN ${verb.toUpperCase()}: ${this.manifest.name}${this.stack ? ` (stack ${this.stack})` : ''}`);
    lines.push(`Pattern: ${this.manifest.pattern}, on_error: ${this.o.onError ?? this.manifest.settings.onError}`);
    for (const name of order) {
      const node = this.resolved.get(name) as ResolvedNode;
      const where = node.parent ? `on nested PVE '${node.parent}'` : 'on the stack host';
      const size = [
        node.cores !== undefined ? `${node.cores} cores` : undefined,
        node.memory !== undefined ? `${node.memory} MiB` : undefined,
        node.disk !== undefined ? `${node.disk} GB disk` : undefined,
      ].filter(Boolean);
      const id = node.vmid !== undefined ? `vmid ${node.vmid}` : 'next free vmid';
      const vm = vmName(this.manifest.name, name);
      if (verb === 'destroy') {
        lines.push(`  [${depth.get(name)}] ${name}: destroy VM '${vm}' ${where}`);
        continue;
      }
      const image = node.image
        ? `clone '${node.imageRef.templateVmid ?? node.imageRef.template}' (image ${node.image})`
        : 'clone (no image: template from the provisioner)';
      lines.push(
        `  [${depth.get(name)}] ${name}: ${node.type} ${where} via ${this.provisionerOf(node)}: ${image} -> VM '${vm}', ${id}${size.length ? `, ${size.join(', ')}` : ''}; start; wait for IP`,
      );
      const children = this.children.get(name) ?? [];
      if (children.length > 0) lines.push(`      delegates ${children.join(', ')}: API token on the nested host`);
    }
    if (verb === 'test') {
      lines.push(
        `  verify: ${this.manifest.settings.verifySsh ? `TCP port ${this.manifest.settings.verifyPort} on every node's IP` : 'IP of every node'}`,
      );
      lines.push(`  destroy: ${this.plan.destroy_order.join(', ')}`);
    }
    return lines;
  }

  /** For the tofu provisioner, the dry run also writes each node's module and lists the commands. */
  async dryRunTofu(verb: Verb): Promise<string[]> {
    const lines: string[] = [];
    for (const name of this.plan.create_order) {
      const node = this.resolved.get(name) as ResolvedNode;
      if (this.provisionerOf(node) !== 'tofu') continue;
      const dir = tofuDir(this.o.workDir, this.manifest.name, this.stack, name);
      const proxmox = this.o.context ? proxmoxSettings(this.o.context) : {};
      const url = node.parent
        ? `<API of nested PVE '${node.parent}'>`
        : String(this.env.STRATA_PVE_ENDPOINT ?? this.env.PROXMOX_VE_ENDPOINT ?? proxmox.endpoint ?? '<endpoint>');
      await writeModule(dir, {
        node,
        id: this.identity(name),
        endpoint: { url, insecure: proxmox.insecure === true },
        pveNode: node.parent ? `<node of '${node.parent}'>` : String(proxmox.node ?? '<node>'),
        target: {
          storage: typeof proxmox.storage === 'string' ? proxmox.storage : undefined,
          bridge: typeof proxmox.bridge === 'string' ? proxmox.bridge : 'vmbr0',
          ciuser: typeof proxmox.ciuser === 'string' ? proxmox.ciuser : undefined,
          sshKeys: Array.isArray(proxmox.ssh_keys) ? proxmox.ssh_keys.map(String) : [],
        },
      });
      lines.push(`  ${name}: module ${dir}`);
      const verbs: Array<'apply' | 'destroy'> =
        verb === 'create' ? ['apply'] : verb === 'destroy' ? ['destroy'] : ['apply', 'destroy'];
      for (const v of verbs) {
        for (const line of describeCommands(tofuCommands(dir, v, { TF_VAR_api_token: '' }, this.o.tofuBinary))) {
          lines.push(`    ${line}`);
        }
      }
    }
    return lines;
  }

  // ---------------------------------------------------------------------------------------------------------------

  nodeReports(): NodeReport[] {
    return this.plan.create_order.map((name) => {
      const s = this.store?.state.nodes[name] ?? { name, status: 'pending' as NodeStatus };
      const report: NodeReport = { name, status: s.status };
      if (s.vm_id !== undefined) report.vm_id = s.vm_id;
      if (s.ip !== undefined) report.ip = s.ip;
      if (s.started_at !== undefined && s.completed_at !== undefined) {
        report.duration = round2(s.completed_at - s.started_at);
      }
      if (s.error) report.error = s.error;
      return report;
    });
  }

  contextValues(): Record<string, unknown> {
    const context: Record<string, unknown> = {};
    for (const report of this.nodeReports()) {
      if (report.vm_id !== undefined) context[`${report.name}_vm_id`] = report.vm_id;
      if (report.ip !== undefined) {
        context[`${report.name}_ip`] = report.ip;
        context.vm_ip ??= report.ip;
      }
    }
    return context;
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, seconds: round2((performance.now() - started) / 1000) };
}

/** Runs create, destroy or test of a manifest. Never throws for a failed node: the result says what happened. */
export async function runManifest(verb: Verb, options: OperatorOptions): Promise<RunResult> {
  const started = performance.now();
  const op = new Operator(options);
  const result: RunResult = {
    scenario: `manifest-${verb}-${options.manifest.name}`,
    verb,
    manifest: options.manifest.name,
    stack: op.stack,
    success: false,
    duration_seconds: 0,
    phases: [],
    nodes: [],
    context: {},
  };
  const finish = () => {
    result.duration_seconds = round2((performance.now() - started) / 1000);
    return result;
  };
  if (options.dryRun) {
    op.setup(false);
    result.dry_run = true;
    result.plan = [...op.dryRunPlan(verb), ...(await op.dryRunTofu(verb))];
    result.nodes = op.plan.create_order.map((name) => ({ name, status: 'pending' }));
    result.success = true;
    return finish();
  }
  op.setup(true);
  const paths = statePaths(options.stateDir, options.manifest.name, op.stack);
  const release = await acquireLock(paths.lock, options.command ?? `strata manifest ${verb}`);
  try {
    const previous: ExecutionState | undefined = await readState(paths.state);
    const state = previous ?? newState(options.manifest.name, op.stack, op.plan.create_order);
    state.endpoint = op.outer.endpoint.url;
    op.store = new StateStore(paths.state, state);
    for (const name of op.plan.create_order) op.store.node(name);
    if (verb === 'destroy') {
      const destroyed = await timed(() => op.runDestroy());
      result.phases.push({
        name: 'destroy',
        status: destroyed.value.ok ? 'passed' : 'failed',
        duration: destroyed.seconds,
        message: destroyed.value.ok ? 'All nodes destroyed' : destroyed.value.error,
      });
      result.success = destroyed.value.ok;
      if (!destroyed.value.ok) result.error = destroyed.value.error;
    } else {
      if (previous) await op.reopenDelegations();
      const created = await timed(() => op.runCreate());
      const okCount = op.nodeReports().filter((n) => n.status === 'completed').length;
      result.phases.push({
        name: 'create',
        status: created.value.ok ? 'passed' : 'failed',
        duration: created.seconds,
        message: created.value.ok ? `${okCount} node(s) created` : created.value.error,
      });
      result.success = created.value.ok;
      if (!created.value.ok) result.error = created.value.error;
      if (verb === 'test') {
        let cleanup = options.manifest.settings.cleanupOnFailure;
        if (created.value.ok) {
          const verified = await timed(() => op.runVerify());
          result.phases.push({
            name: 'verify',
            status: verified.value.ok ? 'passed' : 'failed',
            duration: verified.seconds,
            message: verified.value.message,
          });
          if (!verified.value.ok) {
            result.success = false;
            result.error = verified.value.message;
          }
          cleanup = verified.value.ok || cleanup;
        }
        // Collect the context before destroy clears vm ids and IPs.
        result.context = op.contextValues();
        result.nodes = op.nodeReports();
        if (cleanup) {
          const destroyed = await timed(() => op.runDestroy());
          result.phases.push({
            name: 'destroy',
            status: destroyed.value.ok ? 'passed' : 'failed',
            duration: destroyed.seconds,
            message: destroyed.value.ok
              ? result.success
                ? 'All nodes destroyed'
                : 'Cleaned up after failure'
              : destroyed.value.error,
          });
          if (!destroyed.value.ok) {
            result.success = false;
            result.error ??= destroyed.value.error;
          }
        } else {
          result.phases.push({ name: 'destroy', status: 'skipped', duration: 0, message: 'cleanup_on_failure is off' });
        }
      }
    }
    if (verb !== 'test') {
      result.nodes = op.nodeReports();
      result.context = op.contextValues();
    }
  } finally {
    await release();
    await op.close();
  }
  return finish();
}
