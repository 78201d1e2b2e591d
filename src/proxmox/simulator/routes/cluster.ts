/** /version and the cluster-wide views: the next free VM id and /cluster/resources. */
import type { SimContext } from '../context.ts';
import { type Caller, invalidParams, type Router } from '../http.ts';
import { can } from '../permissions.ts';
import type { SimState } from '../state.ts';

const RESOURCE_TYPES = ['vm', 'storage', 'node', 'sdn', 'pool'];

export function registerClusterRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/version', () => state.version);
  router.add('GET', '/cluster/nextid', ({ params }) => {
    const taken = new Set(state.vms.map((v) => v.vmid));
    if (params.vmid !== undefined) {
      const wanted = Number(params.vmid);
      if (taken.has(wanted)) throw invalidParams({ vmid: `VM ${wanted} already exists` });
      return String(wanted);
    }
    let id = 100;
    while (taken.has(id)) id++;
    return String(id);
  });
  router.add('GET', '/cluster/resources', ({ caller, params }) => {
    const type = params.type;
    if (type !== undefined && !RESOURCE_TYPES.includes(type)) {
      throw invalidParams({
        type: `value '${type}' does not have a value in the enumeration 'vm, storage, node, sdn, pool'`,
      });
    }
    return [
      ...(!type || type === 'vm' ? vmRows(state, caller) : []),
      ...(!type || type === 'node' ? nodeRows(state) : []),
      ...(!type || type === 'storage' ? storageRows(state, caller) : []),
    ];
  });
}

/** The VMs the caller may audit. */
function vmRows(state: SimState, caller: Caller): unknown[] {
  return state.vms
    .filter((vm) => can(caller, `/vms/${vm.vmid}`, 'VM.Audit'))
    .map((vm) => ({
      id: `qemu/${vm.vmid}`,
      type: 'qemu',
      vmid: vm.vmid,
      name: vm.name,
      node: vm.node,
      status: vm.status,
      template: vm.template ? 1 : 0,
      tags: vm.tags.join(';'),
      maxcpu: Number(vm.config.cores ?? 1) * Number(vm.config.sockets ?? 1),
      maxmem: Number(vm.config.memory ?? 512) * 1024 ** 2,
      uptime: vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0,
      ...(vm.lock ? { lock: vm.lock } : {}),
      ...(vm.pool ? { pool: vm.pool } : {}),
    }));
}

function nodeRows(state: SimState): unknown[] {
  return state.nodes.map((n) => ({
    id: `node/${n.node}`,
    type: 'node',
    node: n.node,
    status: 'online',
    maxcpu: n.maxcpu,
    maxmem: n.maxmem,
  }));
}

/** Every storage the caller may audit, once per node (the simulated storages are on every node). */
function storageRows(state: SimState, caller: Caller): unknown[] {
  return state.nodes.flatMap((n) =>
    state.storages
      .filter((s) => can(caller, `/storage/${s.storage}`, 'Datastore.Audit'))
      .map((s) => ({
        id: `storage/${n.node}/${s.storage}`,
        type: 'storage',
        node: n.node,
        storage: s.storage,
        status: 'available',
        content: s.content.join(','),
        plugintype: s.type,
        maxdisk: s.total,
      })),
  );
}
