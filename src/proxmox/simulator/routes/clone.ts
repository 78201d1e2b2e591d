/**
 * Cloning and migrating VMs as qemu-server does. A clone checks the source, storages and target node before its
 * UPID; its worker writes a placeholder config holding only `lock: clone` on the source's node, copies (full) or
 * links (templates) the disks, writes the config and, with `target`, moves it to the target node at the very end. A
 * VM on local storage cannot be cloned to another node; it can be cloned locally and migrated offline.
 */
import { randomUUID } from 'node:crypto';
import type { SimContext } from '../context.ts';
import { invalidParams, SimHttpError } from '../errors.ts';
import type { Ctx, Router } from '../http.ts';
import { checkLock, findNode, findVm, takeFlock } from '../lookup.ts';
import { need, vmPerm } from '../permissions.ts';
import { DISK_KEY, isCdrom, parseDrive, parseNet, printDrive, printNet } from '../qemu-schema.ts';
import {
  configId,
  dnsName,
  node as nodeSpec,
  optionalBool,
  optionalInt,
  optionalString,
  poolId,
  storageId,
  VM_PATH,
  vmid as vmidSpec,
} from '../schema.ts';
import { randomMac, type SimState, type SimVm } from '../state.ts';
import { allocate, enabledOn, findVolume, moveVolume, parseVolid, storageConfig, storageOn } from '../storage.ts';
import { TaskFailure } from '../tasks.ts';
import { applyPending } from './config.ts';

export function registerCloneRoutes(router: Router, sim: SimContext): void {
  router.add('POST', '/nodes/{node}/qemu/{vmid}/clone', {
    schema: {
      ...VM_PATH,
      newid: vmidSpec,
      name: { ...dnsName, optional: true },
      description: optionalString,
      pool: { ...poolId, optional: true },
      snapname: { ...configId, optional: true },
      storage: { ...storageId, optional: true },
      format: { type: 'string', optional: true, enum: ['raw', 'qcow2', 'vmdk'] },
      full: optionalBool,
      target: { ...nodeSpec, optional: true },
      bwlimit: { ...optionalInt, minimum: 0 },
    },
    check: (caller, raw) => {
      need(caller, `/vms/${String(raw.vmid)}`, 'VM.Clone');
      if (raw.pool !== undefined) need(caller, `/pool/${String(raw.pool)}`, 'VM.Allocate');
      else need(caller, `/vms/${String(raw.newid)}`, 'VM.Allocate');
    },
    handler: (ctx) => cloneVm(sim, ctx),
  });
  router.add('POST', '/nodes/{node}/qemu/{vmid}/migrate', {
    schema: {
      ...VM_PATH,
      target: nodeSpec,
      online: optionalBool,
      force: optionalBool,
      migration_type: { type: 'string', optional: true, enum: ['secure', 'insecure'] },
      migration_network: optionalString,
      'with-local-disks': optionalBool,
      targetstorage: optionalString,
      bwlimit: { ...optionalInt, minimum: 0 },
    },
    check: vmPerm('VM.Migrate'),
    handler: (ctx) => migrateVm(sim, ctx),
  });
}

interface ClonePlan {
  source: SimVm;
  full: boolean;
  target?: string;
  storage?: string;
  /** The drives to copy or link: config key → parsed drive. */
  drives: Array<[string, Record<string, string>]>;
  config: Record<string, string | number>;
}

/** The clone's early checks (load_and_check): everything PVE verifies before it forks the worker. */
function planClone(state: SimState, ctx: Ctx): ClonePlan {
  const { params } = ctx;
  const local = params.node;
  const target = params.target && params.target !== local && params.target !== 'localhost' ? params.target : undefined;
  if (params.pool !== undefined && !state.pools.includes(params.pool)) {
    throw new SimHttpError(500, `pool '${params.pool}' does not exist`);
  }
  if (target && !state.nodes.some((n) => n.node === target)) {
    throw new SimHttpError(500, `no such cluster node '${target}'`);
  }
  if (params.storage) {
    const storage = storageOn(state, params.storage, local);
    if (!storage.content.includes('images')) {
      throw invalidParams({ storage: `storage '${params.storage}' does not support vm images` });
    }
    if (target) {
      storageOn(state, params.storage, target);
      if (!storage.shared) throw new SimHttpError(500, `can't clone to non-shared storage '${params.storage}'`);
    }
  }
  const source = findVm(state, local, params.vmid);
  checkLock(source);
  if (params.snapname && !source.snapshots.some((s) => s.name === params.snapname)) {
    throw new SimHttpError(500, `snapshot '${params.snapname}' does not exist`);
  }
  const full = params.full === undefined ? !source.template : params.full === '1';
  if (params.storage && !full) throw new SimHttpError(500, "parameter 'storage' not allowed for linked clones");
  if (params.format && !full) throw new SimHttpError(500, "parameter 'format' not allowed for linked clones");
  const old = params.snapname
    ? (source.snapshots.find((s) => s.name === params.snapname)?.config ?? {})
    : source.config;
  const drives: ClonePlan['drives'] = [];
  const config: Record<string, string | number> = {};
  let shared = true;
  for (const [key, value] of Object.entries(old)) {
    if (/^unused\d+$/.test(key) || /^(parent|snaptime|vmstate|runningcpu|runningmachine)$/.test(key)) continue;
    if (/^net\d+$/.test(key)) {
      const net = parseNet(String(value));
      delete net.macaddr;
      net[net.model] = randomMac();
      config[key] = printNet(net, randomMac);
      continue;
    }
    if (!DISK_KEY.test(key)) {
      config[key] = value;
      continue;
    }
    const drive = parseDrive(String(value));
    const volume = parseVolid(drive.file);
    if (volume && !storageConfig(state, volume.storage).shared) shared = false;
    if (isCdrom(drive) && !/cloudinit/.test(drive.file)) {
      config[key] = value;
      continue;
    }
    const base = volume?.volname.split('/').pop() ?? '';
    if (!full && !/cloudinit/.test(drive.file) && !base.startsWith('base-')) {
      throw new SimHttpError(500, `Linked clone feature is not supported for '${drive.file}' (${key})`);
    }
    drives.push([key, drive]);
  }
  if (target && !shared) throw new SimHttpError(500, `can't clone VM to node '${target}' (VM uses local storage)`);
  if (state.vms.some((v) => v.vmid === Number(params.newid))) {
    throw new SimHttpError(500, `unable to create VM ${params.newid}: config file already exists`);
  }
  return { source, full, target, storage: params.storage, drives, config };
}

function cloneVm(sim: SimContext, ctx: Ctx): unknown {
  const { state } = sim;
  const { params, caller } = ctx;
  const plan = planClone(state, ctx);
  const newid = Number(params.newid);
  const { source } = plan;
  let placeholder: SimVm | undefined;
  let release: (() => void) | undefined;
  const created: string[] = [];
  return sim.tasks.start(findNode(state, params.node), caller, 'qmclone', params.vmid, {
    vmid: newid,
    durationFactor: plan.full ? 2 : 1,
    begin: () => {
      release = takeFlock(sim.flocks, source.vmid, source.status === 'running');
      if (state.vms.some((v) => v.vmid === newid)) {
        throw new TaskFailure(`clone failed: unable to create VM ${newid}: config file already exists`);
      }
      // "# qmclone temporary file\nlock: clone": a config with nothing but the lock, on the source's node.
      placeholder = newVm(newid, params.node, 'clone');
      state.vms.push(placeholder);
    },
    done: () => {
      const vm = placeholder as SimVm;
      const lines = [`create ${plan.full ? 'full' : 'linked'} clone of VM ${source.vmid} to VM ${newid}`];
      const config = { ...plan.config };
      for (const [key, drive] of plan.drives) {
        config[key] = cloneDrive(sim, plan, newid, drive, created);
        lines.push(
          `create ${plan.full || /cloudinit/.test(drive.file) ? 'full' : 'linked'} clone of drive ${key} (${drive.file})`,
        );
      }
      delete config.template;
      config.name = params.name ?? `Copy-of-VM-${source.config.name ?? source.vmid}`;
      if (params.description) config.description = params.description;
      else delete config.description;
      config.smbios1 = `uuid=${randomUUID()}`;
      vm.config = config;
      applyPending(vm);
      vm.lock = undefined;
      if (plan.target) vm.node = plan.target;
      if (params.pool) vm.pool = params.pool;
      return lines;
    },
    failed: () => {
      for (const volid of created) {
        const parsed = parseVolid(volid);
        const storage = parsed && state.storages.find((s) => s.storage === parsed.storage);
        if (storage) storage.items = storage.items.filter((v) => v.volid !== volid);
      }
      state.vms = state.vms.filter((v) => v !== placeholder);
    },
    cleanup: () => release?.(),
  });
}

/** A VM as a config file without content: the placeholder of a clone or a migration target. */
export function newVm(vmid: number, node: string, lock?: string): SimVm {
  return {
    vmid,
    name: '',
    node,
    template: false,
    tags: [],
    status: 'stopped',
    config: {},
    lock,
    pending: {},
    pendingDelete: [],
    snapshots: [],
    statsAt: Date.now(),
  };
}

/** One drive of the clone: a full copy on the target storage, or a linked volume on the base's storage. */
function cloneDrive(
  sim: SimContext,
  plan: ClonePlan,
  newid: number,
  drive: Record<string, string>,
  created: string[],
): string {
  const source = parseVolid(drive.file);
  const cloudinit = /cloudinit/.test(drive.file);
  // A cloud-init drive is made anew (PVE regenerates it at start); any other volume must exist to be copied.
  const sourceVolume = cloudinit ? { size: 4 * 1024 ** 2 } : findVolume(sim.state, drive.file, plan.source.node);
  if (!source || !sourceVolume) throw new TaskFailure(`clone failed: volume '${drive.file}' does not exist`);
  const storage = plan.full || cloudinit ? (plan.storage ?? source.storage) : source.storage;
  if (!enabledOn(storageConfig(sim.state, storage), plan.source.node)) {
    throw new TaskFailure(`clone failed: storage '${storage}' is not available on node '${plan.source.node}'`);
  }
  const linkedVolid = plan.full || cloudinit ? undefined : `${drive.file}/vm-${newid}-disk-${created.length}`;
  const volume = allocate(
    sim.state,
    storage,
    plan.source.node,
    newid,
    sourceVolume.size ?? 0,
    cloudinit ? 'cloudinit' : 'disk',
    linkedVolid,
  );
  created.push(volume.volid);
  return printDrive({ ...drive, file: volume.volid });
}

/** Offline migration (and the checks before its UPID): the config and the local volumes move to the target node. */
function migrateVm(sim: SimContext, ctx: Ctx): unknown {
  const { state } = sim;
  const { params } = ctx;
  if (params.target === params.node) throw invalidParams({ target: 'target is local node.' });
  if (!state.nodes.some((n) => n.node === params.target)) {
    throw new SimHttpError(500, `no such cluster node '${params.target}'`);
  }
  const vm = findVm(state, params.node, params.vmid);
  checkLock(vm);
  if (vm.status === 'running' && params.online !== '1') {
    throw new SimHttpError(500, "can't migrate running VM without --online");
  }
  const map = storageMap(params.targetstorage);
  const local = localVolumes(state, vm);
  for (const [, volid] of local) {
    const storage = map(parseVolid(volid)?.storage ?? '');
    storageOn(state, storage, params.target);
  }
  return sim.tasks.start(findNode(state, params.node), ctx.caller, 'qmigrate', params.vmid, {
    vmid: vm.vmid,
    begin: () => {
      vm.lock = 'migrate';
    },
    done: () => {
      const lines = [`starting migration of VM ${vm.vmid} to node '${params.target}'`];
      for (const [key, volid] of local) {
        const base = parseVolid(volid)?.volname.split('/');
        if (base && base.length > 1 && base[0].startsWith('base-')) {
          throw new TaskFailure(`can't migrate '${volid}' as it's a clone of '${base[0]}'`);
        }
        const target = map(parseVolid(volid)?.storage ?? '');
        const moved = migrateVolume(sim, vm, volid, params.node, params.target, target);
        vm.config[key] = String(vm.config[key]).replace(volid, moved);
        lines.push(`copying local disk '${volid}' to '${moved}' on node '${params.target}'`);
      }
      vm.node = params.target;
      vm.lock = undefined;
      lines.push('migration finished successfully');
      return lines;
    },
    failed: () => {
      vm.lock = undefined;
    },
  });
}

/** The local (non-shared) volumes a VM's config references: config key → volume id. */
function localVolumes(state: SimState, vm: SimVm): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(vm.config)) {
    if (!DISK_KEY.test(key)) continue;
    const drive = parseDrive(String(value));
    const parsed = parseVolid(drive.file);
    if (!parsed) continue;
    if (!storageConfig(state, parsed.storage).shared) out.push([key, drive.file]);
  }
  return out;
}

/** targetstorage: one storage for all, or `src:dst` pairs (comma separated); unmapped storages stay the same. */
function storageMap(text: string | undefined): (storage: string) => string {
  if (!text) return (s) => s;
  const pairs = text.split(/[,;\s]+/).filter(Boolean);
  if (pairs.length === 1 && !pairs[0].includes(':')) return () => pairs[0];
  const map = new Map(pairs.map((p) => p.split(':') as [string, string]));
  return (s) => map.get(s) ?? s;
}

function migrateVolume(sim: SimContext, vm: SimVm, volid: string, from: string, to: string, storage: string): string {
  const parsed = parseVolid(volid);
  if (!parsed || parsed.storage === storage) {
    moveVolume(sim.state, volid, from, to);
    return volid;
  }
  const volume = findVolume(sim.state, volid, from);
  const copy = allocate(
    sim.state,
    storage,
    to,
    vm.vmid,
    volume?.size ?? 0,
    /cloudinit/.test(volid) ? 'cloudinit' : 'disk',
  );
  const source = sim.state.storages.find((s) => s.storage === parsed.storage);
  if (source)
    source.items = source.items.filter((v) => !(v.volid === volid && (v.node === undefined || v.node === from)));
  return copy.volid;
}
