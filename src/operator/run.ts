/**
 * One run of the operator over a manifest: the resolved nodes, the hosts it talks to (the stack's host and the nested
 * PVE hosts it delegated to), the execution state, and every node transition, persisted before the run moves on.
 * The phases (create.ts, destroy.ts, verify.ts, delegation.ts, dry-run.ts) work on this.
 */
import { StrataError } from '../errors.ts';
import { PveClient, type PveEndpoint, type PveVmSummary } from '../proxmox/client.ts';
import { globalMasker } from '../util/mask.ts';
import { type PortProbe, type ProxmoxConnection, tcpProbe } from './connection.ts';
import {
  type ProxmoxTarget,
  proxmoxSettings,
  proxmoxTarget,
  type ResolvedNode,
  resolveNodes,
  vmMarker,
  vmName,
  vmTags,
} from './context.ts';
import { childrenOf, type Manifest, type ManifestPlan, planManifest } from './manifest.ts';
import { type Identity, type Target, VmidAllocator, type Waits } from './provisioners/proxmox-api.ts';
import type { TofuNodeInput } from './provisioners/tofu.ts';
import type { NodeState, NodeStatus, StateStore } from './state.ts';
import type { LeftoverVm, NodeReport, OperatorOptions, ProgressEvent } from './types.ts';

export const round2 = (n: number) => Math.round(n * 100) / 100;
export const now = () => Date.now() / 1000;

/** An error as one masked line (plus details) for the state file, reports and progress. */
export function message(error: unknown): string {
  if (error instanceof StrataError && error.details) return globalMasker.mask(`${error.message}\n${error.details}`);
  if (error instanceof Error) return globalMasker.mask(error.message);
  return globalMasker.mask(String(error));
}

/** Placement options of a host: where disks, NICs and cloud-init defaults go. */
export type HostOptions = Pick<ProxmoxTarget, 'storage' | 'bridge' | 'ciuser' | 'sshKeys' | 'nameserver'> &
  Partial<Pick<ProxmoxTarget, 'crossNode'>>;

export class OperatorRun {
  readonly o: OperatorOptions;
  readonly manifest: Manifest;
  readonly plan: ManifestPlan;
  readonly stack: string;
  readonly env: NodeJS.ProcessEnv;
  readonly children: Map<string, string[]>;
  readonly connection: ProxmoxConnection | undefined;
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
  /** VMs whose destroy failed, by node (a later successful destroy of the node removes its entry). */
  readonly leftover = new Map<string, LeftoverVm>();
  /** One listing per host and destroy pass: every node of the pass reads the same snapshot. */
  readonly discovered = new Map<string, Promise<Map<string, PveVmSummary[]>>>();

  constructor(options: OperatorOptions) {
    this.o = options;
    this.manifest = options.manifest;
    this.plan = planManifest(options.manifest);
    this.stack = options.context?.stack ?? '';
    this.env = options.env ?? process.env;
    this.children = childrenOf(options.manifest).children;
    this.connection = options.connection;
  }

  get maxConcurrency(): number {
    return this.o.maxConcurrency ?? this.manifest.settings.maxConcurrency ?? 4;
  }

  get portProbe(): PortProbe {
    return this.connection?.portProbe ?? tcpProbe;
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

  node(name: string): ResolvedNode {
    return this.resolved.get(name) as ResolvedNode;
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
    this.outer = proxmoxTarget(this.o.context, this.env, this.connection?.endpoint);
    const proxmox = proxmoxSettings(this.o.context);
    const configured = typeof proxmox.poll_ms === 'number' ? proxmox.poll_ms : undefined;
    const pollMs = this.o.pollMs ?? this.connection?.pollMs ?? configured ?? 1000;
    const t = this.manifest.settings.timeouts;
    this.waits = { taskMs: t.task * 1000, waitIpMs: t.waitIp * 1000, pollMs, signal: this.o.signal };
    this.outerTarget = this.makeTarget(this.outer.endpoint, this.outer.node, this.outer);
  }

  makeTarget(endpoint: PveEndpoint, node: string, options: HostOptions): Target {
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

  /** What the tofu provisioner writes for a node on a host. */
  tofuInput(node: ResolvedNode, target: Target): TofuNodeInput {
    return {
      node,
      id: this.identity(node.name),
      endpoint: { url: target.url, insecure: target.client.endpoint.insecure },
      pveNode: target.node,
      target,
    };
  }

  /** The token a tofu run authenticates with (TF_VAR_api_token), as the provider takes it. */
  apiToken(target: Target): string {
    const endpoint = target.client.endpoint;
    return `${endpoint.tokenId}=${endpoint.tokenSecret}`;
  }

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
