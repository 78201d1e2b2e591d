/**
 * The simulated cluster: nodes, storages, VMs, users/tokens with privileges, tasks. The seed (YAML or object) is the
 * starting state; everything else changes only through the API, so `GET /_sim/state` can judge what a client did.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StrataError } from '../../errors.ts';
import { yaml } from '../../util/yaml-lib.ts';

/** Storage types PVE treats as shared without the `shared` flag. */
const SHARED_TYPES = new Set(['nfs', 'cifs', 'glusterfs', 'cephfs', 'rbd', 'iscsi', 'iscsidirect', 'pbs']);

export function defaultShared(type: string): boolean {
  return SHARED_TYPES.has(type);
}

/** Every privilege PVE 8 knows; `Administrator` in a seed expands to all of them. */
export const ALL_PRIVILEGES = [
  'Datastore.Allocate',
  'Datastore.AllocateSpace',
  'Datastore.AllocateTemplate',
  'Datastore.Audit',
  'Permissions.Modify',
  'Pool.Allocate',
  'Pool.Audit',
  'SDN.Audit',
  'SDN.Use',
  'Sys.Audit',
  'Sys.Console',
  'Sys.Modify',
  'Sys.PowerMgmt',
  'Sys.Syslog',
  'User.Modify',
  'VM.Allocate',
  'VM.Audit',
  'VM.Backup',
  'VM.Clone',
  'VM.Config.CDROM',
  'VM.Config.CPU',
  'VM.Config.Cloudinit',
  'VM.Config.Disk',
  'VM.Config.HWType',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Console',
  'VM.GuestAgent.Audit',
  'VM.Migrate',
  'VM.Monitor',
  'VM.PowerMgmt',
  'VM.Snapshot',
  'VM.Snapshot.Rollback',
];

export interface SeedNode {
  node: string;
  /** Linux bridges a NIC may name; default [vmbr0]. */
  bridges?: string[];
  maxcpu?: number;
  maxmem?: number;
  /** CPU flags reported by /nodes/{node}/status; default includes vmx (nested virtualisation available). */
  cpuFlags?: string[];
}

export interface SeedStorageItem {
  volid: string;
  content: string;
  format?: string;
  size?: number;
  /** The node a volume of a local storage lives on; default: its owner VM's node, else the first node. */
  node?: string;
}

/** A volume on a storage; `node` is set for local storages (each node has its own volumes). */
export type SimVolume = SeedStorageItem;

export interface SeedStorage {
  storage: string;
  type: string;
  /** Content types the storage accepts, e.g. [images, rootdir] or [iso, vztmpl, snippets]. */
  content: string[];
  items?: SeedStorageItem[];
  total?: number;
  /** Every node reaches the same volumes (NFS, Ceph…); default by type (dir, lvm, lvmthin, zfspool are local). */
  shared?: boolean;
  /** Nodes the storage is enabled on; default all. */
  nodes?: string[];
}

export interface SeedVm {
  vmid: number;
  name: string;
  node?: string;
  template?: boolean;
  tags?: string[];
  status?: 'running' | 'stopped';
  config?: Record<string, string | number>;
}

export interface SeedToken {
  id: string;
  secret?: string;
  privsep?: boolean;
  comment?: string;
  /** Own ACLs of a privilege-separated token: path → privileges. */
  privileges?: Record<string, string[]>;
}

export interface SeedUser {
  userid: string;
  /** Password for POST /access/ticket logins; default: random (root@pam's is printed by strata pve-sim). */
  password?: string;
  /** ACLs: path → privileges (propagating to sub-paths, as PVE ACLs do by default). */
  privileges?: Record<string, string[]>;
  tokens?: SeedToken[];
}

export interface SimSeed {
  version?: { version: string; release: string; repoid: string };
  nodes?: SeedNode[];
  storages?: SeedStorage[];
  vms?: SeedVm[];
  users?: SeedUser[];
  /** Resource pools (POST …/clone pool=). */
  pools?: string[];
}

/** What pvestatd last published about a VM (cluster/resources shows this, not the live state). */
export interface SimVmStats {
  name?: string;
  status: string;
  uptime: number;
  maxmem: number;
  maxcpu: number;
  maxdisk: number;
}

export interface SimSnapshot {
  name: string;
  description: string;
  snaptime: number;
  parent?: string;
  vmstate: boolean;
  config: Record<string, string | number>;
}

export interface SimVm {
  vmid: number;
  name: string;
  node: string;
  template: boolean;
  tags: string[];
  status: 'running' | 'stopped';
  config: Record<string, string | number>;
  lock?: string;
  /** Epoch ms when the VM was started; the guest agent answers from bootedAt on. */
  startedAt?: number;
  bootedAt?: number;
  ip?: string;
  agentLost?: boolean;
  /** Files written into the guest through the agent (file-write), by path. */
  guestFiles?: Record<string, string>;
  pool?: string;
  /** Changes waiting for the next start (keys that cannot be hot-plugged into a running VM). */
  pending: Record<string, string | number>;
  pendingDelete: string[];
  snapshots: SimSnapshot[];
  /** The snapshot the current state derives from. */
  parent?: string;
  /** pvestatd's last view of the VM and when it was taken (cluster/resources lags behind by statusLagMs). */
  stats?: SimVmStats;
  statsAt: number;
}

export interface SimToken {
  id: string;
  secret: string;
  privsep: boolean;
  comment?: string;
  privileges: Record<string, string[]>;
}

export interface SimUser {
  userid: string;
  password: string;
  privileges: Record<string, string[]>;
  tokens: SimToken[];
}

export interface SimTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  starttime: number;
  endtime?: number;
  log: string[];
  /** Status polls seen; a task of no duration (latencyScale 0) ends at its second poll. */
  polls: number;
}

export interface SimRequest {
  method: string;
  path: string;
  status: number | null;
  /** Why a request failed: PVE's message and per-parameter errors. */
  error?: string;
}

export interface SimNode {
  node: string;
  maxcpu: number;
  maxmem: number;
  cpuFlags: string[];
  bridges: string[];
  pstart: number;
}

export interface SimStorage {
  storage: string;
  type: string;
  content: string[];
  items: SimVolume[];
  total: number;
  shared: boolean;
  nodes?: string[];
}

export interface SimState {
  version: { version: string; release: string; repoid: string };
  nodes: SimNode[];
  storages: SimStorage[];
  vms: SimVm[];
  users: SimUser[];
  pools: string[];
  tasks: SimTask[];
  requests: SimRequest[];
}

const DEFAULT_FLAGS =
  'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology cpuid tsc_known_freq pni pclmulqdq vmx ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch ssbd ibrs ibpb stibp tpr_shadow flexpriority ept vpid ept_ad fsgsbase bmi1 avx2 smep bmi2 erms invpcid avx512f rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves arat';

export const DEFAULT_CPU_FLAGS = DEFAULT_FLAGS.split(' ');

/** A small single-node lab: a Debian cloud-image template, LVM-thin for disks, `local` for ISOs and snippets. */
export function defaultSeed(node = 'pve'): SimSeed {
  return {
    nodes: [{ node, maxcpu: 16, maxmem: 64 * 1024 ** 3 }],
    storages: [
      {
        storage: 'local',
        type: 'dir',
        content: ['iso', 'vztmpl', 'backup', 'snippets', 'import'],
        items: [
          { volid: 'local:iso/debian-12.7.0-amd64-netinst.iso', content: 'iso', format: 'iso', size: 661651456 },
          {
            volid: 'local:import/debian-12-genericcloud-amd64.qcow2',
            content: 'import',
            format: 'qcow2',
            size: 350224384,
          },
        ],
      },
      {
        storage: 'local-lvm',
        type: 'lvmthin',
        content: ['images', 'rootdir'],
        items: [
          { volid: 'local-lvm:base-9000-disk-0', content: 'images', format: 'raw', size: 3 * 1024 ** 3 },
          { volid: 'local-lvm:vm-9000-cloudinit', content: 'images', format: 'raw', size: 4 * 1024 ** 2 },
        ],
      },
    ],
    vms: [
      {
        vmid: 9000,
        name: 'debian-12-cloud',
        template: true,
        tags: ['template'],
        config: {
          cores: 2,
          memory: 2048,
          cpu: 'host',
          agent: 'enabled=1',
          scsihw: 'virtio-scsi-single',
          scsi0: 'local-lvm:base-9000-disk-0,size=3G',
          ide2: 'local-lvm:vm-9000-cloudinit,media=cdrom',
          net0: 'virtio=BC:24:11:00:90:00,bridge=vmbr0',
          serial0: 'socket',
          vga: 'serial0',
          boot: 'order=scsi0',
          ostype: 'l26',
        },
      },
    ],
    users: [{ userid: 'root@pam', privileges: { '/': ['Administrator'] }, tokens: [{ id: 'strata', privsep: false }] }],
  };
}

function expandPrivileges(acl: Record<string, string[]> | undefined, where: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [path, privs] of Object.entries(acl ?? {})) {
    if (!path.startsWith('/')) throw new StrataError(`${where}: ACL path ${JSON.stringify(path)} must start with /`);
    if (!Array.isArray(privs)) throw new StrataError(`${where}: privileges of ${path} must be a list`);
    const expanded = new Set<string>();
    for (const priv of privs) {
      if (priv === 'Administrator') for (const p of ALL_PRIVILEGES) expanded.add(p);
      else if (ALL_PRIVILEGES.includes(priv)) expanded.add(priv);
      else throw new StrataError(`${where}: unknown privilege ${JSON.stringify(priv)} on ${path}`);
    }
    out[path] = [...expanded].sort();
  }
  return out;
}

/** A random MAC with PVE's default prefix (datacenter.cfg mac_prefix BC:24:11), as a clone or a new NIC gets. */
export function randomMac(): string {
  const bytes = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'));
  return `BC:24:11:${bytes.join(':')}`.toUpperCase();
}

/** The node a seeded volume of a local storage lives on: its owner VM's, else the first node. */
function volumeNode(item: SeedStorageItem, vms: SeedVm[], first: string): string {
  const owner = /[:/](?:vm|base)-(\d+)-[^/]*$/.exec(item.volid)?.[1];
  return item.node ?? vms.find((v) => String(v.vmid) === owner)?.node ?? first;
}

/** Builds the live state from a seed; unknown references (VM on a missing node, bad privilege) are errors. */
export function stateFromSeed(seed: SimSeed, where = 'simulator seed'): SimState {
  const nodes: SimNode[] = (seed.nodes ?? defaultSeed().nodes ?? []).map((n) => {
    if (!n?.node || !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(n.node)) {
      throw new StrataError(`${where}: node name ${JSON.stringify(n?.node)} is not a valid host name`);
    }
    return {
      node: n.node,
      maxcpu: n.maxcpu ?? 16,
      maxmem: n.maxmem ?? 64 * 1024 ** 3,
      cpuFlags: n.cpuFlags ?? DEFAULT_CPU_FLAGS,
      bridges: n.bridges ?? ['vmbr0'],
      pstart: 1000 + Math.floor(Math.random() * 0xffffff),
    };
  });
  if (nodes.length === 0) throw new StrataError(`${where}: at least one node is needed`);
  const nodeNames = new Set(nodes.map((n) => n.node));
  const storages: SimStorage[] = (seed.storages ?? []).map((s) => {
    const shared = s.shared ?? defaultShared(s.type ?? 'dir');
    for (const n of s.nodes ?? []) {
      if (!nodeNames.has(n))
        throw new StrataError(
          `${where}: storage ${s.storage} names node ${JSON.stringify(n)}, which the seed does not define`,
        );
    }
    return {
      storage: s.storage,
      type: s.type ?? 'dir',
      content: s.content ?? ['images'],
      items: (s.items ?? []).map((i) =>
        shared ? { ...i } : { ...i, node: volumeNode(i, seed.vms ?? [], nodes[0].node) },
      ),
      total: s.total ?? 500 * 1024 ** 3,
      shared,
      ...(s.nodes ? { nodes: [...s.nodes] } : {}),
    };
  });
  const vmids = new Set<number>();
  const vms: SimVm[] = (seed.vms ?? []).map((v) => {
    if (!Number.isInteger(v.vmid) || v.vmid < 100)
      throw new StrataError(`${where}: vmid ${v.vmid} must be an integer >= 100`);
    if (vmids.has(v.vmid)) throw new StrataError(`${where}: vmid ${v.vmid} is used twice`);
    vmids.add(v.vmid);
    const node = v.node ?? nodes[0].node;
    if (!nodeNames.has(node)) {
      throw new StrataError(
        `${where}: VM ${v.vmid} is on node ${JSON.stringify(node)}, which the seed does not define`,
      );
    }
    const status = v.template ? 'stopped' : (v.status ?? 'stopped');
    const now = Date.now();
    return {
      vmid: v.vmid,
      name: v.name,
      node,
      template: v.template ?? false,
      tags: v.tags ?? [],
      status,
      config: { ...(v.config ?? {}), name: v.name, ...(v.template ? { template: 1 } : {}) },
      pending: {},
      pendingDelete: [],
      snapshots: [],
      statsAt: 0,
      ...(status === 'running' ? { startedAt: now, bootedAt: now } : {}),
    };
  });
  const users: SimUser[] = (seed.users ?? defaultSeed().users ?? []).map((u) => {
    if (!/^[^@\s]+@[^@\s!]+$/.test(u.userid))
      throw new StrataError(`${where}: user id ${JSON.stringify(u.userid)} must be user@realm`);
    return {
      userid: u.userid,
      password: u.password ?? randomUUID(),
      privileges: expandPrivileges(u.privileges, `${where} (${u.userid})`),
      tokens: (u.tokens ?? []).map((t) => ({
        id: t.id,
        secret: t.secret ?? randomUUID(),
        privsep: t.privsep ?? true,
        comment: t.comment,
        privileges: expandPrivileges(t.privileges, `${where} (${u.userid}!${t.id})`),
      })),
    };
  });
  return {
    version: seed.version ?? { version: '8.4.1', release: '8.4', repoid: '2a5fa54a8503f96d' },
    nodes,
    storages,
    vms,
    users,
    pools: [...(seed.pools ?? [])],
    tasks: [],
    requests: [],
  };
}

/** Reads a YAML seed file (same shape as SimSeed). */
export async function loadSeedFile(path: string): Promise<SimSeed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new StrataError(`Cannot read simulator seed file ${path}: ${(error as Error).message}`, {
      hint: 'Pass an existing YAML file to --seed-file; see docs/proxmox-simulator.md for its shape.',
    });
  }
  let seed: unknown;
  try {
    seed = yaml().parse(text);
  } catch (error) {
    const pos = (error as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    throw new StrataError(`Invalid YAML in simulator seed: ${(error as Error).message.split('\n')[0]}`, {
      location: { file: path, line: pos?.line, col: pos?.col },
    });
  }
  if (seed === null || typeof seed !== 'object' || Array.isArray(seed)) {
    throw new StrataError('A simulator seed must be a mapping with nodes, storages, vms and users', {
      location: { file: path },
    });
  }
  const known = new Set(['version', 'nodes', 'storages', 'vms', 'users', 'pools']);
  for (const key of Object.keys(seed)) {
    if (!known.has(key)) {
      throw new StrataError(`Unknown key ${JSON.stringify(key)} in simulator seed`, {
        location: { file: path },
        hint: `Known keys: ${[...known].join(', ')}`,
      });
    }
  }
  // Validate now, so a broken seed fails with the file name before any listener starts.
  stateFromSeed(seed as SimSeed, path);
  return seed as SimSeed;
}
