/**
 * The QEMU guest agent of a VM, once the VM has booted with the agent enabled: one endpoint per command (GET for
 * the reading ones, POST for the others) and the generic POST …/agent with `command`.
 */
import type { SimContext } from '../context.ts';
import { SimHttpError } from '../errors.ts';
import { agentProblem } from '../guests.ts';
import type { Ctx, Router } from '../http.ts';
import { findVm } from '../lookup.ts';
import { vmPerm } from '../permissions.ts';
import { VM_PATH } from '../schema.ts';
import type { SimVm } from '../state.ts';

const READ_COMMANDS = [
  'get-fsinfo',
  'get-host-name',
  'get-memory-block-info',
  'get-memory-blocks',
  'get-osinfo',
  'get-time',
  'get-timezone',
  'get-users',
  'get-vcpus',
  'info',
  'network-get-interfaces',
];
const ACTION_COMMANDS = [
  'fsfreeze-freeze',
  'fsfreeze-status',
  'fsfreeze-thaw',
  'fstrim',
  'ping',
  'shutdown',
  'suspend-disk',
  'suspend-hybrid',
  'suspend-ram',
];

export function registerAgentRoutes(router: Router, sim: SimContext): void {
  const check = vmPerm('VM.Monitor', 'VM.GuestAgent.Audit');
  /** The VM whose agent answers, or PVE's error when it does not. */
  const answering = ({ params }: Ctx): SimVm => {
    const vm = findVm(sim.state, params.node, params.vmid);
    const problem = agentProblem(vm);
    if (problem) throw new SimHttpError(500, problem);
    return vm;
  };
  for (const command of READ_COMMANDS) {
    router.add('GET', `/nodes/{node}/qemu/{vmid}/agent/${command}`, {
      schema: VM_PATH,
      check,
      handler: (ctx) => ({ result: result(command, answering(ctx)) }),
    });
  }
  for (const command of ACTION_COMMANDS) {
    router.add('POST', `/nodes/{node}/qemu/{vmid}/agent/${command}`, {
      schema: VM_PATH,
      check,
      handler: (ctx) => ({ result: result(command, answering(ctx)) }),
    });
  }
  // file-write: what a client hands a guest (a token, a config file) lands in the VM's guestFiles, for tests to read.
  router.add('POST', '/nodes/{node}/qemu/{vmid}/agent/file-write', {
    schema: {
      ...VM_PATH,
      file: { type: 'string' },
      content: { type: 'string', maxLength: 61440 },
      encode: { type: 'boolean', optional: true },
    },
    check: vmPerm('VM.Monitor'),
    handler: (ctx) => {
      const vm = answering(ctx);
      const content = String(ctx.params.content);
      // encode=0: the client sent base64 itself; by default PVE encodes the plain content for the agent.
      const encoded = ['false', '0'].includes(String(ctx.params.encode));
      vm.guestFiles = {
        ...vm.guestFiles,
        [String(ctx.params.file)]: encoded ? Buffer.from(content, 'base64').toString('utf8') : content,
      };
      return null;
    },
  });
  router.add('POST', '/nodes/{node}/qemu/{vmid}/agent', {
    schema: { ...VM_PATH, command: { type: 'string', enum: [...ACTION_COMMANDS, ...READ_COMMANDS].sort() } },
    check,
    handler: (ctx) => ({ result: result(ctx.params.command, answering(ctx)) }),
  });
}

function result(command: string, vm: SimVm): unknown {
  if (command === 'network-get-interfaces') return interfaces(vm);
  if (command === 'get-host-name') return { 'host-name': vm.name || `vm${vm.vmid}` };
  if (command === 'get-osinfo') {
    return {
      id: 'debian',
      name: 'Debian GNU/Linux',
      'pretty-name': 'Debian GNU/Linux 12 (bookworm)',
      version: '12 (bookworm)',
      'version-id': '12',
      'kernel-release': '6.1.0-28-amd64',
      'kernel-version': '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)',
      machine: 'x86_64',
    };
  }
  if (command === 'info') return { version: '7.2.0', supported_commands: [] };
  if (command === 'get-time') return Date.now() * 1_000_000;
  return {};
}

function interfaces(vm: SimVm): unknown[] {
  const [ip, prefix] = (vm.ip ?? '').split('/');
  const mac = /=([0-9A-F:]{17})/i.exec(String(vm.config.net0 ?? ''))?.[1]?.toLowerCase() ?? 'bc:24:11:00:00:00';
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
