/**
 * One dependency-graph scheduler for workflows, multi-component runs and the Proxmox operator.
 * Everything here is iterative (no recursion): a 10,000-deep chain or 100,000 nodes must not overflow the stack.
 */
import { StrataError } from '../errors.ts';
import { didYouMean } from '../util/suggest.ts';

export interface GraphNode<T> {
  id: string;
  needs: string[];
  data: T;
}

export class GraphCycleError extends StrataError {
  /** The cycle, first node repeated at the end: [a, b, c, a] where a needs b, b needs c, c needs a. */
  readonly cycle: string[];
  constructor(cycle: string[]) {
    super(`dependency cycle: ${cycle.join(' -> ')}`, {
      hint: 'each node needs the next one in this list; remove one of these dependencies',
    });
    this.name = 'GraphCycleError';
    this.cycle = cycle;
  }
}

export class GraphUnknownNodeError extends StrataError {
  readonly node: string;
  readonly dependency: string;
  constructor(node: string, dependency: string, known: Iterable<string>) {
    const suggestion = didYouMean(dependency, known);
    super(`'${node}' needs '${dependency}', which does not exist`, {
      hint: suggestion ?? `known names: ${[...known].slice(0, 20).join(', ')}`,
    });
    this.name = 'GraphUnknownNodeError';
    this.node = node;
    this.dependency = dependency;
  }
}

export class GraphDuplicateNodeError extends StrataError {
  constructor(id: string) {
    super(`'${id}' is defined more than once`, { hint: 'node names must be unique' });
    this.name = 'GraphDuplicateNodeError';
  }
}

/** Integer adjacency of a graph: needs[i] and dependents[i] hold node indexes. */
interface Indexed {
  ids: string[];
  index: Map<string, number>;
  needs: number[][];
  dependents: number[][];
}

function indexGraph<T>(nodes: GraphNode<T>[]): Indexed {
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (index.has(node.id)) throw new GraphDuplicateNodeError(node.id);
    index.set(node.id, i);
  });
  const needs: number[][] = nodes.map(() => []);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((node, i) => {
    // A node listing the same need twice counts it once.
    for (const need of new Set(node.needs)) {
      const j = index.get(need);
      if (j === undefined) throw new GraphUnknownNodeError(node.id, need, index.keys());
      needs[i].push(j);
      dependents[j].push(i);
    }
  });
  return { ids: nodes.map((n) => n.id), index, needs, dependents };
}

/** Kahn's algorithm: the level of every node (0 for nodes without needs), or the nodes left over in a cycle. */
function levelsOf(graph: Indexed): { level: Int32Array; ordered: number } {
  const count = graph.needs.length;
  const pending = Int32Array.from(graph.needs, (n) => n.length);
  const level = new Int32Array(count);
  const queue: number[] = [];
  for (let i = 0; i < count; i++) if (pending[i] === 0) queue.push(i);
  let head = 0;
  while (head < queue.length) {
    const i = queue[head++];
    for (const d of graph.dependents[i]) {
      if (level[d] < level[i] + 1) level[d] = level[i] + 1;
      if (--pending[d] === 0) queue.push(d);
    }
  }
  if (queue.length < count) {
    // Every node left over still has a need that is left over, so walking needs from any of them must loop.
    const done = new Uint8Array(count);
    for (const i of queue) done[i] = 1;
    let start = 0;
    while (done[start]) start++;
    const seenAt = new Map<number, number>();
    const path: number[] = [];
    let current = start;
    while (!seenAt.has(current)) {
      seenAt.set(current, path.length);
      path.push(current);
      current = graph.needs[current].find((j) => !done[j]) as number;
    }
    const cycle = path.slice(seenAt.get(current));
    cycle.push(current);
    throw new GraphCycleError(cycle.map((i) => graph.ids[i]));
  }
  return { level, ordered: queue.length };
}

/** Throws GraphDuplicateNodeError, GraphUnknownNodeError or GraphCycleError. */
export function validateGraph<T>(nodes: GraphNode<T>[]): void {
  levelsOf(indexGraph(nodes));
}

/** Kahn levels: every node's needs are in earlier levels; within a level nodes keep their input order. */
export function topologicalLevels<T>(nodes: GraphNode<T>[]): string[][] {
  const { level } = levelsOf(indexGraph(nodes));
  const levels: string[][] = [];
  nodes.forEach((node, i) => {
    const l = level[i];
    while (levels.length <= l) levels.push([]);
    levels[l].push(node.id);
  });
  return levels;
}

export type NodeOutcome = 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface NodeResult {
  outcome: NodeOutcome;
  error?: unknown;
  startedAt?: number;
  finishedAt?: number;
}

export interface GraphRunResult {
  outcomes: Map<string, NodeResult>;
  /** Start order. */
  order: string[];
  failed: string[];
  durationMs: number;
}

/** `finish` is also sent, without a `start`, for nodes that end up skipped or cancelled. */
export interface GraphEvent {
  type: 'start' | 'finish';
  id: string;
  outcome?: NodeOutcome;
}

export interface RunGraphOptions {
  /** Default 4; Infinity allowed. */
  maxConcurrency?: number;
  /**
   * stop (default): after a failure start nothing new, let running nodes finish, the rest are 'cancelled';
   * continue: the failed node's descendants are 'skipped', independent nodes keep running.
   */
  onError?: 'stop' | 'continue';
  /** Aborting starts nothing new, aborts the signal handed to running nodes; the rest are 'cancelled'. */
  signal?: AbortSignal;
  onEvent?: (event: GraphEvent) => void;
}

/** Runs each node as soon as all its needs succeeded (not level by level), at most maxConcurrency at a time. */
export async function runGraph<T>(
  nodes: GraphNode<T>[],
  execute: (node: GraphNode<T>, signal: AbortSignal) => Promise<void>,
  options: RunGraphOptions = {},
): Promise<GraphRunResult> {
  const maxConcurrency = options.maxConcurrency ?? 4;
  if (!(maxConcurrency >= 1)) {
    throw new StrataError(`max concurrency must be at least 1 (got ${maxConcurrency})`);
  }
  const onError = options.onError ?? 'stop';
  const graph = indexGraph(nodes);
  levelsOf(graph);

  const started = Date.now();
  const count = nodes.length;
  const pending = Int32Array.from(graph.needs, (n) => n.length);
  const results: Array<NodeResult | undefined> = new Array(count);
  const order: string[] = [];
  const ready: number[] = [];
  for (let i = 0; i < count; i++) if (pending[i] === 0) ready.push(i);
  let readyHead = 0;
  let running = 0;
  let stopping = false;
  const abort = new AbortController();

  const emit = (event: GraphEvent) => {
    if (options.onEvent) options.onEvent(event);
  };

  const skipDescendants = (from: number) => {
    const stack = [...graph.dependents[from]];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      if (results[i]) continue;
      results[i] = { outcome: 'skipped' };
      emit({ type: 'finish', id: nodes[i].id, outcome: 'skipped' });
      stack.push(...graph.dependents[i]);
    }
  };

  await new Promise<void>((resolve) => {
    const onAbort = () => {
      stopping = true;
      abort.abort(options.signal?.reason);
      if (running === 0) finish();
    };
    const finish = () => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve();
    };

    const pump = () => {
      while (!stopping && running < maxConcurrency && readyHead < ready.length) {
        const i = ready[readyHead++];
        if (results[i]) continue; // skipped while waiting
        start(i);
      }
      if (running === 0 && (stopping || readyHead >= ready.length)) finish();
    };

    const start = (i: number) => {
      running++;
      const node = nodes[i];
      const startedAt = Date.now();
      order.push(node.id);
      emit({ type: 'start', id: node.id });
      Promise.resolve()
        .then(() => execute(node, abort.signal))
        .then(
          () => {
            results[i] = { outcome: 'succeeded', startedAt, finishedAt: Date.now() };
            emit({ type: 'finish', id: node.id, outcome: 'succeeded' });
            for (const d of graph.dependents[i]) if (--pending[d] === 0) ready.push(d);
          },
          (error: unknown) => {
            results[i] = { outcome: 'failed', error, startedAt, finishedAt: Date.now() };
            emit({ type: 'finish', id: node.id, outcome: 'failed' });
            if (onError === 'stop') stopping = true;
            else skipDescendants(i);
          },
        )
        .finally(() => {
          running--;
          pump();
        });
    };

    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    pump();
  });

  const outcomes = new Map<string, NodeResult>();
  const failed: string[] = [];
  nodes.forEach((node, i) => {
    let result = results[i];
    if (!result) {
      result = { outcome: 'cancelled' };
      emit({ type: 'finish', id: node.id, outcome: 'cancelled' });
    }
    if (result.outcome === 'failed') failed.push(node.id);
    outcomes.set(node.id, result);
  });
  return { outcomes, order, failed, durationMs: Date.now() - started };
}
