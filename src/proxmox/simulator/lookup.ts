/** Finding nodes and VMs a request names, with the errors PVE gives for missing ones; config locks and flocks. */
import { SimHttpError } from './errors.ts';
import type { SimNode, SimState, SimVm } from './state.ts';
import { TaskFailure } from './tasks.ts';

export function findNode(state: SimState, name: string): SimNode {
  const node = state.nodes.find((n) => n.node === name);
  if (!node) {
    throw new SimHttpError(
      500,
      `hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`,
    );
  }
  return node;
}

function missingText(node: string, vmid: number): string {
  return `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`;
}

/** PVE's load_config on a node: the VM's config file there, or 500 "Configuration file … does not exist". */
export function findVm(state: SimState, node: string, vmid: string | number): SimVm {
  const vm = state.vms.find((v) => v.vmid === Number(vmid) && v.node === node);
  if (!vm) throw new SimHttpError(500, missingText(node, Number(vmid)));
  return vm;
}

/** load_config inside a task: the same check, failing the task instead of the request. */
export function vmInTask(state: SimState, node: string, vmid: string | number): SimVm {
  const vm = state.vms.find((v) => v.vmid === Number(vmid) && v.node === node);
  if (!vm) throw new TaskFailure(missingText(node, Number(vmid)));
  return vm;
}

export function lockText(vm: SimVm): string {
  return `VM ${vm.vmid} is locked (${vm.lock})`;
}

/** check_lock before the UPID: 500 while the config carries a lock. */
export function checkLock(vm: SimVm): void {
  if (vm.lock) throw new SimHttpError(500, lockText(vm));
}

/** check_lock inside a task: the task fails with the same text. */
export function checkLockInTask(vm: SimVm): void {
  if (vm.lock) throw new TaskFailure(lockText(vm));
}

/**
 * PVE's lock_config_shared / lock_config_full: a flock on /var/lock/qemu-server/lock-<vmid>.conf, held for a task's
 * duration. Returns the release function, or throws PVE's timeout error when another task holds it incompatibly.
 */
export type Flocks = Map<number, { exclusive: boolean; holders: number }>;

export function takeFlock(flocks: Flocks, vmid: number, exclusive: boolean): () => void {
  const held = flocks.get(vmid);
  if (held && (held.exclusive || exclusive)) {
    throw new TaskFailure(`can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`);
  }
  if (held) held.holders++;
  else flocks.set(vmid, { exclusive, holders: 1 });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const entry = flocks.get(vmid);
    if (!entry) return;
    entry.holders--;
    if (entry.holders <= 0) flocks.delete(vmid);
  };
}
