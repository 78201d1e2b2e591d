/** A VM's config: read it (with its digest), change it (POST as a task, PUT at once), resize a disk. */
import { createHash } from 'node:crypto';
import type { SimContext } from '../context.ts';
import { type Ctx, invalidParams, type Router, SimHttpError } from '../http.ts';
import { checkLock, findNode, findVm } from '../lookup.ts';
import { need } from '../permissions.ts';
import { formatSize, parseSize } from '../units.ts';
import { applyConfig, configPrivilege, DISK_KEY, validateConfig } from '../vm-config.ts';

export function registerConfigRoutes(router: Router, sim: SimContext): void {
  router.add('GET', '/nodes/{node}/qemu/{vmid}/config', ({ caller, path }) => {
    const vm = findVm(sim.state, path.node, path.vmid);
    need(caller, `/vms/${vm.vmid}`, 'VM.Audit');
    const config: Record<string, unknown> = { ...vm.config };
    if (vm.lock) config.lock = vm.lock;
    if (vm.tags.length > 0) config.tags = vm.tags.join(';');
    config.digest = createHash('sha1').update(JSON.stringify(vm.config)).digest('hex');
    return config;
  });
  router.add('POST', '/nodes/{node}/qemu/{vmid}/config', (ctx) => updateConfig(sim, ctx, true));
  router.add('PUT', '/nodes/{node}/qemu/{vmid}/config', (ctx) => updateConfig(sim, ctx, false));
  router.add('PUT', '/nodes/{node}/qemu/{vmid}/resize', (ctx) => resize(sim, ctx));
}

function updateConfig(sim: SimContext, ctx: Ctx, async: boolean): unknown {
  const vm = findVm(sim.state, ctx.path.node, ctx.path.vmid);
  const change = validateConfig(ctx.params);
  const { set, remove } = change;
  for (const key of new Set([...Object.keys(set), ...remove]))
    need(ctx.caller, `/vms/${vm.vmid}`, configPrivilege(key));
  if (ctx.params.skiplock !== '1') checkLock(vm);
  const lines = [
    ...Object.entries(set).map(([k, v]) => `update VM ${vm.vmid}: -${k} ${k === 'cipassword' ? '**********' : v}`),
    ...remove.map((k) => `delete VM ${vm.vmid}: ${k}`),
  ];
  if (!async) {
    applyConfig(vm, change);
    return null;
  }
  return sim.tasks.start(findNode(sim.state, vm.node), ctx.caller, 'qmconfig', String(vm.vmid), {
    vmid: vm.vmid,
    done: () => {
      applyConfig(vm, change);
      return lines;
    },
  });
}

function resize(sim: SimContext, ctx: Ctx): unknown {
  const vm = findVm(sim.state, ctx.path.node, ctx.path.vmid);
  const { disk, size } = ctx.params;
  const errors: Record<string, string> = {};
  if (!disk) errors.disk = 'property is missing and it is not optional';
  else if (!DISK_KEY.test(disk) || disk.startsWith('unused'))
    errors.disk = `value '${disk}' does not have a value in the enumeration`;
  if (!size) errors.size = 'property is missing and it is not optional';
  else if (!/^\+?\d+(\.\d+)?[KMGT]?$/.test(size)) errors.size = `value does not match the regex pattern`;
  if (Object.keys(errors).length > 0) throw invalidParams(errors);
  need(ctx.caller, `/vms/${vm.vmid}`, 'VM.Config.Disk');
  checkLock(vm);
  const drive = vm.config[disk];
  if (drive === undefined) throw new SimHttpError(500, `disk '${disk}' does not exist`);
  if (/media=cdrom/.test(String(drive))) throw new SimHttpError(500, "you can't resize a cdrom");
  const current = parseSize(/size=([\d.]+[KMGT]?)/.exec(String(drive))?.[1] ?? '0') ?? 0;
  const delta = parseSize(size.replace(/^\+/, '')) ?? 0;
  const target = size.startsWith('+') ? current + delta : delta;
  if (target < current) throw new SimHttpError(500, 'shrinking disks is not supported');
  const volid = String(drive).split(',')[0];
  return sim.tasks.start(findNode(sim.state, vm.node), ctx.caller, 'resize', String(vm.vmid), {
    vmid: vm.vmid,
    done: () => {
      const newValue = /size=/.test(String(drive))
        ? String(drive).replace(/size=[\d.]+[KMGT]?/, `size=${formatSize(target)}`)
        : `${drive},size=${formatSize(target)}`;
      vm.config[disk] = newValue;
      for (const s of sim.state.storages) for (const item of s.items) if (item.volid === volid) item.size = target;
      return [`  Size of logical volume ${volid} changed from ${formatSize(current)} to ${formatSize(target)}.`];
    },
  });
}
