/** Nodes and their storages: /nodes, a node's status, its storages, and a storage's volumes (list, allocate, free). */
import type { SimContext } from '../context.ts';
import { SimHttpError } from '../errors.ts';
import type { Caller, Router } from '../http.ts';
import { findNode } from '../lookup.ts';
import { can, need } from '../permissions.ts';
import { NODE_PATH, optionalBool, optionalString, storageId, vmid as vmidSpec } from '../schema.ts';
import type { SimNode, SimState } from '../state.ts';
import { allocate, free, storageOn, volumeOwner, volumesOn } from '../storage.ts';
import { parseSize } from '../units.ts';

const CONTENT_TYPES = ['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import'];

export function registerNodeRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/nodes', {
    schema: {},
    handler: ({ caller }) =>
      state.nodes.map((n) => ({
        node: n.node,
        id: `node/${n.node}`,
        type: 'node',
        status: 'online',
        level: '',
        ...(can(caller, `/nodes/${n.node}`, 'Sys.Audit')
          ? {
              maxcpu: n.maxcpu,
              maxmem: n.maxmem,
              mem: Math.floor(n.maxmem / 8),
              cpu: 0.03,
              uptime: Math.floor(process.uptime()),
              ssl_fingerprint: sim.certificate()?.fingerprint,
            }
          : {}),
      })),
  });
  router.add('GET', '/nodes/{node}/status', {
    schema: NODE_PATH,
    check: (caller, raw) => need(caller, `/nodes/${String(raw.node)}`, 'Sys.Audit'),
    handler: ({ params }) => nodeStatus(state, findNode(state, params.node)),
  });
  router.add('GET', '/nodes/{node}/storage', {
    schema: {
      ...NODE_PATH,
      content: optionalString,
      storage: { ...storageId, optional: true },
      enabled: optionalBool,
      format: optionalBool,
      target: optionalString,
    },
    handler: ({ caller, params }) => storages(state, caller, params),
  });
  router.add('GET', '/nodes/{node}/storage/{storage}/content', {
    schema: {
      ...NODE_PATH,
      storage: storageId,
      content: { type: 'string', optional: true, enum: CONTENT_TYPES },
      vmid: { ...vmidSpec, optional: true },
    },
    handler: ({ caller, params }) => {
      const storage = storageOn(state, params.storage, params.node);
      need(caller, `/storage/${storage.storage}`, 'Datastore.Audit', 'Datastore.AllocateSpace');
      return volumesOn(storage, params.node)
        .filter((item) => !params.content || item.content === params.content)
        .filter((item) => !params.vmid || volumeOwner(item.volid) === Number(params.vmid))
        .map(({ node: _node, ...item }) => {
          const owner = volumeOwner(item.volid);
          return { ...item, ...(owner !== undefined ? { vmid: owner } : {}), ctime: 1700000000 };
        });
    },
  });
  router.add('POST', '/nodes/{node}/storage/{storage}/content', {
    schema: {
      ...NODE_PATH,
      storage: storageId,
      filename: { type: 'string' },
      size: { type: 'string', pattern: /\d+[MG]?/ },
      vmid: vmidSpec,
      format: { type: 'string', optional: true, enum: ['raw', 'qcow2', 'subvol', 'vmdk'] },
    },
    check: (caller, raw) => need(caller, `/storage/${String(raw.storage)}`, 'Datastore.AllocateSpace'),
    handler: ({ params }) => {
      const name = params.filename;
      if (!new RegExp(`^(vm|base)-${params.vmid}-`).test(name)) {
        throw new SimHttpError(500, `illegal name '${name}' - should be 'vm-${params.vmid}-*'`);
      }
      const unit = /G$/.test(params.size) ? 'G' : 'K';
      const size = parseSize(`${params.size.replace(/[MG]$/, '')}${/M$/.test(params.size) ? 'M' : unit}`) ?? 0;
      const volid = `${params.storage}:${name}`;
      if (volumesOn(storageOn(state, params.storage, params.node), params.node).some((v) => v.volid === volid)) {
        throw new SimHttpError(500, `volume '${volid}' already exists`);
      }
      return allocate(state, params.storage, params.node, Number(params.vmid), size, 'disk', volid).volid;
    },
  });
  router.add('DELETE', '/nodes/{node}/storage/{storage}/content/{volume}', {
    schema: {
      ...NODE_PATH,
      storage: { ...storageId, optional: true },
      volume: { type: 'string' },
      delay: { type: 'integer', optional: true },
    },
    check: (caller, raw) =>
      need(caller, `/storage/${String(raw.storage)}`, 'Datastore.Allocate', 'Datastore.AllocateSpace'),
    handler: ({ params }) => {
      const volid = params.volume.includes(':') ? params.volume : `${params.storage}:${params.volume}`;
      const owner = volumeOwner(volid);
      const user = state.vms.find((vm) => vm.vmid === owner);
      if (user && Object.values(user.config).some((v) => String(v).split(',')[0] === volid)) {
        throw new SimHttpError(500, `unable to delete '${volid}' - volume is still in use (VM ${owner})`);
      }
      if (!free(state, volid, params.node)) throw new SimHttpError(500, `volume '${volid}' does not exist`);
      return null;
    },
  });
}

function nodeStatus(state: SimState, node: SimNode): unknown {
  return {
    cpuinfo: {
      cpus: node.maxcpu,
      cores: node.maxcpu,
      sockets: 1,
      model: 'Simulated CPU @ 3.00GHz',
      mhz: '3000.000',
      hvm: node.cpuFlags.includes('vmx') || node.cpuFlags.includes('svm') ? '1' : '0',
      user_hz: 100,
      flags: node.cpuFlags.join(' '),
    },
    memory: {
      total: node.maxmem,
      used: Math.floor(node.maxmem / 8),
      free: node.maxmem - Math.floor(node.maxmem / 8),
    },
    pveversion: `pve-manager/${state.version.version}/${state.version.repoid}`,
    kversion: 'Linux 6.8.12-9-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9 (simulated)',
    uptime: Math.floor(process.uptime()),
    loadavg: ['0.10', '0.05', '0.01'],
  };
}

/** The storages enabled on a node that the caller may audit or allocate on, filtered by content type and name. */
function storages(state: SimState, caller: Caller, params: Record<string, string>): unknown[] {
  return state.storages
    .filter((s) => s.nodes === undefined || s.nodes.includes(params.node))
    .filter(
      (s) =>
        can(caller, `/storage/${s.storage}`, 'Datastore.Audit') ||
        can(caller, `/storage/${s.storage}`, 'Datastore.AllocateSpace'),
    )
    .filter((s) => !params.content || params.content.split(',').some((c) => s.content.includes(c)))
    .filter((s) => !params.storage || params.storage === s.storage)
    .map((s) => {
      const used = volumesOn(s, params.node).reduce((sum, item) => sum + (item.size ?? 0), 0);
      return {
        storage: s.storage,
        type: s.type,
        content: s.content.join(','),
        active: 1,
        enabled: 1,
        shared: s.shared ? 1 : 0,
        total: s.total,
        used,
        avail: s.total - used,
        used_fraction: used / s.total,
      };
    });
}
