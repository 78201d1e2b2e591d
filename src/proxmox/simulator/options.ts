/** How a simulator is started, and the same options with their defaults filled in and checked. */
import { StrataError } from '../../errors.ts';
import type { SimSeed, SimVm } from './state.ts';
import { TASK_MS, type TaskType, UNPOLLED_TASK_MS } from './tasks.ts';

export interface SimulatorOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Multiplies every task duration and the boot delay; 0 = instant, but a task still reports running once. */
  latencyScale?: number;
  /** Time from a finished start task until the guest agent answers, before scaling; default 8000 ms. */
  bootDelayMs?: number;
  seed?: SimSeed;
  /** Serve HTTPS with a fresh CA + node certificate (default) or plain HTTP (`false`). */
  tls?: boolean;
  /** Subnet the simulated DHCP hands addresses from; default 10.77.0.0/24. */
  subnet?: string;
  /** VMs carrying this tag become nested PVE hosts once booted; default `pve`. */
  nestedTag?: string;
  /** Seed for nested hosts; default: the default lab (template 9000 included) with the VM's name as node name. */
  nestedSeed?: (vm: SimVm) => SimSeed;
  /**
   * How far /cluster/resources lags behind a VM's state (PVE: pvestatd publishes every 10 s), before scaling;
   * default 10000. A new VM shows status `unknown` and no name until its first publication.
   */
  statusLagMs?: number;
  /** Delay of answers to unauthenticated requests, before scaling; default 3000 (pveproxy delays 401s by 3 s). */
  authFailureDelayMs?: number;
  /**
   * Task durations by task type, before scaling, in place of the defaults (e.g. a slow clone, as on busy storage).
   * 0: the task ends at its second status poll, as every task does at latencyScale 0.
   */
  taskMs?: Partial<Record<TaskType, number>>;
  /** How long a task of no duration (polling ends it, see taskMs) runs if nobody polls it, unscaled; default 1000. */
  unpolledTaskMs?: number;
}

export type ResolvedOptions = Required<Omit<SimulatorOptions, 'seed' | 'nestedSeed' | 'port' | 'taskMs'>> &
  Pick<SimulatorOptions, 'nestedSeed'> & { taskMs: Record<TaskType, number> };

export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    latencyScale: options.latencyScale ?? 1,
    bootDelayMs: options.bootDelayMs ?? 8000,
    tls: options.tls ?? true,
    subnet: options.subnet ?? '10.77.0.0/24',
    nestedTag: options.nestedTag ?? 'pve',
    nestedSeed: options.nestedSeed,
    statusLagMs: options.statusLagMs ?? 10_000,
    authFailureDelayMs: options.authFailureDelayMs ?? 3000,
    taskMs: { ...TASK_MS, ...options.taskMs },
    unpolledTaskMs: options.unpolledTaskMs ?? UNPOLLED_TASK_MS,
  };
  if (!(resolved.latencyScale >= 0)) throw new StrataError('latencyScale must be a number >= 0');
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(resolved.subnet)) {
    throw new StrataError(`Invalid simulator subnet ${JSON.stringify(resolved.subnet)}`, {
      hint: 'Use CIDR, e.g. 10.77.0.0/24',
    });
  }
  return resolved;
}
