/**
 * /version and the cluster-wide views: the next free VM id, /cluster/resources (whose VM name and status lag behind
 * as pvestatd's do), /cluster/status and the storage configuration under /storage.
 */
import type { SimContext } from '../context.ts';
import { invalidParams, SimHttpError } from '../errors.ts';
import type { Caller, Router } from '../http.ts';
import { can } from '../permissions.ts';
import { storageId, vmid as vmidSpec } from '../schema.ts';
import type { SimState, SimVm, SimVmStats } from '../state.ts';
import { volumesOn } from '../storage.ts';
import { vmStatus } from './qemu.ts';

const RESOURCE_TYPES = ['vm', 'storage', 'node', 'sdn', 'pool'];

export function registerClusterRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/version', { schema: {}, handler: () => state.version });
  router.add('GET', '/cluster/nextid', {
    schema: { vmid: { ...vmidSpec, optional: true } },
    handler: ({ params }) => {
      const taken = new Set(state.vms.map((v) => v.vmid));
      if (params.vmid !== undefined) {
        if (taken.has(Number(params.vmid))) throw invalidParams({ vmid: `VM ${params.vmid} already exists` });
        return params.vmid;
      }
      let id = 100;
      while (taken.has(id)) id++;
      return String(id);
    },
  });
  router.add('GET', '/cluster/resources', {
    schema: { type: { type: 'string', optional: true, enum: RESOURCE_TYPES } },
    handler: ({ caller, params }) => {
      const type = params.type;
      const lag = sim.options.statusLagMs * sim.options.latencyScale;
      return [
        ...(!type || type === 'vm' ? vmRows(state, caller, lag) : []),
        ...(!type || type === 'node' ? nodeRows(state) : []),
        ...(!type || type === 'storage' ? storageRows(state, caller) : []),
      ];
    },
  });
  router.add('GET', '/cluster/status', {
    schema: {},
    handler: () => [
      { type: 'cluster', id: 'cluster', name: 'sim', nodes: state.nodes.length, quorate: 1, version: 1 },
      ...state.nodes.map((n, i) => ({
        type: 'node',
        id: `node/${n.node}`,
        name: n.node,
        nodeid: i + 1,
        online: 1,
        local: i === 0 ? 1 : 0,
        ip: `127.0.0.${i + 1}`,
        level: '',
      })),
    ],
  });
  router.add('GET', '/storage', {
    schema: { type: { type: 'string', optional: true } },
    handler: ({ caller, params }) =>
      state.storages
        .filter((s) => !params.type || s.type === params.type)
        .filter((s) => auditable(caller, s.storage))
        .map((s) => storageDefinition(s)),
  });
  router.add('GET', '/storage/{storage}', {
    schema: { storage: storageId },
    check: (caller, raw) => {
      if (!can(caller, `/storage/${String(raw.storage)}`, 'Datastore.Audit')) {
        throw new SimHttpError(403, `Permission check failed (/storage/${String(raw.storage)}, Datastore.Audit)`);
      }
    },
    handler: ({ params }) => {
      const storage = state.storages.find((s) => s.storage === params.storage);
      if (!storage) throw new SimHttpError(500, `storage '${params.storage}' does not exist`);
      return storageDefinition(storage);
    },
  });
}

function auditable(caller: Caller, storage: string): boolean {
  return (
    can(caller, `/storage/${storage}`, 'Datastore.Audit') ||
    can(caller, `/storage/${storage}`, 'Datastore.AllocateSpace')
  );
}

function storageDefinition(s: SimState['storages'][number]): Record<string, unknown> {
  return {
    storage: s.storage,
    type: s.type,
    content: s.content.join(','),
    ...(s.shared ? { shared: 1 } : {}),
    ...(s.nodes ? { nodes: s.nodes.join(',') } : {}),
    digest: '0000000000000000000000000000000000000000',
  };
}

/** What pvestatd publishes of a VM, refreshed once the lag has passed since the last publication. */
function published(vm: SimVm, lag: number, now: number): SimVmStats | undefined {
  if (lag <= 0 || now - vm.statsAt >= lag) {
    const status = vmStatus(vm, now);
    vm.stats = {
      name: status.name as string | undefined,
      status: vm.status,
      uptime: Number(status.uptime),
      maxmem: Number(status.maxmem),
      maxcpu: Number(status.cpus),
      maxdisk: Number(status.maxdisk),
    };
    vm.statsAt = now;
  }
  return vm.stats;
}

/** The VMs the caller may audit: id, node, lock, tags and template flag are current; name and status may lag. */
function vmRows(state: SimState, caller: Caller, lag: number): unknown[] {
  const now = Date.now();
  return state.vms
    .filter((vm) => can(caller, `/vms/${vm.vmid}`, 'VM.Audit'))
    .map((vm) => {
      const stats = published(vm, lag, now);
      return {
        id: `qemu/${vm.vmid}`,
        type: 'qemu',
        vmid: vm.vmid,
        node: vm.node,
        template: vm.template ? 1 : 0,
        ...(vm.tags.length ? { tags: vm.tags.join(';') } : {}),
        ...(vm.lock ? { lock: vm.lock } : {}),
        ...(vm.pool ? { pool: vm.pool } : {}),
        ...(stats
          ? {
              ...(stats.name !== undefined ? { name: stats.name } : {}),
              status: stats.status,
              uptime: stats.uptime,
              maxmem: stats.maxmem,
              maxcpu: stats.maxcpu,
              maxdisk: stats.maxdisk,
              mem: 0,
              disk: 0,
              cpu: 0,
              netin: 0,
              netout: 0,
              diskread: 0,
              diskwrite: 0,
            }
          : { status: 'unknown' }),
      };
    });
}

function nodeRows(state: SimState): unknown[] {
  return state.nodes.map((n) => ({
    id: `node/${n.node}`,
    type: 'node',
    node: n.node,
    status: 'online',
    maxcpu: n.maxcpu,
    maxmem: n.maxmem,
    level: '',
  }));
}

/** Every storage the caller may audit, once per node it is enabled on. */
function storageRows(state: SimState, caller: Caller): unknown[] {
  return state.nodes.flatMap((n) =>
    state.storages
      .filter((s) => can(caller, `/storage/${s.storage}`, 'Datastore.Audit'))
      .filter((s) => s.nodes === undefined || s.nodes.includes(n.node))
      .map((s) => ({
        id: `storage/${n.node}/${s.storage}`,
        type: 'storage',
        node: n.node,
        storage: s.storage,
        status: 'available',
        content: s.content.join(','),
        plugintype: s.type,
        shared: s.shared ? 1 : 0,
        maxdisk: s.total,
        disk: volumesOn(s, n.node).reduce((sum, v) => sum + (v.size ?? 0), 0),
      })),
  );
}
