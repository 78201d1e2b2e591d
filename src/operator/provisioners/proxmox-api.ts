/**
 * The native provisioner: clone a template, configure cloud-init, resize, start and wait for the guest agent's IP,
 * all through the Proxmox VE API. Every VM carries its identity from the first call on (the clone sets name and
 * description), so a run killed at any step finds its half-created VM again and adopts or cleans it.
 */
import { StrataError } from '../../errors.ts';
import { PveApiError, type PveClient, type PveVmSummary } from '../../proxmox/client.ts';
import { sleep } from '../../util/fs.ts';
import { didYouMean } from '../../util/suggest.ts';
import type { ResolvedNode } from '../context.ts';
import { type CrossNode, cloneOnto, namedVms, retryOnLock } from './placement.ts';

/** A Proxmox host the operator creates VMs on: the stack's host, or a nested PVE host created by the manifest. */
export interface Target {
  client: PveClient;
  url: string;
  node: string;
  storage?: string;
  bridge: string;
  ciuser?: string;
  sshKeys: string[];
  nameserver?: string;
  /** How a template on another node of the cluster is cloned here (settings.proxmox.cross_node). */
  crossNode?: CrossNode;
}

export interface Identity {
  manifest: string;
  stack: string;
  node: string;
  vmName: string;
  tags: string[];
  marker: string;
}

export interface Waits {
  taskMs: number;
  waitIpMs: number;
  pollMs: number;
  signal?: AbortSignal;
}

/** Reports each step so the state file records how far a node got. */
export type PhaseHook = (
  phase: string,
  change?: { vm_id?: number; pve_node?: string; task?: string | undefined },
) => Promise<void>;

/**
 * Hands out VMIDs one caller at a time per host: /cluster/nextid answers the same id to parallel siblings until one
 * of them has cloned, so ids given out but not yet used are remembered here.
 */
export class VmidAllocator {
  #chain: Promise<unknown> = Promise.resolve();
  #reserved = new Set<number>();

  allocate(client: PveClient): Promise<number> {
    const next = this.#chain.then(async () => {
      const used = new Set((await client.listVms()).map((v) => v.vmid));
      let id = await client.nextId();
      while (used.has(id) || this.#reserved.has(id)) id++;
      this.#reserved.add(id);
      return id;
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof PveApiError && (error.status === 404 || /does not exist|not exist|no such/i.test(error.pveMessage))
  );
}

/** True when the VM's description holds strata's marker for this node (set at clone time). */
export async function ownedBy(target: Target, vm: PveVmSummary, marker: string): Promise<boolean> {
  try {
    const config = await target.client.vmConfig(vm.node, vm.vmid);
    return String(config.description ?? '').includes(marker);
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function waitUnlocked(target: Target, node: string, vmid: number, waits: Waits): Promise<void> {
  const deadline = Date.now() + waits.taskMs;
  for (;;) {
    let config: Record<string, unknown>;
    try {
      config = await target.client.vmConfig(node, vmid);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    if (!config.lock) return;
    if (Date.now() > deadline) {
      throw new StrataError(`VM ${vmid} on ${node} is still locked (${String(config.lock)})`, {
        hint: `Check the running task on ${node}, or unlock it with: qm unlock ${vmid}`,
      });
    }
    await sleep(waits.pollMs, waits.signal);
  }
}

/**
 * Stops (if running) and deletes a VM with purge; a VM that is already gone is fine. A task started by an earlier
 * (killed) run may still hold the VM: PVE then fails the stop or destroy task with "VM n is locked (…)", which is
 * retried with backoff.
 */
export async function destroyVm(target: Target, node: string, vmid: number, waits: Waits): Promise<void> {
  const task = { timeoutMs: waits.taskMs, pollMs: waits.pollMs, signal: waits.signal };
  try {
    await retryOnLock(async () => {
      await waitUnlocked(target, node, vmid, waits);
      const status = await target.client.vmStatus(node, vmid);
      if (status.status === 'running') await target.client.waitForTask(await target.client.stopVm(node, vmid), task);
      const upid = await target.client.deleteVm(node, vmid, { purge: true, destroyUnreferencedDisks: true });
      await target.client.waitForTask(upid, task);
    }, waits);
  } catch (error) {
    if (isMissing(error) || isGoneTask(error)) return;
    throw error;
  }
}

/** A task that failed because its VM vanished meanwhile (another run's destroy got there first). */
function isGoneTask(error: unknown): boolean {
  return error instanceof Error && 'exitstatus' in error && /does not exist/.test(String(error.exitstatus));
}

/** First IPv4 address the guest agent reports outside the loopback interface, skipping link-local ones. */
export function pickIp(interfaces: Awaited<ReturnType<PveClient['agentNetworkInterfaces']>>): string | undefined {
  for (const iface of interfaces) {
    if (iface.name === 'lo' || /^loopback/i.test(iface.name)) continue;
    for (const address of iface['ip-addresses'] ?? []) {
      const ip = address['ip-address'];
      if (address['ip-address-type'] !== 'ipv4' || ip.startsWith('169.254.')) continue;
      return ip;
    }
  }
  return undefined;
}

export async function waitForIp(target: Target, node: string, vmid: number, waits: Waits): Promise<string> {
  const deadline = Date.now() + waits.waitIpMs;
  let last = 'the guest agent did not answer';
  for (;;) {
    try {
      const ip = pickIp(await target.client.agentNetworkInterfaces(node, vmid));
      if (ip) return ip;
      last = 'the guest agent reported no IPv4 address yet';
    } catch (error) {
      // 500 "QEMU guest agent is not running" while the guest boots: keep polling until the deadline.
      if (!(error instanceof PveApiError && error.status === 500)) throw error;
      last = error.pveMessage;
    }
    if (Date.now() >= deadline) {
      throw new StrataError(`VM ${vmid} on ${node}: no IP after ${Math.round(waits.waitIpMs / 1000)} s (${last})`, {
        hint: 'The image must run qemu-guest-agent and the VM needs agent enabled; raise settings.timeouts.wait_ip for slow first boots.',
      });
    }
    await sleep(waits.pollMs, waits.signal);
  }
}

async function templateOf(target: Target, node: ResolvedNode): Promise<{ vmid: number; node: string }> {
  const vms = await target.client.listVms();
  const templates = vms.filter((v) => v.template);
  const ref = node.imageRef;
  // A template of that name on the target node is cloned there (no cross-node copy); else any node's.
  const named = templates.filter((t) => t.name === ref.template);
  const found =
    ref.templateVmid !== undefined
      ? templates.find((t) => t.vmid === ref.templateVmid)
      : (named.find((t) => t.node === target.node) ?? named[0]);
  if (!found) {
    const wanted = ref.templateVmid !== undefined ? `template VM ${ref.templateVmid}` : `template '${ref.template}'`;
    throw new StrataError(`Node '${node.name}': ${wanted} (image '${node.image}') not found on ${target.url}`, {
      hint:
        (ref.template
          ? didYouMean(
              ref.template,
              templates.map((t) => t.name),
            )
          : undefined) ??
        `Templates there: ${templates.map((t) => `${t.name} (${t.vmid})`).join(', ') || '(none)'}. Map the image in the stack's vars.images.`,
    });
  }
  return { vmid: found.vmid, node: found.node };
}

function bootDisk(config: Record<string, unknown>): { key: string; sizeGb: number } | undefined {
  for (const key of ['scsi0', 'virtio0', 'sata0', 'ide0']) {
    const value = config[key];
    if (typeof value !== 'string' || value.includes('media=cdrom') || value.includes('cloudinit')) continue;
    const match = /size=(\d+(?:\.\d+)?)([KMGT])?/.exec(value);
    const factor = { K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024 }[(match?.[2] ?? 'G') as 'K' | 'M' | 'G' | 'T'];
    return { key, sizeGb: match ? Number(match[1]) * factor : 0 };
  }
  return undefined;
}

export interface CreatedVm {
  vmid: number;
  pveNode: string;
  ip: string;
  adopted: boolean;
}

/** Starts an adopted VM if it is stopped, and waits for its IP. */
async function adoptVm(
  target: Target,
  vm: PveVmSummary,
  running: boolean,
  waits: Waits,
  phase: PhaseHook,
): Promise<CreatedVm> {
  const { client } = target;
  if (!running) {
    await phase('start', { vm_id: vm.vmid, pve_node: vm.node });
    try {
      const startTask = await client.startVm(vm.node, vm.vmid);
      await client.waitForTask(startTask, { timeoutMs: waits.taskMs, pollMs: waits.pollMs, signal: waits.signal });
    } catch (error) {
      // A start the killed run asked for may have won the race: running is all that matters.
      if ((await client.vmStatus(vm.node, vm.vmid)).status !== 'running') throw error;
    }
  }
  await phase('wait_ip', { vm_id: vm.vmid, pve_node: vm.node });
  const ip = await waitForIp(target, vm.node, vm.vmid, waits);
  return { vmid: vm.vmid, pveNode: vm.node, ip, adopted: true };
}

/** Where an interrupted run got to: the task it was waiting for and the VM id it had chosen. */
export interface ResumePoint {
  task?: string;
  vmid?: number;
}

/**
 * A clone the interrupted run started may still be in flight: PVE then shows a placeholder config holding only
 * `lock: clone` (no name, no description yet). Wait for its task and lock, so the VM is judged once it is whole.
 */
async function settleInFlight(target: Target, resume: ResumePoint, waits: Waits): Promise<void> {
  if (resume.vmid === undefined) return;
  const vm = (await target.client.listVms()).find((v) => v.vmid === resume.vmid);
  if (!vm) return;
  if (resume.task) {
    try {
      await target.client.waitForTask(resume.task, {
        timeoutMs: waits.taskMs,
        pollMs: waits.pollMs,
        signal: waits.signal,
      });
    } catch {
      // Whether that task ended well or not, the VM is judged below like any other leftover.
    }
  }
  await waitUnlocked(target, vm.node, vm.vmid, waits);
}

/**
 * VMs with this node's name that an interrupted run left: one that is fully configured (tagged) is adopted, anything
 * less is deleted, because a clone interrupted half-way cannot be trusted. A VM of that name without strata's marker
 * stops the run.
 */
async function adoptLeftover(
  target: Target,
  id: Identity,
  waits: Waits,
  phase: PhaseHook,
  resume: ResumePoint,
): Promise<CreatedVm | undefined> {
  const { client } = target;
  await settleInFlight(target, resume, waits);
  const existing = (await namedVms(client)).filter((v) => v.name === id.vmName && !v.template);
  for (const vm of existing) {
    if (!(await ownedBy(target, vm, id.marker))) {
      throw new StrataError(
        `A VM named '${id.vmName}' (vmid ${vm.vmid}) exists on ${target.url} and was not created by strata for this stack`,
        { hint: 'Rename or remove that VM, or use another manifest name.' },
      );
    }
    await waitUnlocked(target, vm.node, vm.vmid, waits);
    const fresh = (await client.listVms()).find((v) => v.vmid === vm.vmid);
    // Fully configured on the right node: adopt it, starting it if it is stopped (a finished VM is never re-made).
    if (fresh?.tags.includes('strata') && fresh.node === target.node) {
      // The status of /cluster/resources lags behind: ask the VM.
      const running = (await client.vmStatus(fresh.node, fresh.vmid)).status === 'running';
      return adoptVm(target, fresh, running, waits, phase);
    }
    await phase('clean', { vm_id: vm.vmid, pve_node: vm.node });
    await destroyVm(target, vm.node, vm.vmid, waits);
  }
  return undefined;
}

/** The manifest's vmid when it is free, else the next free one. */
async function vmidFor(target: Target, node: ResolvedNode, allocator: VmidAllocator): Promise<number> {
  if (node.vmid === undefined) return allocator.allocate(target.client);
  const taken = (await target.client.listVms()).find((v) => v.vmid === node.vmid);
  if (taken) {
    throw new StrataError(
      `Node '${node.name}': vmid ${node.vmid} is already used by VM '${taken.name}' on ${taken.node}`,
      {
        hint: 'Pick a free vmid in the manifest, or leave vmid out to let Proxmox choose.',
      },
    );
  }
  return node.vmid;
}

/** Size, network, cloud-init and tags of a new VM. */
function vmSettings(target: Target, node: ResolvedNode, id: Identity): Record<string, string | number | boolean> {
  const config: Record<string, string | number | boolean> = {
    tags: id.tags.join(';'),
    agent: 'enabled=1',
    ipconfig0: node.ip && node.ip !== 'dhcp' ? `ip=${node.ip}${node.gateway ? `,gw=${node.gateway}` : ''}` : 'ip=dhcp',
  };
  if (node.cores !== undefined) config.cores = node.cores;
  if (node.memory !== undefined) config.memory = node.memory;
  // A nested PVE host runs VMs itself: it needs the host CPU's virtualisation extensions.
  if (node.type === 'pve') config.cpu = 'host';
  if (target.ciuser) config.ciuser = target.ciuser;
  if (target.sshKeys.length > 0) config.sshkeys = target.sshKeys.join('\n');
  if (target.nameserver) config.nameserver = target.nameserver;
  return config;
}

/**
 * Creates one node's VM (clone, resize, configure, start, wait for its IP), or adopts/cleans the VM an interrupted
 * run left behind.
 */
export async function createVm(
  target: Target,
  node: ResolvedNode,
  id: Identity,
  allocator: VmidAllocator,
  waits: Waits,
  phase: PhaseHook,
  /** Where an interrupted run left this node: its task is waited for and its VM judged before anything new. */
  resume: ResumePoint = {},
): Promise<CreatedVm> {
  if (node.type === 'ct') {
    throw new StrataError(`Node '${node.name}' is a container (type ct): strata creates QEMU VMs and nested PVE only`, {
      hint: 'Use type: vm, or create the container with the tofu provisioner outside this manifest.',
    });
  }
  const { client } = target;
  await phase('lookup');
  const adopted = await adoptLeftover(target, id, waits, phase, resume);
  if (adopted) return adopted;
  const template = await templateOf(target, node);
  const vmid = await vmidFor(target, node, allocator);
  const task = { timeoutMs: waits.taskMs, pollMs: waits.pollMs, signal: waits.signal };
  // The id is recorded before the clone is asked for, so a kill right after the request still knows what to look for.
  await phase('clone', { vm_id: vmid, pve_node: target.node });
  await cloneOnto(
    client,
    {
      template,
      node: target.node,
      newid: vmid,
      name: id.vmName,
      description: id.marker,
      storage: target.storage,
      crossNode: target.crossNode ?? 'auto',
    },
    waits,
    { task: (name, upid) => phase(name, { task: upid }) },
  );
  if (node.disk !== undefined) {
    await phase('resize', { task: undefined });
    const disk = bootDisk(await client.vmConfig(target.node, vmid));
    if (disk && node.disk > disk.sizeGb) {
      await retryOnLock(() => client.resizeDisk(target.node, vmid, disk.key, `${node.disk}G`), waits);
    }
  }
  // Tags go on last: a tagged VM is fully configured, which is what a resumed run relies on to adopt it.
  await phase('configure', { task: undefined });
  await retryOnLock(async () => {
    const configTask = await client.setVmConfig(target.node, vmid, vmSettings(target, node, id));
    if (configTask) {
      await phase('configure', { task: configTask });
      await client.waitForTask(configTask, task);
    }
  }, waits);
  await phase('start', { task: undefined });
  await retryOnLock(async () => {
    const startTask = await client.startVm(target.node, vmid);
    await phase('start', { task: startTask });
    await client.waitForTask(startTask, task);
  }, waits);
  await phase('wait_ip', { task: undefined });
  const ip = await waitForIp(target, target.node, vmid, waits);
  return { vmid, pveNode: target.node, ip, adopted: false };
}
