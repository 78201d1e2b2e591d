/**
 * Asynchronous worker tasks as PVE runs them: a request returns a UPID at once; the task ends later (scaled by
 * latencyScale), appends its log and exit status, and may fail (by itself or through an injected fault).
 */
import { formatUpid, parseUpid } from '../client.ts';
import { invalidParams, SimHttpError } from './errors.ts';
import type { FaultBook } from './faults.ts';
import type { Caller } from './http.ts';
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
  qmtemplate: 800,
  qmigrate: 4000,
  qmsnapshot: 800,
  qmdelsnapshot: 800,
  qmrollback: 1000,
  qmcreate: 1000,
};
export type TaskType = keyof typeof TASK_MS;

/** How long a task of no duration (polling ends it, see TaskRunner.poll) runs if nobody polls it, by default. */
export const UNPOLLED_TASK_MS = 1000;

/** How long tasks run: the simulator's options that concern them. */
export interface TaskTiming {
  latencyScale: number;
  taskMs: Record<TaskType, number>;
  unpolledTaskMs: number;
}

/** A task body that ends the task with a non-OK exit status. */
export class TaskFailure extends Error {}

export interface TaskHooks {
  /** Runs as the worker starts (takes its locks); a TaskFailure here ends the task with that error. */
  begin?: () => void;
  /** Runs when the task ends; returns its log lines; may throw TaskFailure. */
  done: () => string[];
  /** Runs after done or failed, whatever the outcome (releases locks). */
  cleanup?: () => void;
  /** Undoes what the request already did (locks, placeholders) when the task fails. */
  failed?: () => void;
  firstLines?: string[];
  /** The VM the task is about, for task-failure faults. */
  vmid?: number;
  /** Multiplies the task type's duration (a full clone copies every disk: twice a linked clone's time). */
  durationFactor?: number;
}

export class TaskRunner {
  readonly #hooks = new Map<string, { done: () => string[]; failed: () => void; cleanup: () => void; vmid?: number }>();
  /** Tasks whose begin() failed: they end with this error. */
  readonly #early = new Map<string, string>();
  readonly #state: SimState;
  readonly #faults: FaultBook;
  readonly #timers: Timers;
  readonly #timing: TaskTiming;
  /** Running tasks of zero duration: their second status poll ends them. */
  readonly #pollDriven = new Set<string>();
  #pid = 0x1000 + Math.floor(Math.random() * 0xfff);

  constructor(state: SimState, faults: FaultBook, timers: Timers, timing: TaskTiming) {
    this.#state = state;
    this.#faults = faults;
    this.#timers = timers;
    this.#timing = timing;
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
    this.#hooks.set(upid, {
      done: hooks.done,
      failed: hooks.failed ?? (() => {}),
      cleanup: hooks.cleanup ?? (() => {}),
      vmid: hooks.vmid,
    });
    try {
      hooks.begin?.();
    } catch (error) {
      if (!(error instanceof TaskFailure)) throw error;
      this.#early.set(upid, error.message);
    }
    const duration = this.#timing.taskMs[type] * (hooks.durationFactor ?? 1) * this.#timing.latencyScale;
    // A task of no duration (latencyScale 0, or its type's taskMs 0) is ended by polling (see poll()); one nobody
    // polls (its polls fail, or the client went away) still ends on its own, as on PVE, after unpolledTaskMs.
    if (duration <= 0) this.#pollDriven.add(upid);
    this.#timers.schedule(duration > 0 ? duration : this.#timing.unpolledTaskMs, () => this.finish(task));
    return upid;
  }

  finish(task: SimTask): void {
    if (task.status !== 'running') return;
    const hooks = this.#hooks.get(task.upid);
    this.#hooks.delete(task.upid);
    this.#pollDriven.delete(task.upid);
    task.status = 'stopped';
    task.endtime = Math.floor(Date.now() / 1000);
    const early = this.#early.get(task.upid);
    this.#early.delete(task.upid);
    try {
      if (early !== undefined) throw new TaskFailure(early);
      const forced = this.#faults.takeTaskFailure(task, hooks?.vmid);
      if (forced !== undefined) throw new TaskFailure(forced);
      task.log.push(...(hooks?.done() ?? []), 'TASK OK');
      task.exitstatus = 'OK';
    } catch (error) {
      // Whatever dies inside a worker fails its task (PVE checks shared with the request raise SimHttpErrors).
      if (!(error instanceof TaskFailure || error instanceof SimHttpError)) throw error;
      const text = error instanceof SimHttpError ? error.pveMessage : error.message;
      if (early === undefined) hooks?.failed();
      task.log.push(`TASK ERROR: ${text}`);
      task.exitstatus = text;
    } finally {
      hooks?.cleanup();
    }
  }

  /** Counts a status poll. A task of no duration is instant, yet still asynchronous: the first poll sees 'running'. */
  poll(task: SimTask): void {
    if (task.status !== 'running' || !this.#pollDriven.has(task.upid)) return;
    if (task.polls > 0) this.finish(task);
    task.polls++;
  }

  /** The task a UPID names on a node, or PVE's 400 for a malformed or unknown one. */
  find(node: string, upidText: string): SimTask {
    try {
      parseUpid(upidText);
    } catch {
      throw invalidParams({ upid: 'unable to parse worker upid' });
    }
    const task = this.#state.tasks.find((t) => t.upid === upidText && t.node === node);
    if (!task) throw invalidParams({ upid: 'no such task' });
    return task;
  }
}
