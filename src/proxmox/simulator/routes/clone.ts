/**
 * Cloning a VM or template: full or linked, to another storage or node, as a qmclone task that locks the new VM
 * (and the source) until it ends and removes the placeholder when it fails.
 */
import type { SimContext } from '../context.ts';
import { type Ctx, invalidParams, SimHttpError } from '../http.ts';
import { checkLock, findNode, findVm } from '../lookup.ts';
import { need } from '../permissions.ts';
import { newMac, type SimState, type SimStorage, type SimVm } from '../state.ts';
import { TASK_MS } from '../tasks.ts';
import { parseSize } from '../units.ts';
import { DISK_KEY, DNS_NAME } from '../vm-config.ts';

interface ClonedConfig {
  config: Record<string, string | number>;
  volumes: Array<{ storage: string; volid: string; size: number }>;
  lines: string[];
}

export function cloneVm(sim: SimContext, ctx: Ctx): unknown {
  const { state } = sim;
  const { caller, params } = ctx;
  const source = findVm(state, ctx.path.node, ctx.path.vmid);
  checkParams(state, params);
  const newid = Number(params.newid);
  const full = params.full === undefined ? !source.template : params.full === '1';
  const storage = params.storage ? state.storages.find((s) => s.storage === params.storage) : undefined;
  need(caller, `/vms/${source.vmid}`, 'VM.Clone');
  need(caller, params.pool ? `/pool/${params.pool}` : `/vms/${newid}`, 'VM.Allocate');
  if (params.storage) {
    if (!storage) throw new SimHttpError(500, `storage '${params.storage}' does not exist`);
    need(caller, `/storage/${storage.storage}`, 'Datastore.AllocateSpace');
    if (!storage.content.includes('images')) {
      throw new SimHttpError(500, `storage '${storage.storage}' does not support content-type 'images'`);
    }
    if (!full) throw invalidParams({ storage: 'option is only allowed for full clones' });
  }
  if (!full && !source.template) throw new SimHttpError(500, 'linked clone feature is only available for templates');
  if (state.vms.some((v) => v.vmid === newid)) {
    throw new SimHttpError(500, `unable to create VM ${newid}: config file already exists`);
  }
  // A template is shared-locked (concurrent linked clones are fine); any other source is exclusively locked.
  if (source.lock && !(source.template && source.lock === 'clone')) checkLock(source);

  const { config, volumes, lines } = cloneConfig(source, newid, full, storage);
  const name = params.name ?? `Copy-of-VM-${source.name}`;
  config.name = name;
  if (params.description !== undefined) config.description = params.description;
  const vm: SimVm = {
    vmid: newid,
    name,
    node: params.target ?? source.node,
    template: false,
    tags: [...source.tags.filter((t) => t !== 'template')],
    status: 'stopped',
    config,
    lock: 'clone',
    mac: newMac(newid),
    pool: params.pool,
  };
  if (vm.tags.length > 0) vm.config.tags = vm.tags.join(';');
  else delete vm.config.tags;
  state.vms.push(vm);
  source.lock = 'clone';
  const releaseSource = () => {
    const stillCloning = state.tasks.some(
      (t) => t.status === 'running' && t.type === 'qmclone' && t.id === String(source.vmid),
    );
    if (!stillCloning && source.lock === 'clone') source.lock = undefined;
  };
  return sim.tasks.start(findNode(state, source.node), caller, 'qmclone', String(source.vmid), {
    vmid: newid,
    durationMs: full ? TASK_MS.qmclone * 2 : TASK_MS.qmclone,
    done: () => {
      vm.lock = undefined;
      for (const v of volumes) {
        state.storages
          .find((s) => s.storage === v.storage)
          ?.items.push({ volid: v.volid, content: 'images', format: 'raw', size: v.size });
      }
      releaseSource();
      return lines;
    },
    failed: () => {
      state.vms = state.vms.filter((v) => v !== vm);
      releaseSource();
    },
  });
}

function checkParams(state: SimState, params: Record<string, string>): void {
  const errors: Record<string, string> = {};
  const newid = Number(params.newid);
  if (params.newid === undefined) errors.newid = 'property is missing and it is not optional';
  else if (!/^\d+$/.test(params.newid)) errors.newid = `type check ('integer') failed - got '${params.newid}'`;
  else if (newid < 100 || newid > 999999999) errors.newid = 'value must have a minimum value of 100';
  if (params.name !== undefined && !DNS_NAME.test(params.name))
    errors.name = 'invalid format - value does not look like a valid DNS name';
  if (params.full !== undefined && !/^[01]$/.test(params.full))
    errors.full = `type check ('boolean') failed - got '${params.full}'`;
  if (params.target !== undefined && !state.nodes.some((n) => n.node === params.target)) {
    errors.target = `no such cluster node '${params.target}'`;
  }
  if (Object.keys(errors).length > 0) throw invalidParams(errors);
}

/** The new VM's config: disks copied (full) or based on the template's (linked), fresh MACs, cloud-init drive. */
function cloneConfig(source: SimVm, newid: number, full: boolean, storage: SimStorage | undefined): ClonedConfig {
  const config: Record<string, string | number> = {};
  const volumes: ClonedConfig['volumes'] = [];
  const lines: string[] = [];
  let diskIndex = 0;
  for (const [key, value] of Object.entries(source.config)) {
    if (key === 'template' || key === 'name' || key === 'description') continue;
    const text = String(value);
    if (DISK_KEY.test(key) && !text.startsWith('none') && !/media=cdrom/.test(text.replace(/cloudinit.*/, ''))) {
      const [volid, ...opts] = text.split(',');
      const [srcStorage, volume] = volid.split(':');
      const sizeText = /size=([\d.]+[KMGT]?)/.exec(text)?.[1];
      if (/cloudinit/.test(volume ?? '')) {
        const st = storage?.storage ?? srcStorage;
        config[key] = [`${st}:vm-${newid}-cloudinit`, ...opts].join(',');
        volumes.push({ storage: st, volid: `${st}:vm-${newid}-cloudinit`, size: 4 * 1024 ** 2 });
        continue;
      }
      const st = full ? (storage?.storage ?? srcStorage) : srcStorage;
      const newVolume = full ? `vm-${newid}-disk-${diskIndex}` : `${volume}/vm-${newid}-disk-${diskIndex}`;
      diskIndex++;
      config[key] = [`${st}:${newVolume}`, ...opts].join(',');
      volumes.push({ storage: st, volid: `${st}:${newVolume}`, size: parseSize(sizeText ?? '0') ?? 0 });
      lines.push(`create ${full ? 'full' : 'linked'} clone of drive ${key} (${volid})`);
      continue;
    }
    if (/^net\d+$/.test(key)) {
      config[key] = text.replace(/=([0-9A-F]{2}:){5}[0-9A-F]{2}/i, `=${newMac(newid)}`);
      continue;
    }
    config[key] = value;
  }
  return { config, volumes, lines };
}
