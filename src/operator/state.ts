/**
 * Execution state per manifest+stack: one JSON file rewritten atomically (temp file, fsync, rename, fsync of the
 * folder) after every node transition, so a run killed at any instant leaves either the old or the new file, never a
 * torn one. A lock file created with O_EXCL keeps two runs off the same manifest+stack. What is read back is checked
 * against its shape: a file edited by hand is a clear error, or, for destroy, trusted only where it fits.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../errors.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { acquireFileLock, type ReleaseLock } from '../util/lock.ts';
import { integer, number, object, oneOf, optional, problemWith, record, type Shape, string } from '../util/shape.ts';

export const NODE_STATUSES = ['pending', 'running', 'completed', 'failed', 'skipped', 'destroyed'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface NodeState {
  name: string;
  status: NodeStatus;
  vm_id?: number;
  /** Proxmox node (host name inside the cluster) that holds the VM. */
  pve_node?: string;
  /** API URL the VM was created through (the outer host, or a nested PVE host). */
  endpoint?: string;
  ip?: string;
  /** Last step reached: lookup, clone, configure, resize, start, wait_ip, delegate, done. */
  phase?: string;
  /** UPID of the Proxmox task in flight, so a resumed run waits for it instead of guessing from the lock. */
  task?: string;
  started_at?: number;
  completed_at?: number;
  error?: string;
}

/** How strata reaches the API of a nested PVE host created by this manifest. */
export interface DelegationState {
  url: string;
  token_id: string;
  token_secret: string;
  fingerprint?: string;
  pve_node: string;
}

export interface ExecutionState {
  version: 1;
  manifest: string;
  stack: string;
  endpoint?: string;
  started_at: number;
  updated_at: number;
  completed_at?: number;
  nodes: Record<string, NodeState>;
  delegations: Record<string, DelegationState>;
}

/** File-system-safe slug of a manifest or stack name. */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export function statePaths(stateDir: string, manifest: string, stack: string): { state: string; lock: string } {
  const base = join(stateDir, `${slug(manifest)}--${slug(stack || 'default')}`);
  return { state: `${base}.json`, lock: `${base}.lock` };
}

export function newState(manifest: string, stack: string, nodes: string[]): ExecutionState {
  const now = Date.now() / 1000;
  const state: ExecutionState = {
    version: 1,
    manifest,
    stack,
    started_at: now,
    updated_at: now,
    nodes: {},
    delegations: {},
  };
  for (const name of nodes) state.nodes[name] = { name, status: 'pending' };
  return state;
}

const NODE_SHAPE: Shape = object({
  name: string,
  status: oneOf(...NODE_STATUSES),
  vm_id: optional(integer),
  pve_node: optional(string),
  endpoint: optional(string),
  ip: optional(string),
  phase: optional(string),
  task: optional(string),
  started_at: optional(number),
  completed_at: optional(number),
  error: optional(string),
});

const DELEGATION_SHAPE: Shape = object({
  url: string,
  token_id: string,
  token_secret: string,
  fingerprint: optional(string),
  pve_node: string,
});

const STATE_SHAPE: Shape = object({
  version: oneOf(1),
  manifest: string,
  stack: string,
  endpoint: optional(string),
  started_at: number,
  updated_at: number,
  completed_at: optional(number),
  nodes: record(NODE_SHAPE),
  delegations: optional(record(DELEGATION_SHAPE)),
});

/** How destroy reads a damaged state: what fits is kept, the rest is reported and left to the Proxmox API. */
export interface Salvage {
  manifest: string;
  stack: string;
  report(problem: string): void;
}

/**
 * Reads the execution state; undefined when there is none. A file that is not JSON or has the wrong shape is an
 * error naming it, unless `salvage` is given: then every node and delegation that fits is kept (the VMs of the others
 * are found through the API by name and marker) and each one dropped is reported.
 */
export async function readState(path: string, salvage?: Salvage): Promise<ExecutionState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const problem = `Execution state ${path} is not valid JSON: ${(error as Error).message}`;
    if (salvage) return dropAll(salvage, problem);
    throw new StrataError(problem, {
      location: { file: path },
      hint: 'It was not written by strata (strata writes it atomically). Move it away to start from the Proxmox API.',
    });
  }
  const problem = problemWith(STATE_SHAPE, data);
  if (!problem) {
    const state = data as ExecutionState;
    state.delegations ??= {};
    return state;
  }
  if (salvage) return salvaged(data, path, salvage);
  throw new StrataError(`Execution state ${path} has the wrong shape: ${problem}`, {
    location: { file: path },
    hint: `It was edited, or written by another strata version. Move it away (mv ${path} ${path}.bad) to start from the Proxmox API; \`strata manifest destroy\` works without it.`,
  });
}

function dropAll(salvage: Salvage, problem: string): undefined {
  salvage.report(`${problem}; destroying what the Proxmox API shows`);
  return undefined;
}

/** The parts of a wrong-shaped state that can be trusted, on a fresh state for the manifest+stack. */
function salvaged(data: unknown, path: string, salvage: Salvage): ExecutionState | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return dropAll(salvage, `Execution state ${path} is not an object`);
  }
  const file = data as Record<string, unknown>;
  const state = newState(salvage.manifest, salvage.stack, []);
  const keep = <T>(section: string, shape: Shape, into: Record<string, T>) => {
    const entries = file[section];
    if (entries === undefined || entries === null) return;
    if (typeof entries !== 'object' || Array.isArray(entries)) {
      salvage.report(`state ${path}: '${section}' is not an object; ignored`);
      return;
    }
    for (const [name, entry] of Object.entries(entries)) {
      const problem = shape(entry, `${section}.${name}`);
      if (problem) salvage.report(`state ${path}: ${section}.${name} ignored (${problem})`);
      else into[name] = entry as T;
    }
  };
  keep('nodes', NODE_SHAPE, state.nodes);
  keep('delegations', DELEGATION_SHAPE, state.delegations);
  if (typeof file.started_at === 'number') state.started_at = file.started_at;
  return state;
}

/** Writes JSON atomically and durably: a reader sees the old or the new content, even after a crash or SIGKILL. */
export function writeJsonAtomic(path: string, data: unknown, mode = 0o600): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(data, null, 2)}\n`, mode);
}

/**
 * Serialises writes of one state file: node transitions of parallel siblings arrive concurrently. Changes made while
 * a write is running are coalesced into the next one; every caller resolves only once a write that started after
 * its change is on disk.
 */
export class StateStore {
  readonly path: string;
  state: ExecutionState;
  #inFlight: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;

  constructor(path: string, state: ExecutionState) {
    this.path = path;
    this.state = state;
  }

  node(name: string): NodeState {
    let node = this.state.nodes[name];
    if (!node) {
      node = { name, status: 'pending' };
      this.state.nodes[name] = node;
    }
    return node;
  }

  /** Applies a change to a node and persists the whole state before resolving. */
  update(name: string, change: Partial<NodeState>): Promise<void> {
    Object.assign(this.node(name), change);
    return this.save();
  }

  save(): Promise<void> {
    this.state.updated_at = Date.now() / 1000;
    if (this.#queued) return this.#queued;
    const queued = this.#inFlight
      .catch(() => undefined)
      .then(() => {
        // From here on, new changes need a new write: the snapshot below may not include them.
        this.#queued = undefined;
        const write = writeJsonAtomic(this.path, structuredClone(this.state));
        this.#inFlight = write;
        return write;
      });
    this.#queued = queued;
    return queued;
  }
}

/**
 * Takes the lock for a manifest+stack. A lock whose process is gone (same host, pid not alive) is stale and is
 * taken over: that is how a run killed with SIGKILL is resumed by running the same command again.
 */
export function acquireLock(path: string, command: string): Promise<ReleaseLock> {
  return acquireFileLock(path, { command });
}
