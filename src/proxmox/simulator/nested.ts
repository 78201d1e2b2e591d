/**
 * Nested PVE hosts: a VM carrying the nested tag becomes a simulator of its own once it has booted, with its own
 * port, certificate and bootstrap token; stopping the VM stops answering, destroying it removes the host.
 */
import { findNode } from './lookup.ts';
import type { ResolvedOptions, SimulatorOptions } from './options.ts';
import { defaultSeed, type SimState, type SimVm } from './state.ts';
import type { Timers } from './timers.ts';
import type { SimCertificate } from './tls.ts';
import { intToIp, ipToInt } from './units.ts';

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

/** What a nested host needs of a simulator (the PveSimulator class; passed in to keep the import one-way). */
export interface NestedSimulator {
  readonly state: SimState;
  readonly url: string;
  readonly certificate: SimCertificate | undefined;
  listen(): Promise<void>;
  stopListening(): Promise<void>;
  close(): Promise<void>;
}

export class NestedHosts<S extends NestedSimulator> {
  readonly #hosts = new Map<number, { sim: S; endpoint?: NestedEndpoint }>();
  /** Why a nested host failed to come up (e.g. openssl missing), shown in the state snapshot. */
  readonly #errors = new Map<number, string>();
  readonly #state: SimState;
  readonly #options: ResolvedOptions;
  readonly #timers: Timers;
  readonly #create: (options: SimulatorOptions) => S;

  constructor(state: SimState, options: ResolvedOptions, timers: Timers, create: (options: SimulatorOptions) => S) {
    this.#state = state;
    this.#options = options;
    this.#timers = timers;
    this.#create = create;
  }

  get(vmid: number): S | undefined {
    return this.#hosts.get(vmid)?.sim;
  }

  endpoint(vmid: number): NestedEndpoint | undefined {
    return this.#hosts.get(vmid)?.endpoint;
  }

  endpoints(): NestedEndpoint[] {
    return [...this.#hosts.values()].flatMap((n) => (n.endpoint ? [n.endpoint] : []));
  }

  errors(): Record<string, string> {
    return Object.fromEntries(this.#errors);
  }

  /** A VM finished booting: when it carries the nested tag, its host comes up (errors are kept for the snapshot). */
  onBooted(vm: SimVm): void {
    if (vm.status !== 'running' || !vm.tags.includes(this.#options.nestedTag)) return;
    this.#errors.delete(vm.vmid);
    this.#start(vm).catch((error) => this.#errors.set(vm.vmid, (error as Error).message));
  }

  async stop(vm: SimVm, remove: boolean): Promise<void> {
    const entry = this.#hosts.get(vm.vmid);
    if (!entry) return;
    entry.endpoint = undefined;
    if (remove) {
      this.#hosts.delete(vm.vmid);
      await entry.sim.close();
    } else {
      await entry.sim.stopListening();
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#hosts.values()].map((n) => n.sim.close()));
    this.#hosts.clear();
  }

  async #start(vm: SimVm): Promise<void> {
    let entry = this.#hosts.get(vm.vmid);
    if (!entry) {
      entry = { sim: this.#create(this.#innerOptions(vm)) };
      this.#hosts.set(vm.vmid, entry);
    }
    await entry.sim.listen();
    // The VM may have been stopped or removed while the inner host was coming up.
    if (this.#timers.closed || vm.status !== 'running' || !this.#state.vms.includes(vm)) {
      await entry.sim.stopListening();
      return;
    }
    const inner = entry.sim;
    const root = inner.state.users.find((u) => u.userid === 'root@pam');
    const token = root?.tokens[0] ?? inner.state.users[0]?.tokens[0];
    const owner = root ?? inner.state.users[0];
    entry.endpoint = {
      vmid: vm.vmid,
      node: inner.state.nodes[0].node,
      ip: vm.ip?.split('/')[0],
      url: inner.url,
      fingerprint: inner.certificate?.fingerprint,
      ca: inner.certificate?.ca,
      tokenId: `${owner?.userid}!${token?.id}`,
      tokenSecret: token?.secret ?? '',
    };
  }

  /** The inner host's options: the outer ones, its own seed and subnet, the CPU flags the VM passes through. */
  #innerOptions(vm: SimVm): SimulatorOptions {
    const hostName = vm.name.split('.')[0].replace(/[^a-zA-Z0-9-]/g, '-') || `pve${vm.vmid}`;
    const outerNode = findNode(this.#state, vm.node);
    // Nested virtualisation reaches the inner host only with the host CPU type passed through.
    const flags =
      vm.config.cpu === 'host' || String(vm.config.cpu ?? '').startsWith('host,')
        ? outerNode.cpuFlags
        : outerNode.cpuFlags.filter((f) => f !== 'vmx' && f !== 'svm');
    const seed = this.#options.nestedSeed?.(vm) ?? defaultSeed(hostName);
    seed.nodes = (seed.nodes ?? [{ node: hostName }]).map((n) => ({ ...n, cpuFlags: n.cpuFlags ?? flags }));
    const innerSubnetBase = ipToInt(this.#options.subnet.split('/')[0]) + 256 * (vm.vmid % 200);
    return {
      latencyScale: this.#options.latencyScale,
      bootDelayMs: this.#options.bootDelayMs,
      tls: this.#options.tls,
      subnet: `${intToIp(innerSubnetBase)}/24`,
      nestedTag: this.#options.nestedTag,
      nestedSeed: this.#options.nestedSeed,
      seed,
    };
  }
}
