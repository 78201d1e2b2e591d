/** Injected faults: failing or hanging requests, failing tasks, a lost guest agent; each used up after `times`. */
import { invalidParams } from './http.ts';
import type { SimState, SimTask } from './state.ts';

export type SimFault =
  /** Answer matching requests with an HTTP error (default 500) `times` times (default 1). */
  | { kind: 'http-error'; method?: string; path: string; status?: number; message?: string; times?: number }
  /** Never answer matching requests (the client's timeout fires) `times` times (default 1). */
  | { kind: 'hang'; method?: string; path: string; times?: number }
  /** Make matching tasks end with `exitstatus` (default "command failed") `times` times (default 1). */
  | { kind: 'task-failure'; taskType?: string; vmid?: number; exitstatus?: string; times?: number }
  /** The guest agent of a VM stops answering until faults are cleared or the VM is started again. */
  | { kind: 'agent-lost'; vmid: number };

interface ActiveFault {
  id: number;
  fault: SimFault;
  remaining: number;
}

const KINDS = ['http-error', 'hang', 'task-failure', 'agent-lost'];

export class FaultBook {
  readonly #state: SimState;
  readonly #active: ActiveFault[] = [];
  #ids = 0;

  constructor(state: SimState) {
    this.#state = state;
  }

  /** Checks and arms a fault; returns its id. */
  inject(fault: SimFault): number {
    if (!fault || !KINDS.includes(fault.kind)) {
      throw invalidParams({ kind: `value must be one of ${KINDS.join(', ')}` });
    }
    if ((fault.kind === 'http-error' || fault.kind === 'hang') && typeof fault.path !== 'string') {
      throw invalidParams({ path: 'a regular expression is required' });
    }
    if ('path' in fault) {
      try {
        new RegExp(fault.path);
      } catch (error) {
        throw invalidParams({ path: (error as Error).message });
      }
    }
    if (fault.kind === 'agent-lost') {
      const vm = this.#state.vms.find((v) => v.vmid === fault.vmid);
      if (!vm) throw invalidParams({ vmid: `no VM ${fault.vmid}` });
      vm.agentLost = true;
    }
    const times = 'times' in fault && fault.times !== undefined ? fault.times : 1;
    if (!Number.isInteger(times) || times < 1) {
      throw invalidParams({ times: 'value must be an integer >= 1' });
    }
    const id = ++this.#ids;
    this.#active.push({ id, fault, remaining: fault.kind === 'agent-lost' ? Number.POSITIVE_INFINITY : times });
    return id;
  }

  clear(): void {
    this.#active.length = 0;
    for (const vm of this.#state.vms) vm.agentLost = undefined;
  }

  /** The armed faults as the state snapshot lists them. */
  list(): Array<SimFault & { id: number; remaining: number }> {
    return this.#active.map((f) => ({ id: f.id, ...f.fault, remaining: f.remaining }));
  }

  /** The first request fault (http-error or hang) matching this request, used up by one. */
  takeRequestFault(method: string, path: string): SimFault | undefined {
    for (const active of this.#active) {
      const f = active.fault;
      if (f.kind !== 'http-error' && f.kind !== 'hang') continue;
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (!new RegExp(f.path).test(path)) continue;
      this.#consume(active);
      return f;
    }
    return undefined;
  }

  /** The exit status an armed task-failure fault forces on this ending task (used up by one), if any. */
  takeTaskFailure(task: SimTask, vmid: number | undefined): string | undefined {
    const injected = this.#active.find(
      (f) =>
        f.fault.kind === 'task-failure' &&
        (f.fault.taskType === undefined || f.fault.taskType === task.type) &&
        (f.fault.vmid === undefined || f.fault.vmid === vmid || String(f.fault.vmid) === task.id),
    );
    if (injected?.fault.kind !== 'task-failure') return undefined;
    this.#consume(injected);
    return injected.fault.exitstatus ?? 'command failed';
  }

  /** Uses up one occurrence of a fault; spent faults leave the list. */
  #consume(active: ActiveFault): void {
    active.remaining--;
    if (active.remaining <= 0) this.#active.splice(this.#active.indexOf(active), 1);
  }
}
