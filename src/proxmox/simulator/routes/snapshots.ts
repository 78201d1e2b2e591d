/** VM snapshots: list, take (with or without RAM), read, roll back and delete, each mutation a task as in PVE. */
import type { SimContext } from '../context.ts';
import { SimHttpError } from '../errors.ts';
import type { Ctx, Router } from '../http.ts';
import { checkLockInTask, findNode, findVm, vmInTask } from '../lookup.ts';
import { vmPerm } from '../permissions.ts';
import { configId, optionalBool, optionalString, VM_PATH } from '../schema.ts';
import type { SimVm } from '../state.ts';
import { TaskFailure, type TaskType } from '../tasks.ts';

const SNAP_PATH = { ...VM_PATH, snapname: configId };

export function registerSnapshotRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/nodes/{node}/qemu/{vmid}/snapshot', {
    schema: VM_PATH,
    check: vmPerm('VM.Audit'),
    handler: ({ params }) => {
      const vm = findVm(state, params.node, params.vmid);
      return [
        ...vm.snapshots.map((s) => ({
          name: s.name,
          snaptime: s.snaptime,
          vmstate: s.vmstate ? 1 : 0,
          description: s.description,
          ...(s.parent ? { parent: s.parent } : {}),
        })),
        {
          name: 'current',
          running: vm.status === 'running' ? 1 : 0,
          description: 'You are here!',
          ...(vm.parent ? { parent: vm.parent } : {}),
        },
      ];
    },
  });
  router.add('POST', '/nodes/{node}/qemu/{vmid}/snapshot', {
    schema: { ...SNAP_PATH, vmstate: optionalBool, description: optionalString },
    check: vmPerm('VM.Snapshot'),
    handler: (ctx) => {
      const name = ctx.params.snapname;
      if (name === 'current') throw new SimHttpError(500, "unable to use snapshot name 'current' (reserved name)");
      if (name.toLowerCase() === 'pending')
        throw new SimHttpError(500, "unable to use snapshot name 'pending' (reserved name)");
      findVm(state, ctx.params.node, ctx.params.vmid);
      return task(sim, ctx, 'qmsnapshot', (vm) => {
        if (vm.snapshots.some((s) => s.name === name)) throw new TaskFailure(`snapshot name '${name}' already used`);
        vm.snapshots.push({
          name,
          description: ctx.params.description ?? '',
          snaptime: Math.floor(Date.now() / 1000),
          parent: vm.parent,
          vmstate: ctx.params.vmstate === '1' && vm.status === 'running',
          config: { ...vm.config },
        });
        vm.parent = name;
        return [`snapshotting '${name}'`];
      });
    },
  });
  router.add('GET', '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config', {
    schema: SNAP_PATH,
    check: vmPerm('VM.Snapshot', 'VM.Snapshot.Rollback', 'VM.Audit'),
    handler: ({ params }) => {
      const snap = findVm(state, params.node, params.vmid).snapshots.find((s) => s.name === params.snapname);
      if (!snap) throw new SimHttpError(500, `snapshot '${params.snapname}' does not exist`);
      return {
        ...snap.config,
        snaptime: snap.snaptime,
        description: snap.description,
        ...(snap.parent ? { parent: snap.parent } : {}),
      };
    },
  });
  router.add('POST', '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback', {
    schema: { ...SNAP_PATH, start: optionalBool },
    check: vmPerm('VM.Snapshot', 'VM.Snapshot.Rollback'),
    handler: (ctx) =>
      task(sim, ctx, 'qmrollback', (vm) => {
        const snap = vm.snapshots.find((s) => s.name === ctx.params.snapname);
        if (!snap) throw new TaskFailure(`snapshot '${ctx.params.snapname}' does not exist`);
        if (vm.status === 'running') sim.guests.powerOff(vm);
        vm.config = { ...snap.config };
        vm.parent = snap.name;
        if (snap.vmstate || ctx.params.start === '1') sim.guests.boot(vm);
        return [`rollback to snapshot '${snap.name}'`];
      }),
  });
  router.add('DELETE', '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}', {
    schema: { ...SNAP_PATH, force: optionalBool },
    check: vmPerm('VM.Snapshot'),
    handler: (ctx) =>
      task(sim, ctx, 'qmdelsnapshot', (vm) => {
        const snap = vm.snapshots.find((s) => s.name === ctx.params.snapname);
        if (!snap) throw new TaskFailure(`snapshot '${ctx.params.snapname}' does not exist`);
        vm.snapshots = vm.snapshots.filter((s) => s !== snap);
        for (const other of vm.snapshots) if (other.parent === snap.name) other.parent = snap.parent;
        if (vm.parent === snap.name) vm.parent = snap.parent;
        return [`delete snapshot '${snap.name}'`];
      }),
  });
}

/** A snapshot task: the VM is looked up and its lock checked inside the worker, as PVE's snapshot code does. */
function task(sim: SimContext, ctx: Ctx, type: TaskType, body: (vm: SimVm) => string[]): string {
  return sim.tasks.start(findNode(sim.state, ctx.params.node), ctx.caller, type, ctx.params.vmid, {
    vmid: Number(ctx.params.vmid),
    done: () => {
      const vm = vmInTask(sim.state, ctx.params.node, ctx.params.vmid);
      checkLockInTask(vm);
      return body(vm);
    },
  });
}
