/**
 * A VM's config: read it (pending changes applied, or `current`), its pending section, change it (POST as a task,
 * PUT at once) with new disks allocated from `storage:size`, and resize a disk (a task; every check inside it).
 */
import { createHash } from 'node:crypto';
import type { SimContext } from '../context.ts';
import { invalidParams, SimHttpError } from '../errors.ts';
import type { Caller, Ctx, Router } from '../http.ts';
import { checkLockInTask, findNode, findVm, vmInTask } from '../lookup.ts';
import { can, need, vmPerm } from '../permissions.ts';
import {
  CONFIG_CONTROL,
  configPrivileges,
  DISK_KEY,
  hotpluggable,
  isCdrom,
  parseDrive,
  parseNet,
  printDrive,
  printNet,
  qemuKeySpec,
} from '../qemu-schema.ts';
import { configId, optionalBool, optionalInt, type Schema, skiplock, splitList, VM_PATH } from '../schema.ts';
import { randomMac, type SimVm } from '../state.ts';
import { allocate, findVolume, parseVolid, storageConfig } from '../storage.ts';
import { TaskFailure } from '../tasks.ts';
import { formatSize, parseSize } from '../units.ts';

const CONFIG_PERMS = [
  'VM.Config.Disk',
  'VM.Config.CDROM',
  'VM.Config.CPU',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.HWType',
  'VM.Config.Options',
  'VM.Config.Cloudinit',
];

/** A new disk: `storage:size-in-GiB` (qemu-server's NEW_DISK_RE). */
const NEW_DISK = /^(?:([^/:\s]+):)?(\d+(?:\.\d+)?)$/;

export function digestOf(vm: SimVm): string {
  return createHash('sha1')
    .update(JSON.stringify([vm.config, vm.pending, vm.pendingDelete]))
    .digest('hex');
}

/** Moves pending changes into the config (at start, or for a stopped VM at once). */
export function applyPending(vm: SimVm): void {
  for (const key of vm.pendingDelete) delete vm.config[key];
  Object.assign(vm.config, vm.pending);
  vm.pending = {};
  vm.pendingDelete = [];
  syncDerived(vm);
}

/** Name and tags live in the config and, for quick access, on the VM. */
function syncDerived(vm: SimVm): void {
  vm.name = vm.config.name === undefined ? '' : String(vm.config.name);
  vm.tags = String(vm.config.tags ?? '')
    .split(/[;, ]+/)
    .filter(Boolean);
  if (vm.config.tags !== undefined) vm.config.tags = vm.tags.join(';');
}

export function registerConfigRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/nodes/{node}/qemu/{vmid}/config', {
    schema: { ...VM_PATH, current: optionalBool, snapshot: { ...configId, optional: true } },
    check: vmPerm('VM.Audit'),
    handler: ({ params }) => {
      const vm = findVm(state, params.node, params.vmid);
      if (params.snapshot && params.current === '1') {
        const text = "cannot use 'snapshot' parameter with 'current'";
        throw invalidParams({ snapshot: text, current: text });
      }
      let config: Record<string, unknown> = { ...vm.config };
      if (params.snapshot) {
        const snap = vm.snapshots.find((s) => s.name === params.snapshot);
        if (!snap) throw new SimHttpError(500, `snapshot '${params.snapshot}' does not exist`);
        config = { ...snap.config };
      } else if (params.current !== '1') {
        for (const key of vm.pendingDelete) delete config[key];
        Object.assign(config, vm.pending);
      }
      if (config.cipassword !== undefined) config.cipassword = '**********';
      if (vm.lock) config.lock = vm.lock;
      if (vm.parent && !params.snapshot) config.parent = vm.parent;
      config.digest = digestOf(vm);
      return config;
    },
  });
  router.add('GET', '/nodes/{node}/qemu/{vmid}/pending', {
    schema: VM_PATH,
    check: vmPerm('VM.Audit'),
    handler: ({ params }) => {
      const vm = findVm(state, params.node, params.vmid);
      const keys = new Set([...Object.keys(vm.config), ...Object.keys(vm.pending), ...vm.pendingDelete]);
      return [...keys].sort().map((key) => ({
        key,
        ...(vm.config[key] !== undefined ? { value: mask(key, vm.config[key]) } : {}),
        ...(vm.pending[key] !== undefined ? { pending: mask(key, vm.pending[key]) } : {}),
        ...(vm.pendingDelete.includes(key) ? { delete: 1 } : {}),
      }));
    },
  });
  const configSchema: Schema = { ...VM_PATH, ...CONFIG_CONTROL };
  router.add('POST', '/nodes/{node}/qemu/{vmid}/config', {
    schema: { ...configSchema, background_delay: optionalInt },
    schemaFor: qemuKeySpec,
    check: vmPerm(...CONFIG_PERMS),
    handler: (ctx) => updateConfig(sim, ctx, true),
  });
  router.add('PUT', '/nodes/{node}/qemu/{vmid}/config', {
    schema: configSchema,
    schemaFor: qemuKeySpec,
    check: vmPerm(...CONFIG_PERMS),
    handler: (ctx) => updateConfig(sim, ctx, false),
  });
  router.add('PUT', '/nodes/{node}/qemu/{vmid}/resize', {
    schema: {
      ...VM_PATH,
      skiplock,
      disk: { type: 'string', enum: driveNames() },
      size: { type: 'string', pattern: /\+?\d+(\.\d+)?[KMGT]?/ },
      digest: { type: 'string', optional: true, maxLength: 40 },
    },
    check: vmPerm('VM.Config.Disk'),
    handler: (ctx) => resize(sim, ctx),
  });
}

function mask(key: string, value: unknown): unknown {
  return key === 'cipassword' ? '**********' : value;
}

function driveNames(): string[] {
  const names: string[] = [];
  for (const [bus, n] of [
    ['ide', 4],
    ['sata', 6],
    ['scsi', 31],
    ['virtio', 16],
  ] as const) {
    for (let i = 0; i < n; i++) names.push(`${bus}${i}`);
  }
  return [...names, 'efidisk0', 'tpmstate0'];
}

interface Change {
  set: Record<string, string>;
  remove: string[];
}

/** update_vm_api's checks that run in the request, before any worker is forked. */
function checkRequest(ctx: Ctx): Change {
  const { params, caller } = ctx;
  const control = new Set(['node', 'vmid', 'delete', 'revert', 'digest', 'skiplock', 'force', 'background_delay']);
  const set = Object.fromEntries(Object.entries(params).filter(([k]) => !control.has(k)));
  if (params.skiplock === '1' && (caller.user.userid !== 'root@pam' || caller.tokenId)) {
    throw invalidParams({ skiplock: 'Only root may use this option.' });
  }
  if (set.sshkeys !== undefined) {
    const keys = decodeURIComponent(set.sshkeys)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    if (keys.some((k) => !/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]+(\s.*)?$/.test(k))) {
      throw new SimHttpError(500, 'SSH public key validation error');
    }
  }
  const remove = splitList(params.delete ?? '').map((k) => (k === 'cdrom' ? 'ide2' : k));
  if (Object.keys(set).length === 0 && remove.length === 0 && !params.revert) {
    throw new SimHttpError(500, 'no options specified');
  }
  if (set.cdrom !== undefined) {
    set.ide2 = /media=/.test(set.cdrom) ? set.cdrom : `${set.cdrom},media=cdrom`;
    delete set.cdrom;
  }
  for (const key of remove) {
    if (set[key] !== undefined)
      throw invalidParams({ delete: `you can't use '-${key}' and -delete ${key}' at the same time` });
    if (!qemuKeySpec(key)) throw invalidParams({ delete: `unknown option '${key}'` });
  }
  for (const key of [...remove, ...Object.keys(set)]) checkKeyPermission(caller, params.vmid, key);
  return { set, remove };
}

function checkKeyPermission(caller: Caller, vmid: string, key: string): void {
  if (caller.user.userid === 'root@pam' && !caller.tokenId) return;
  if (/^(hostpci\d+|args|lock|hookscript)$/.test(key)) throw new SimHttpError(500, `only root can set '${key}' config`);
  need(caller, `/vms/${vmid}`, ...configPrivileges(key));
}

/** load_and_check_config: the VM exists, the digest matches, no lock (unless skiplock). */
function loadAndCheck(sim: SimContext, ctx: Ctx, inTask: boolean): SimVm {
  const fail = (text: string): never => {
    throw inTask ? new TaskFailure(text) : new SimHttpError(500, text);
  };
  const vm = inTask
    ? vmInTask(sim.state, ctx.params.node, ctx.params.vmid)
    : findVm(sim.state, ctx.params.node, ctx.params.vmid);
  if (ctx.params.digest && ctx.params.digest !== digestOf(vm)) fail('checksum mismatch (file change by other user?)');
  if (ctx.params.skiplock !== '1' && vm.lock) fail(`VM ${vm.vmid} is locked (${vm.lock})`);
  return vm;
}

function updateConfig(sim: SimContext, ctx: Ctx, async: boolean): unknown {
  const change = checkRequest(ctx);
  loadAndCheck(sim, ctx, false);
  const apply = (inTask: boolean) => {
    const vm = loadAndCheck(sim, ctx, inTask);
    return writeChange(sim, vm, change, inTask);
  };
  if (!async) {
    apply(false);
    return null;
  }
  return sim.tasks.start(findNode(sim.state, ctx.params.node), ctx.caller, 'qmconfig', ctx.params.vmid, {
    vmid: Number(ctx.params.vmid),
    done: () => apply(true),
  });
}

/** Writes a change as PVE does: deletions, then new values (NICs get MACs, new disks get volumes); running VMs keep what cannot be hot-plugged pending. */
function writeChange(sim: SimContext, vm: SimVm, change: Change, inTask: boolean): string[] {
  const log: string[] = [];
  const values = Object.entries(change.set).map(([k, v]) => `-${k} ${k === 'cipassword' ? '<hidden>' : v}`);
  log.push(
    `update VM ${vm.vmid}: ${[...values, ...(change.remove.length ? ['-delete', change.remove.join(',')] : [])].join(' ')}`,
  );
  const running = vm.status === 'running';
  for (const key of change.remove) {
    if (vm.config[key] === undefined && vm.pending[key] === undefined) {
      log.push(`cannot delete '${key}' - not set in current configuration!`);
      continue;
    }
    if (String(vm.config.protection ?? '0') === '1' && DISK_KEY.test(key)) {
      const text = `can't remove drive '${key}' - protection mode enabled`;
      throw inTask ? new TaskFailure(text) : new SimHttpError(500, text);
    }
    delete vm.pending[key];
    if (running && !hotpluggable(key)) vm.pendingDelete.push(key);
    else delete vm.config[key];
  }
  for (const [key, raw] of Object.entries(change.set)) {
    const value = normaliseValue(sim, vm, key, raw, inTask);
    if (running && !hotpluggable(key)) vm.pending[key] = value;
    else vm.config[key] = value;
  }
  syncDerived(vm);
  if (/ip=\d/.test(String(change.set.ipconfig0 ?? ''))) vm.ip = undefined;
  return log;
}

/** A value as PVE stores it: NICs with a MAC, new disks allocated, integers as numbers. */
function normaliseValue(sim: SimContext, vm: SimVm, key: string, raw: string, inTask: boolean): string | number {
  if (/^net\d+$/.test(key)) return printNet(parseNet(raw), randomMac);
  if (DISK_KEY.test(key) && !key.startsWith('unused')) return driveValue(sim, vm, raw, inTask);
  const spec = qemuKeySpec(key);
  if (spec?.type === 'integer' || spec?.type === 'boolean') return Number(raw);
  if (key === 'memory' && /^\d+$/.test(raw)) return Number(raw);
  return raw;
}

function driveValue(sim: SimContext, vm: SimVm, raw: string, inTask: boolean): string {
  const drive = parseDrive(raw);
  const fail = (text: string): never => {
    throw inTask ? new TaskFailure(text) : new SimHttpError(500, text);
  };
  if (drive.file === 'none' || drive.file === 'cdrom' || drive.file.startsWith('/')) return printDrive(drive);
  const newDisk = NEW_DISK.exec(drive.file);
  const parsed = parseVolid(drive.file);
  if (parsed && /^cloudinit$/.test(parsed.volname)) {
    const volume = allocate(sim.state, parsed.storage, vm.node, vm.vmid, 4 * 1024 ** 2, 'cloudinit');
    return printDrive({ ...drive, file: volume.volid, media: 'cdrom' });
  }
  if (newDisk && !isCdrom(drive)) {
    const storage = newDisk[1] ?? fail('no storage ID specified (and no default storage)');
    const config = storageConfig(sim.state, storage);
    if (!config.content.includes('images'))
      throw invalidParams({ storage: `storage '${storage}' does not support vm images` });
    const size = Math.round(Number(newDisk[2]) * 1024 ** 3);
    const volume = allocate(sim.state, storage, vm.node, vm.vmid, size);
    const { format: _format, ...rest } = drive;
    return printDrive({ ...rest, file: volume.volid, size: formatSize(size) });
  }
  if (!parsed) fail(`unable to parse volume ID '${drive.file}'`);
  const volume = findVolume(sim.state, drive.file, vm.node);
  if (!volume) fail(`volume '${drive.file}' does not exist`);
  if (isCdrom(drive) || drive.size) return printDrive(drive);
  return printDrive({ ...drive, size: formatSize(volume?.size ?? 0) });
}

function resize(sim: SimContext, ctx: Ctx): unknown {
  const { params } = ctx;
  if (params.skiplock === '1' && (ctx.caller.user.userid !== 'root@pam' || ctx.caller.tokenId)) {
    throw invalidParams({ skiplock: 'Only root may use this option.' });
  }
  return sim.tasks.start(findNode(sim.state, params.node), ctx.caller, 'resize', params.vmid, {
    vmid: Number(params.vmid),
    done: () => {
      const vm = vmInTask(sim.state, params.node, params.vmid);
      if (params.digest && params.digest !== digestOf(vm))
        throw new TaskFailure('checksum mismatch (file change by other user?)');
      if (params.skiplock !== '1') checkLockInTask(vm);
      const value = vm.config[params.disk];
      if (value === undefined) throw new TaskFailure(`disk '${params.disk}' does not exist`);
      const drive = parseDrive(String(value));
      if (isCdrom(drive)) throw new TaskFailure("you can't resize a cdrom");
      const storagePath = `/storage/${parseVolid(drive.file)?.storage}`;
      if (!can(ctx.caller, storagePath, 'Datastore.AllocateSpace')) {
        throw new TaskFailure(`Permission check failed (${storagePath}, Datastore.AllocateSpace)`);
      }
      const volume = findVolume(sim.state, drive.file, vm.node);
      const current = volume?.size ?? parseSize(drive.size ?? '0') ?? 0;
      const delta = parseSize(params.size.replace(/^\+/, '')) ?? 0;
      const target = Math.floor(params.size.startsWith('+') ? current + delta : delta);
      if (target < current) throw new TaskFailure('shrinking disks is not supported');
      if (target === current) return [];
      vm.config[params.disk] = printDrive({ ...drive, size: formatSize(target) });
      if (volume) volume.size = target;
      return [`  Size of logical volume ${drive.file} changed from ${formatSize(current)} to ${formatSize(target)}.`];
    },
  });
}
