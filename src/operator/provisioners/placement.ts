/**
 * Where a clone happens and what to do when PVE is busy. PVE refuses `target` for a template on local storage ("can't
 * clone VM to node … (VM uses local storage)"), so a cross-node clone either goes straight to the target node (the
 * template's disks are on shared storage) or is made on the template's node and migrated offline (settings
 * `proxmox.cross_node`: auto | target | migrate). Lock conflicts ("VM 101 is locked (clone)", "can't lock file …")
 * come back as failed tasks on PVE; they are retried with backoff until the task timeout.
 */
import { StrataError } from '../../errors.ts';
import { PveApiError, type PveClient, PveTaskError, type PveVmSummary } from '../../proxmox/client.ts';
import { sleep } from '../../util/fs.ts';

export type CrossNode = 'auto' | 'target' | 'migrate';

export interface PlacementWaits {
  taskMs: number;
  pollMs: number;
  signal?: AbortSignal;
}

/** A lock conflict: another task holds the VM (PVE answers 500 before the UPID, or fails the task with it). */
export function isLockConflict(error: unknown): boolean {
  const text =
    error instanceof PveApiError ? error.pveMessage : error instanceof PveTaskError ? error.exitstatus : undefined;
  return text !== undefined && /is locked \(|can't lock file/i.test(text);
}

/** Runs `attempt` again while it fails on a lock conflict, backing off from pollMs to 2 s, until the task timeout. */
export async function retryOnLock<T>(attempt: () => Promise<T>, waits: PlacementWaits): Promise<T> {
  const deadline = Date.now() + waits.taskMs;
  let delay = Math.max(10, waits.pollMs);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLockConflict(error) || Date.now() + delay > deadline) throw error;
      await sleep(delay, waits.signal);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/**
 * The cluster's VMs with their names. /cluster/resources shows a VM's name only once pvestatd has published it (up to
 * ~10 s after a clone): nameless non-template entries are read from their config, which is current.
 */
export async function namedVms(client: PveClient): Promise<PveVmSummary[]> {
  const vms = await client.listVms();
  return Promise.all(
    vms.map(async (vm) => {
      if (vm.name || vm.template) return vm;
      try {
        const config = await client.vmConfig(vm.node, vm.vmid);
        return { ...vm, name: typeof config.name === 'string' ? config.name : '' };
      } catch (error) {
        if (error instanceof PveApiError && /does not exist/.test(error.pveMessage)) return vm;
        throw error;
      }
    }),
  );
}

/** True when every disk of the VM's config lies on storage every node reaches. */
async function onSharedStorage(client: PveClient, node: string, vmid: number): Promise<boolean> {
  const [config, storages] = await Promise.all([client.vmConfig(node, vmid), client.storages(node)]);
  const shared = new Set(storages.filter((s) => Number(s.shared) === 1).map((s) => s.storage));
  for (const [key, value] of Object.entries(config)) {
    if (!/^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/.test(key) || typeof value !== 'string') continue;
    const volume = value.split(',')[0];
    const storage = /^([^:/\s]+):/.exec(volume)?.[1];
    if (storage && !shared.has(storage)) return false;
  }
  return true;
}

export interface CloneRequest {
  template: { vmid: number; node: string };
  /** The node the VM must end up on. */
  node: string;
  newid: number;
  name: string;
  description: string;
  storage?: string;
  crossNode: CrossNode;
}

export interface ClonePhases {
  /** Called with each task's UPID as it starts (the state file records it for resume). */
  task(phase: 'clone' | 'migrate', upid: string): Promise<void>;
}

/** Clones the template onto `node`: locally, straight to the target node, or on the template's node and migrated. */
export async function cloneOnto(
  client: PveClient,
  request: CloneRequest,
  waits: PlacementWaits,
  phases: ClonePhases,
): Promise<void> {
  const { template, node } = request;
  const task = { timeoutMs: waits.taskMs, pollMs: waits.pollMs, signal: waits.signal };
  const base = { newid: request.newid, name: request.name, full: true, description: request.description };
  let migrate = false;
  if (template.node !== node) {
    const direct =
      request.crossNode === 'target' ||
      (request.crossNode === 'auto' && (await onSharedStorage(client, template.node, template.vmid)));
    migrate = !direct;
  }
  // A storage the template's node lacks cannot be the clone's target there: the migration moves the disks onto it.
  const storages = migrate ? (await client.storages(template.node)).map((s) => s.storage) : [];
  const storageHere = !migrate || (request.storage !== undefined && storages.includes(request.storage));
  const upid = await client.cloneVm(template.node, template.vmid, {
    ...base,
    ...(template.node !== node && !migrate ? { target: node } : {}),
    ...(request.storage && storageHere ? { storage: request.storage } : {}),
  });
  await phases.task('clone', upid);
  await client.waitForTask(upid, task);
  if (!migrate) return;
  const moved = await retryOnLock(
    () =>
      client.migrateVm(template.node, request.newid, {
        target: node,
        ...(request.storage ? { targetstorage: request.storage } : {}),
      }),
    waits,
  );
  await phases.task('migrate', moved);
  await client.waitForTask(moved, task);
}

export function crossNodeSetting(value: unknown): CrossNode {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === 'target' || value === 'migrate') return value;
  throw new StrataError(`settings.proxmox.cross_node must be auto, target or migrate, not ${JSON.stringify(value)}`, {
    hint: 'auto clones straight to the node when the template is on shared storage, else clones on its node and migrates.',
  });
}
