/** Finding nodes and VMs a request names, with the errors PVE gives for missing ones, and VM locks. */
import { invalidParams, SimHttpError } from './http.ts';
import type { SimNode, SimState, SimVm } from './state.ts';

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

export function findVm(state: SimState, node: string, vmidText: string): SimVm {
  findNode(state, node);
  const vmid = Number(vmidText);
  if (!/^\d+$/.test(vmidText) || vmid < 100) {
    throw invalidParams({ vmid: `value must have a minimum value of 100` });
  }
  const vm = state.vms.find((v) => v.vmid === vmid && v.node === node);
  if (!vm) throw new SimHttpError(500, `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
  return vm;
}

export function checkLock(vm: SimVm): void {
  if (vm.lock) throw new SimHttpError(500, `VM ${vm.vmid} is locked (${vm.lock})`);
}
