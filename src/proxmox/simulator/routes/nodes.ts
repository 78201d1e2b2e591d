/** Nodes and their storages: /nodes, /nodes/{node}/status, /nodes/{node}/storage and a storage's content. */
import type { SimContext } from '../context.ts';
import { type Caller, type Router, SimHttpError } from '../http.ts';
import { findNode } from '../lookup.ts';
import { can, need } from '../permissions.ts';
import type { SimNode, SimState } from '../state.ts';

export function registerNodeRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/nodes', ({ caller }) =>
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
  );
  router.add('GET', '/nodes/{node}/status', ({ caller, path }) => {
    const node = findNode(state, path.node);
    need(caller, `/nodes/${node.node}`, 'Sys.Audit');
    return nodeStatus(state, node);
  });
  router.add('GET', '/nodes/{node}/storage', ({ caller, path, params }) => {
    findNode(state, path.node);
    return storages(state, caller, params);
  });
  router.add('GET', '/nodes/{node}/storage/{storage}/content', ({ caller, path, params }) => {
    findNode(state, path.node);
    const storage = state.storages.find((s) => s.storage === path.storage);
    if (!storage) throw new SimHttpError(500, `storage '${path.storage}' does not exist`);
    need(caller, `/storage/${storage.storage}`, 'Datastore.Audit', 'Datastore.AllocateSpace');
    if (params.content && !storage.content.includes(params.content)) return [];
    return storage.items
      .filter((item) => !params.content || item.content === params.content)
      .filter((item) => !params.vmid || new RegExp(`[:/](vm|base)-${params.vmid}-`).test(item.volid))
      .map((item) => {
        const owner = /[:/](?:vm|base)-(\d+)-/.exec(item.volid);
        return { ...item, ...(owner ? { vmid: Number(owner[1]) } : {}), ctime: 1700000000 };
      });
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

/** The storages the caller may audit or allocate on, filtered by content type and name. */
function storages(state: SimState, caller: Caller, params: Record<string, string>): unknown[] {
  return state.storages
    .filter(
      (s) =>
        can(caller, `/storage/${s.storage}`, 'Datastore.Audit') ||
        can(caller, `/storage/${s.storage}`, 'Datastore.AllocateSpace'),
    )
    .filter((s) => !params.content || params.content.split(',').some((c) => s.content.includes(c)))
    .filter((s) => !params.storage || params.storage === s.storage)
    .map((s) => {
      const used = s.items.reduce((sum, item) => sum + (item.size ?? 0), 0);
      return {
        storage: s.storage,
        type: s.type,
        content: s.content.join(','),
        active: 1,
        enabled: 1,
        shared: 0,
        total: s.total,
        used,
        avail: s.total - used,
        used_fraction: used / s.total,
      };
    });
}
