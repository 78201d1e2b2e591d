/**
 * Asynchronous worker tasks as PVE runs them: a request returns a UPID at once; the task ends later (scaled by
 * latencyScale), appends its log and exit status, and may fail (by itself or through an injected fault).
 */
import { formatUpid, parseUpid } from '../client.ts';
import type { FaultBook } from './faults.ts';
import { type Caller, invalidParams, SimHttpError } from './http.ts';
import type { SimNode, SimState, SimTask } from './state.ts';
import type { Timers } from './timers.ts';

/** How long each task type runs, before scaling. */
export const TASK_MS = {
  qmclone: 3000,
  qmstart: 1500,
  qmstop: 800,
  qmshutdown: 2000,
  qmreboot: 3000,
  qmconfig: 300,
  resize: 500,
  qmdestroy: 1500,
};
export type TaskType = keyof typeof TASK_MS;

const UNPOLLED_TASK_MS = 1000;

/** A task body that ends the task with a non-OK exit status. */
export class TaskFailure extends Error {}

export interface TaskHooks {
  /** Runs when the task ends; returns its log lines; may throw TaskFailure. */
  done: () => string[];
  /** Undoes what the request already did (locks, placeholders) when the task fails. */
  failed?: () => void;
  firstLines?: string[];
  /** The VM the task is about, for task-failure faults. */
  vmid?: number;
  durationMs?: number;
}

export class TaskRunner {
  readonly #hooks = new Map<string, { done: () => string[]; failed: () => void; vmid?: number }>();
  readonly #state: SimState;
  readonly #faults: FaultBook;
  readonly #timers: Timers;
  readonly #latencyScale: number;
  #pid = 0x1000 + Math.floor(Math.random() * 0xfff);

  constructor(state: SimState, faults: FaultBook, timers: Timers, latencyScale: number) {
    this.#state = state;
    this.#faults = faults;
    this.#timers = timers;
    this.#latencyScale = latencyScale;
  }

  /** Starts a worker task and returns its UPID at once. */
  start(node: SimNode, caller: Caller, type: TaskType, id: string, hooks: TaskHooks): string {
    this.#pid = (this.#pid + 1 + Math.floor(Math.random() * 16)) % 0x3fffff;
    const starttime = Math.floor(Date.now() / 1000);
    const upid = formatUpid({
      node: node.node,
      pid: this.#pid,
      pstart: node.pstart,
      starttime,
      type,
      id,
      user: caller.name,
    });
    const task: SimTask = {
      upid,
      node: node.node,
      type,
      id,
      user: caller.name,
      status: 'running',
      starttime,
      log: [...(hooks.firstLines ?? [])],
      polls: 0,
    };
    this.#state.tasks.push(task);
    if (this.#state.tasks.length > 10_000) this.#state.tasks.shift();
    this.#hooks.set(upid, { done: hooks.done, failed: hooks.failed ?? (() => {}), vmid: hooks.vmid });
    const duration = (hooks.durationMs ?? TASK_MS[type]) * this.#latencyScale;
    // At latencyScale 0 polling ends a task (see poll()); a task nobody polls (its polls fail, or the client went
    // away) still ends on its own, as on PVE, after UNPOLLED_TASK_MS.
    this.#timers.schedule(duration > 0 ? duration : UNPOLLED_TASK_MS, () => this.finish(task));
    return upid;
  }

  finish(task: SimTask): void {
    if (task.status !== 'running') return;
    const hooks = this.#hooks.get(task.upid);
    this.#hooks.delete(task.upid);
    task.status = 'stopped';
    task.endtime = Math.floor(Date.now() / 1000);
    try {
      const forced = this.#faults.takeTaskFailure(task, hooks?.vmid);
      if (forced !== undefined) throw new TaskFailure(forced);
      task.log.push(...(hooks?.done() ?? []), 'TASK OK');
      task.exitstatus = 'OK';
    } catch (error) {
      if (!(error instanceof TaskFailure)) throw error;
      hooks?.failed();
      task.log.push(`TASK ERROR: ${error.message}`);
      task.exitstatus = error.message;
    }
  }

  /** Counts a status poll. latencyScale 0: instant, yet still asynchronous; the first poll sees 'running'. */
  poll(task: SimTask): void {
    if (task.status !== 'running' || this.#latencyScale !== 0) return;
    if (task.polls > 0) this.finish(task);
    task.polls++;
  }

  /** The task a UPID names on a node, or PVE's errors for a malformed or unknown one. */
  find(node: string, upidText: string): SimTask {
    try {
      parseUpid(upidText);
    } catch {
      throw invalidParams({ upid: `unable to parse worker upid '${upidText}'` });
    }
    const task = this.#state.tasks.find((t) => t.upid === upidText && t.node === node);
    if (!task)
      throw new SimHttpError(500, `unable to open file '/var/log/pve/tasks/active' - no such task '${upidText}'`);
    return task;
  }
}
