/**
 * Storages as PVE sees them: each is defined cluster-wide, enabled on all nodes or a list of them, and either shared
 * (one set of volumes every node reaches: NFS, Ceph, iSCSI…) or local (each node has its own volumes: dir, LVM,
 * ZFS). Volumes are named as PVE names them and owned by the VM whose id they carry.
 */
import { SimHttpError } from './errors.ts';
import type { SimState, SimStorage, SimVolume } from './state.ts';

/** Storage types whose disks are files (qcow2 by default, in a per-VM folder). */
const FILE_TYPES = new Set(['dir', 'nfs', 'cifs', 'glusterfs', 'cephfs']);

export function storageConfig(state: SimState, id: string): SimStorage {
  const storage = state.storages.find((s) => s.storage === id);
  if (!storage) throw new SimHttpError(500, `storage '${id}' does not exist`);
  return storage;
}

export function enabledOn(storage: SimStorage, node: string): boolean {
  return storage.nodes === undefined || storage.nodes.includes(node);
}

/** PVE's storage_check_enabled: the storage exists and is enabled on the node. */
export function storageOn(state: SimState, id: string, node: string): SimStorage {
  const storage = storageConfig(state, id);
  if (!enabledOn(storage, node)) throw new SimHttpError(500, `storage '${id}' is not available on node '${node}'`);
  return storage;
}

/** Volumes a node sees on a storage: all of a shared one, its own of a local one. */
export function volumesOn(storage: SimStorage, node: string): SimVolume[] {
  return storage.items.filter((v) => storage.shared || v.node === undefined || v.node === node);
}

export function parseVolid(volid: string): { storage: string; volname: string } | undefined {
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i.exec(volid);
  return m ? { storage: m[1], volname: m[2] } : undefined;
}

/** The VM a volume belongs to: the id in its last path element (base-9000-disk-0/vm-101-disk-0 belongs to 101). */
export function volumeOwner(volid: string): number | undefined {
  const last = (parseVolid(volid)?.volname ?? '').split('/').pop() ?? '';
  const m = /^(?:vm|base)-(\d+)-/.exec(last);
  return m ? Number(m[1]) : undefined;
}

export function findVolume(state: SimState, volid: string, node: string): SimVolume | undefined {
  const parsed = parseVolid(volid);
  if (!parsed) return undefined;
  const storage = state.storages.find((s) => s.storage === parsed.storage);
  return storage ? volumesOn(storage, node).find((v) => v.volid === volid) : undefined;
}

function defaultFormat(storage: SimStorage): string {
  return FILE_TYPES.has(storage.type) ? 'qcow2' : 'raw';
}

/** A new volume's name on a storage for a VM: the next free disk number, as PVE picks it. */
export function newVolumeName(storage: SimStorage, node: string, vmid: number, kind: 'disk' | 'cloudinit'): string {
  const file = FILE_TYPES.has(storage.type);
  if (kind === 'cloudinit')
    return `${storage.storage}:${file ? `${vmid}/` : ''}vm-${vmid}-cloudinit${file ? '.qcow2' : ''}`;
  // Names are unique per storage by their last element: a linked clone's base-9000-disk-0/vm-101-disk-0 takes disk-0.
  const taken = new Set(volumesOn(storage, node).map((v) => v.volid.split(/[:/]/).pop()));
  for (let n = 0; ; n++) {
    const name = `vm-${vmid}-disk-${n}${file ? '.qcow2' : ''}`;
    if (!taken.has(name)) return `${storage.storage}:${file ? `${vmid}/` : ''}${name}`;
  }
}

/** Allocates a volume (a disk of `size` bytes, or a cloud-init drive) for a VM on a node. */
export function allocate(
  state: SimState,
  storageId: string,
  node: string,
  vmid: number,
  size: number,
  kind: 'disk' | 'cloudinit' = 'disk',
  volid?: string,
): SimVolume {
  const storage = storageOn(state, storageId, node);
  if (!storage.content.includes('images')) {
    throw new SimHttpError(500, `storage '${storageId}' does not support content-type 'images'`);
  }
  const volume: SimVolume = {
    volid: volid ?? newVolumeName(storage, node, vmid, kind),
    content: 'images',
    format: kind === 'cloudinit' ? defaultFormat(storage) : defaultFormat(storage),
    size,
    ...(storage.shared ? {} : { node }),
  };
  storage.items.push(volume);
  return volume;
}

/** Frees a volume a node sees; a volume that is already gone is fine. */
export function free(state: SimState, volid: string, node: string): boolean {
  const parsed = parseVolid(volid);
  const storage = parsed && state.storages.find((s) => s.storage === parsed.storage);
  if (!storage) return false;
  const before = storage.items.length;
  storage.items = storage.items.filter((v) => !(v.volid === volid && (storage.shared || !v.node || v.node === node)));
  return storage.items.length < before;
}

/** Moves a local volume to another node (offline migration); shared volumes stay where they are. */
export function moveVolume(state: SimState, volid: string, from: string, to: string): void {
  const volume = findVolume(state, volid, from);
  const storage = state.storages.find((s) => s.storage === parseVolid(volid)?.storage);
  if (volume && storage && !storage.shared) volume.node = to;
}
