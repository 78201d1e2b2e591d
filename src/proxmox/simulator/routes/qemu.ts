/**
 * VMs on a node and their lifecycle: list, current status, start/stop/shutdown/reboot, template, destroy. As in
 * qemu-server, a request only checks what PVE checks before forking its worker; locks, a missing config, a template
 * that cannot start and the like fail the task (a UPID is returned, the task ends with the error).
 */
import type { SimContext } from '../context.ts';
import { SimHttpError } from '../errors.ts';
import { agentEnabled } from '../guests.ts';
import type { Ctx, Router } from '../http.ts';
import { checkLockInTask, findNode, findVm, vmInTask } from '../lookup.ts';
import { can, vmPerm } from '../permissions.ts';
import { DISK_KEY, parseDrive, parseNet } from '../qemu-schema.ts';
import { NODE_PATH, optionalBool, optionalInt, optionalString, type Schema, skiplock, VM_PATH } from '../schema.ts';
import type { SimVm } from '../state.ts';
import { free, parseVolid, volumeOwner, volumesOn } from '../storage.ts';
import { TaskFailure, type TaskType } from '../tasks.ts';
import { parseSize } from '../units.ts';
import { applyPending } from './config.ts';

type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot';

const POWER: Record<PowerAction, { task: TaskType; schema: Schema }> = {
  start: {
    task: 'qmstart',
    schema: {
      ...VM_PATH,
      skiplock,
      timeout: optionalInt,
      machine: optionalString,
      stateuri: optionalString,
      migratedfrom: { ...VM_PATH.node, optional: true },
      migration_type: { type: 'string', optional: true, enum: ['secure', 'insecure'] },
      migration_network: optionalString,
      targetstorage: optionalString,
      'force-cpu': optionalString,
    },
  },
  stop: {
    task: 'qmstop',
    schema: {
      ...VM_PATH,
      skiplock,
      timeout: optionalInt,
      keepActive: optionalBool,
      migratedfrom: { ...VM_PATH.node, optional: true },
      'overrule-shutdown': optionalBool,
    },
  },
  shutdown: {
    task: 'qmshutdown',
    schema: { ...VM_PATH, skiplock, timeout: optionalInt, forceStop: optionalBool, keepActive: optionalBool },
  },
  reboot: { task: 'qmreboot', schema: { ...VM_PATH, timeout: optionalInt } },
};

/** Bytes of a VM's first disk (vmstatus' maxdisk). */
function bootDiskSize(vm: SimVm): number {
  for (const [key, value] of Object.entries(vm.config)) {
    if (!DISK_KEY.test(key) || key.startsWith('unused')) continue;
    const text = String(value);
    if (/media=cdrom/.test(text)) continue;
    return parseSize(/size=([\d.]+[KMGT]?)/.exec(text)?.[1] ?? '0') ?? 0;
  }
  return 0;
}

/** PVE's vmstatus for one VM: what GET …/qemu and …/status/current report. */
export function vmStatus(vm: SimVm, now = Date.now()): Record<string, unknown> {
  const running = vm.status === 'running';
  const memory = Number(String(vm.config.memory ?? 512).replace(/^current=/, ''));
  return {
    vmid: vm.vmid,
    ...(vm.config.name !== undefined ? { name: String(vm.config.name) } : {}),
    status: vm.status,
    cpus: Number(vm.config.cores ?? 1) * Number(vm.config.sockets ?? 1),
    maxmem: memory * 1024 ** 2,
    maxdisk: bootDiskSize(vm),
    mem: running ? Math.floor((memory * 1024 ** 2) / 4) : 0,
    disk: 0,
    cpu: running ? 0.01 : 0,
    uptime: running && vm.startedAt ? Math.floor((now - vm.startedAt) / 1000) : 0,
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
    ...(running ? { pid: 10000 + vm.vmid } : {}),
    ...(vm.template ? { template: 1 } : {}),
    ...(vm.lock ? { lock: vm.lock } : {}),
    ...(vm.tags.length ? { tags: vm.tags.join(';') } : {}),
  };
}

export function registerQemuRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/nodes/{node}/qemu', {
    schema: { ...NODE_PATH, full: optionalBool },
    handler: ({ caller, params }) =>
      state.vms
        .filter((vm) => vm.node === params.node && can(caller, `/vms/${vm.vmid}`, 'VM.Audit'))
        .map((vm) => vmStatus(vm)),
  });
  router.add('GET', '/nodes/{node}/qemu/{vmid}/status/current', {
    schema: VM_PATH,
    check: vmPerm('VM.Audit'),
    handler: ({ params }) => {
      const vm = findVm(state, params.node, params.vmid);
      return {
        ...vmStatus(vm),
        qmpstatus: vm.status === 'running' ? 'running' : 'stopped',
        ha: { managed: 0 },
        ...(agentEnabled(vm.config) ? { agent: 1 } : {}),
      };
    },
  });
  for (const action of Object.keys(POWER) as PowerAction[]) {
    router.add('POST', `/nodes/{node}/qemu/{vmid}/status/${action}`, {
      schema: POWER[action].schema,
      check: vmPerm('VM.PowerMgmt'),
      handler: (ctx) => power(sim, ctx, action),
    });
  }
  router.add('POST', '/nodes/{node}/qemu/{vmid}/template', {
    schema: { ...VM_PATH, disk: optionalString },
    check: vmPerm('VM.Allocate'),
    handler: (ctx) => template(sim, ctx),
  });
  router.add('DELETE', '/nodes/{node}/qemu/{vmid}', {
    schema: { ...VM_PATH, skiplock, purge: optionalBool, 'destroy-unreferenced-disks': optionalBool },
    check: vmPerm('VM.Allocate'),
    handler: (ctx) => destroy(sim, ctx),
  });
}

/** The bridge a NIC names that the node does not have, if any (vm_start checks them). */
function missingBridge(sim: SimContext, vm: SimVm): string | undefined {
  const bridges = findNode(sim.state, vm.node).bridges;
  for (const [key, value] of Object.entries(vm.config)) {
    if (!/^net\d+$/.test(key)) continue;
    const bridge = parseNet(String(value)).bridge;
    if (bridge && !bridges.includes(bridge)) return bridge;
  }
  return undefined;
}

function power(sim: SimContext, ctx: Ctx, action: PowerAction): unknown {
  const { params, caller } = ctx;
  rootOnly(ctx, ['skiplock', 'keepActive', 'migratedfrom', 'stateuri', 'targetstorage', 'force-cpu']);
  const node = findNode(sim.state, params.node);
  if (action === 'reboot') {
    const vm = sim.state.vms.find((v) => v.vmid === Number(params.vmid) && v.node === params.node);
    if (!vm) {
      throw new SimHttpError(500, `unable to find configuration file for VM ${params.vmid} - no such machine`);
    }
    if (vm.status !== 'running') throw new SimHttpError(500, `VM ${vm.vmid} not running`);
  }
  const skip = params.skiplock === '1';
  return sim.tasks.start(node, caller, POWER[action].task, params.vmid, {
    vmid: Number(params.vmid),
    done: () => {
      const vm = vmInTask(sim.state, params.node, params.vmid);
      if (!skip) checkLockInTask(vm);
      if (action === 'start') {
        if (vm.template) throw new TaskFailure("you can't start a vm if it's a template");
        if (vm.status === 'running') throw new TaskFailure(`VM ${vm.vmid} already running`);
        const bridge = missingBridge(sim, vm);
        if (bridge) throw new TaskFailure(`bridge '${bridge}' does not exist`);
        applyPending(vm);
        sim.guests.boot(vm);
        return vm.config.ide2 && /cloudinit/.test(String(vm.config.ide2)) ? ['generating cloud-init ISO'] : [];
      }
      if (vm.status !== 'running') return [];
      sim.guests.powerOff(vm);
      if (action === 'reboot') {
        applyPending(vm);
        sim.guests.boot(vm);
      }
      return [];
    },
  });
}

/** Options only root@pam may use (PVE: "Only root may use this option."). */
function rootOnly(ctx: Ctx, keys: string[]): void {
  if (ctx.caller.user.userid === 'root@pam' && !ctx.caller.tokenId) return;
  for (const key of keys) {
    const value = ctx.params[key];
    if (value !== undefined && value !== '0' && value !== '') {
      throw new SimHttpError(400, 'Parameter verification failed.', { [key]: 'Only root may use this option.' });
    }
  }
}

function template(sim: SimContext, ctx: Ctx): unknown {
  const { state } = sim;
  const check = (vm: SimVm, inTask: boolean) => {
    const fail = (text: string) => {
      throw inTask ? new TaskFailure(text) : new SimHttpError(500, text);
    };
    if (vm.lock) fail(`VM ${vm.vmid} is locked (${vm.lock})`);
    if (vm.snapshots.length > 0) fail('unable to create template, because VM contains snapshots');
    if (vm.template && !ctx.params.disk) fail("you can't convert a template to a template");
    if (vm.status === 'running') fail("you can't convert a VM to template if VM is running");
  };
  check(findVm(state, ctx.params.node, ctx.params.vmid), false);
  return sim.tasks.start(findNode(state, ctx.params.node), ctx.caller, 'qmtemplate', ctx.params.vmid, {
    vmid: Number(ctx.params.vmid),
    done: () => {
      const vm = vmInTask(state, ctx.params.node, ctx.params.vmid);
      check(vm, true);
      vm.template = true;
      vm.config.template = 1;
      return toBaseVolumes(sim, vm);
    },
  });
}

/** template_create: each disk becomes a base volume (vm-100-disk-0 → base-100-disk-0), cdroms and cloud-init stay. */
function toBaseVolumes(sim: SimContext, vm: SimVm): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(vm.config)) {
    if (!DISK_KEY.test(key) || key.startsWith('unused')) continue;
    const drive = parseDrive(String(value));
    if (drive.media === 'cdrom' || /cloudinit/.test(drive.file)) continue;
    const parsed = parseVolid(drive.file);
    const storage = parsed && sim.state.storages.find((s) => s.storage === parsed.storage);
    const volume = storage && volumesOn(storage, vm.node).find((v) => v.volid === drive.file);
    if (!parsed || !volume || !/(^|\/)vm-\d+-disk-\d+/.test(parsed.volname)) continue;
    const renamed = drive.file.replace(/(^|[:/])vm-(\d+-disk-\d+)/, '$1base-$2');
    volume.volid = renamed;
    drive.file = renamed;
    vm.config[key] = [renamed, ...String(value).split(',').slice(1)].join(',');
    lines.push(`  Renamed "${parsed.volname}" to "${renamed.split(':')[1]}" in volume group`);
  }
  return lines;
}

function destroy(sim: SimContext, ctx: Ctx): unknown {
  const { state } = sim;
  const { params } = ctx;
  rootOnly(ctx, ['skiplock']);
  const early = (vm: SimVm, fail: (text: string) => never) => {
    if (String(vm.config.protection ?? '0') === '1') fail(`can't remove VM ${vm.vmid} - protection mode enabled`);
    if (vm.status === 'running') fail(`VM ${vm.vmid} is running - destroy failed`);
  };
  early(findVm(state, params.node, params.vmid), (text) => {
    throw new SimHttpError(500, text);
  });
  return sim.tasks.start(findNode(state, params.node), ctx.caller, 'qmdestroy', params.vmid, {
    vmid: Number(params.vmid),
    done: () => {
      const vm = vmInTask(state, params.node, params.vmid);
      early(vm, (text) => {
        throw new TaskFailure(text);
      });
      if (params.skiplock !== '1') checkLockInTask(vm);
      const removed = removeDisks(sim, vm, params['destroy-unreferenced-disks'] === '1');
      state.vms = state.vms.filter((v) => v !== vm);
      sim.flocks.delete(vm.vmid);
      sim.guests.removed(vm);
      return removed.map((volid) => `Removing image: 100% complete...done.\n  Logical volume "${volid}" removed.`);
    },
  });
}

/** The volumes a destroyed VM takes with it: referenced ones it owns, and (on request) unreferenced ones too. */
function removeDisks(sim: SimContext, vm: SimVm, unreferenced: boolean): string[] {
  const referenced = Object.entries(vm.config)
    .filter(([k]) => DISK_KEY.test(k))
    .map(([, v]) => parseDrive(String(v)).file)
    .filter((volid) => volumeOwner(volid) === vm.vmid);
  for (const volid of referenced) {
    const base = parseVolid(volid)?.volname.split('/').pop() ?? '';
    if (!base.startsWith('base-')) continue;
    const user = sim.state.vms.find(
      (other) =>
        other !== vm &&
        Object.entries(other.config).some(([k, v]) => DISK_KEY.test(k) && String(v).startsWith(`${volid}/`)),
    );
    if (user) throw new TaskFailure(`base volume '${volid}' is still in use by linked cloned`);
  }
  const removed: string[] = [];
  for (const volid of referenced) if (free(sim.state, volid, vm.node)) removed.push(volid);
  if (unreferenced) {
    for (const storage of sim.state.storages) {
      for (const volume of volumesOn(storage, vm.node)) {
        if (volumeOwner(volume.volid) === vm.vmid && free(sim.state, volume.volid, vm.node)) {
          removed.push(volume.volid);
        }
      }
    }
  }
  return removed;
}
