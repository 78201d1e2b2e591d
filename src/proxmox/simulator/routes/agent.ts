/** The QEMU guest agent of a VM: ping and network interfaces, once the VM has booted with the agent enabled. */
import type { SimContext } from '../context.ts';
import { agentProblem } from '../guests.ts';
import { type Ctx, type Router, SimHttpError } from '../http.ts';
import { findVm } from '../lookup.ts';
import { need } from '../permissions.ts';
import type { SimVm } from '../state.ts';

export function registerAgentRoutes(router: Router, sim: SimContext): void {
  /** The VM whose agent the request talks to, or PVE's error when the agent does not answer. */
  const answering = ({ caller, path }: Ctx): SimVm => {
    const vm = findVm(sim.state, path.node, path.vmid);
    need(caller, `/vms/${vm.vmid}`, 'VM.Monitor', 'VM.GuestAgent.Audit');
    const problem = agentProblem(vm);
    if (problem) throw new SimHttpError(500, problem);
    return vm;
  };
  router.add('POST', '/nodes/{node}/qemu/{vmid}/agent/ping', (ctx) => {
    answering(ctx);
    return { result: {} };
  });
  router.add('GET', '/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', (ctx) => ({
    result: interfaces(answering(ctx)),
  }));
}

function interfaces(vm: SimVm): unknown[] {
  const [ip, prefix] = (vm.ip ?? '').split('/');
  const mac = /=([0-9A-F:]{17})/i.exec(String(vm.config.net0 ?? ''))?.[1]?.toLowerCase() ?? vm.mac.toLowerCase();
  const suffix = mac.split(':').slice(3).join('');
  return [
    {
      name: 'lo',
      'hardware-address': '00:00:00:00:00:00',
      'ip-addresses': [
        { 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 },
        { 'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128 },
      ],
      statistics: { 'rx-bytes': 0, 'tx-bytes': 0, 'rx-packets': 0, 'tx-packets': 0 },
    },
    {
      name: 'eth0',
      'hardware-address': mac,
      'ip-addresses': [
        ...(ip ? [{ 'ip-address': ip, 'ip-address-type': 'ipv4', prefix: Number(prefix) }] : []),
        {
          'ip-address': `fe80::be24:11ff:fe${suffix.slice(0, 2)}:${suffix.slice(2)}`,
          'ip-address-type': 'ipv6',
          prefix: 64,
        },
      ],
      statistics: { 'rx-bytes': 4096, 'tx-bytes': 2048, 'rx-packets': 40, 'tx-packets': 20 },
    },
  ];
}
