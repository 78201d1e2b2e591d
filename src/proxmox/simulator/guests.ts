/**
 * What happens inside a simulated VM: power on and off, the address the simulated DHCP (or cloud-init's static
 * ipconfig0) gives it, and when its guest agent answers.
 */
import type { NestedHosts, NestedSimulator } from './nested.ts';
import type { ResolvedOptions } from './options.ts';
import type { SimVm } from './state.ts';
import type { Timers } from './timers.ts';
import { intToIp, ipToInt } from './units.ts';

export function agentEnabled(config: Record<string, string | number>): boolean {
  const value = String(config.agent ?? '0');
  return /^(enabled=)?1(,|$)/.test(value) || /(^|,)enabled=1(,|$)/.test(value);
}

/** Why the guest agent does not answer now, or undefined when it does. */
export function agentProblem(vm: SimVm, now = Date.now()): string | undefined {
  if (vm.config.agent === undefined) return 'No QEMU guest agent configured';
  if (vm.status !== 'running') return `VM ${vm.vmid} is not running`;
  if (!agentEnabled(vm.config)) return 'QEMU guest agent is not enabled';
  if (vm.agentLost || vm.bootedAt === undefined || now < vm.bootedAt) return 'QEMU guest agent is not running';
  return undefined;
}

export class Guests {
  readonly #options: ResolvedOptions;
  readonly #timers: Timers;
  readonly #nested: NestedHosts<NestedSimulator>;
  #nextHost = 10;

  constructor(options: ResolvedOptions, timers: Timers, nested: NestedHosts<NestedSimulator>) {
    this.#options = options;
    this.#timers = timers;
    this.#nested = nested;
  }

  boot(vm: SimVm): void {
    const now = Date.now();
    vm.status = 'running';
    vm.startedAt = now;
    vm.agentLost = undefined;
    this.#allocateIp(vm);
    const delay = this.#options.bootDelayMs * this.#options.latencyScale;
    vm.bootedAt = now + delay;
    if (delay > 0) this.#timers.schedule(delay, () => this.#nested.onBooted(vm));
    else this.#nested.onBooted(vm);
  }

  powerOff(vm: SimVm): void {
    vm.status = 'stopped';
    vm.startedAt = undefined;
    vm.bootedAt = undefined;
    void this.#nested.stop(vm, false);
  }

  /** The VM is gone: so is its nested host, if it was one. */
  removed(vm: SimVm): void {
    void this.#nested.stop(vm, true);
  }

  #allocateIp(vm: SimVm): void {
    const staticIp = /(?:^|,)ip=(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(String(vm.config.ipconfig0 ?? ''));
    if (staticIp) {
      vm.ip = `${staticIp[1]}/${staticIp[2]}`;
      return;
    }
    if (vm.ip) return;
    const [base, prefix] = this.#options.subnet.split('/');
    const size = 2 ** (32 - Number(prefix));
    const host = this.#nextHost++ % (size - 2 || 1);
    vm.ip = `${intToIp(ipToInt(base) + Math.max(1, host))}/${prefix}`;
  }
}
