/** VMs on a node and their lifecycle: list, current status, start/stop/shutdown/reboot, destroy. */
import type { SimContext } from '../context.ts';
import { agentEnabled } from '../guests.ts';
import { type Ctx, type Router, SimHttpError } from '../http.ts';
import { checkLock, findNode, findVm } from '../lookup.ts';
import { can, need } from '../permissions.ts';
import { TaskFailure, type TaskType } from '../tasks.ts';
import { DISK_KEY } from '../vm-config.ts';
import { cloneVm } from './clone.ts';

type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot';

const POWER_TASKS: Record<PowerAction, TaskType> = {
  start: 'qmstart',
  stop: 'qmstop',
  shutdown: 'qmshutdown',
  reboot: 'qmreboot',
};

export function registerQemuRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/nodes/{node}/qemu', ({ caller, path }) => {
    findNode(state, path.node);
    return state.vms
      .filter((vm) => vm.node === path.node && can(caller, `/vms/${vm.vmid}`, 'VM.Audit'))
      .map((vm) => ({
        vmid: vm.vmid,
        name: vm.name,
        status: vm.status,
        ...(vm.template ? { template: 1 } : {}),
        tags: vm.tags.join(';'),
      }));
  });
  router.add('POST', '/nodes/{node}/qemu/{vmid}/clone', (ctx) => cloneVm(sim, ctx));
  router.add('DELETE', '/nodes/{node}/qemu/{vmid}', (ctx) => destroy(sim, ctx));
  router.add('GET', '/nodes/{node}/qemu/{vmid}/status/current', ({ caller, path }) => {
    const vm = findVm(state, path.node, path.vmid);
    need(caller, `/vms/${vm.vmid}`, 'VM.Audit');
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
  for (const action of Object.keys(POWER_TASKS) as PowerAction[]) {
    router.add('POST', `/nodes/{node}/qemu/{vmid}/status/${action}`, (ctx) => power(sim, ctx, action));
  }
}

function power(sim: SimContext, ctx: Ctx, action: PowerAction): unknown {
  const vm = findVm(sim.state, ctx.path.node, ctx.path.vmid);
  need(ctx.caller, `/vms/${vm.vmid}`, 'VM.PowerMgmt');
  if (action !== 'stop' || ctx.params.skiplock !== '1') checkLock(vm);
  if (vm.template) throw new SimHttpError(500, "you can't start a vm if it's a template");
  const node = findNode(sim.state, vm.node);
  return sim.tasks.start(node, ctx.caller, POWER_TASKS[action], String(vm.vmid), {
    vmid: vm.vmid,
    done: () => {
      if (action === 'start') {
        if (vm.status === 'running') throw new TaskFailure(`VM ${vm.vmid} already running`);
        sim.guests.boot(vm);
        return [`generating cloud-init ISO`];
      }
      if (action === 'stop') {
        if (vm.status === 'running') sim.guests.powerOff(vm);
        return [];
      }
      if (vm.status !== 'running') throw new TaskFailure(`VM ${vm.vmid} not running`);
      sim.guests.powerOff(vm);
      if (action === 'reboot') sim.guests.boot(vm);
      return [];
    },
  });
}

function destroy(sim: SimContext, ctx: Ctx): unknown {
  const { state } = sim;
  const vm = findVm(state, ctx.path.node, ctx.path.vmid);
  need(ctx.caller, `/vms/${vm.vmid}`, 'VM.Allocate');
  checkLock(vm);
  if (vm.status === 'running') throw new SimHttpError(500, `VM ${vm.vmid} is running - destroy failed`);
  if (String(vm.config.protection ?? '0') === '1') {
    throw new SimHttpError(500, `can't remove VM ${vm.vmid} - protection mode enabled`);
  }
  const unreferenced = ctx.params['destroy-unreferenced-disks'] === '1' || ctx.params.purge === '1';
  vm.lock = 'destroyed';
  return sim.tasks.start(findNode(state, vm.node), ctx.caller, 'qmdestroy', String(vm.vmid), {
    vmid: vm.vmid,
    done: () => {
      const referenced = new Set(
        Object.entries(vm.config)
          .filter(([k]) => DISK_KEY.test(k))
          .map(([, v]) => String(v).split(',')[0]),
      );
      const removed: string[] = [];
      for (const s of state.storages) {
        s.items = s.items.filter((item) => {
          // Only the last path element names the owner: base-9000-disk-0/vm-101-disk-0 belongs to 101.
          const owned = new RegExp(`^(vm|base)-${vm.vmid}-`).test(item.volid.split(':')[1]?.split('/').pop() ?? '');
          const drop = referenced.has(item.volid) || (unreferenced && owned);
          if (drop) removed.push(item.volid);
          return !drop;
        });
      }
      state.vms = state.vms.filter((v) => v !== vm);
      sim.guests.removed(vm);
      return removed.map((volid) => `Removing image: ${volid}`);
    },
    failed: () => {
      vm.lock = undefined;
    },
  });
}
