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
  const graph = indexGraph(nodes);
  levelsOf(graph);
  const started = Date.now();
  const scheduler = new Scheduler(nodes, graph, execute, { ...options, maxConcurrency });
  await scheduler.run();
  return scheduler.result(started);
}

/** One run of a graph: which nodes are ready, running and finished, and when to stop starting new ones. */
class Scheduler<T> {
  private readonly pending: Int32Array;
  private readonly results: Array<NodeResult | undefined>;
  private readonly order: string[] = [];
  private readonly ready: number[] = [];
  private readyHead = 0;
  private running = 0;
  private stopping = false;
  private readonly abort = new AbortController();
  private resolveRun: () => void = () => {};

  constructor(
    private readonly nodes: GraphNode<T>[],
    private readonly graph: Indexed,
    private readonly execute: (node: GraphNode<T>, signal: AbortSignal) => Promise<void>,
    private readonly options: RunGraphOptions & { maxConcurrency: number },
  ) {
    this.pending = Int32Array.from(graph.needs, (n) => n.length);
    this.results = new Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) if (this.pending[i] === 0) this.ready.push(i);
  }

  /** Resolves when no node is running and none will start. */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.resolveRun = resolve;
      const { signal } = this.options;
      if (signal?.aborted) {
        this.onAbort();
        return;
      }
      signal?.addEventListener('abort', this.onAbort, { once: true });
      this.pump();
    });
  }

  /** Every node's outcome: nodes never started are cancelled. */
  result(started: number): GraphRunResult {
    const outcomes = new Map<string, NodeResult>();
    const failed: string[] = [];
    this.nodes.forEach((node, i) => {
      let result = this.results[i];
      if (!result) {
        result = { outcome: 'cancelled' };
        this.emit({ type: 'finish', id: node.id, outcome: 'cancelled' });
      }
      if (result.outcome === 'failed') failed.push(node.id);
      outcomes.set(node.id, result);
    });
    return { outcomes, order: this.order, failed, durationMs: Date.now() - started };
  }

  private readonly onAbort = () => {
    this.stopping = true;
    this.abort.abort(this.options.signal?.reason);
    if (this.running === 0) this.finish();
  };

  private finish(): void {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.resolveRun();
  }

  private emit(event: GraphEvent): void {
    if (this.options.onEvent) this.options.onEvent(event);
  }

  private pump(): void {
    while (!this.stopping && this.running < this.options.maxConcurrency && this.readyHead < this.ready.length) {
      const i = this.ready[this.readyHead++];
      if (this.results[i]) continue; // skipped while waiting
      this.start(i);
    }
    if (this.running === 0 && (this.stopping || this.readyHead >= this.ready.length)) this.finish();
  }

  private start(i: number): void {
    this.running++;
    const node = this.nodes[i];
    const startedAt = Date.now();
    this.order.push(node.id);
    this.emit({ type: 'start', id: node.id });
    Promise.resolve()
      .then(() => this.execute(node, this.abort.signal))
      .then(
        () => {
          this.results[i] = { outcome: 'succeeded', startedAt, finishedAt: Date.now() };
          this.emit({ type: 'finish', id: node.id, outcome: 'succeeded' });
          for (const d of this.graph.dependents[i]) if (--this.pending[d] === 0) this.ready.push(d);
        },
        (error: unknown) => {
          this.results[i] = { outcome: 'failed', error, startedAt, finishedAt: Date.now() };
          this.emit({ type: 'finish', id: node.id, outcome: 'failed' });
          if ((this.options.onError ?? 'stop') === 'stop') this.stopping = true;
          else this.skipDescendants(i);
        },
      )
      .finally(() => {
        this.running--;
        this.pump();
      });
  }

  private skipDescendants(from: number): void {
    const stack = [...this.graph.dependents[from]];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      if (this.results[i]) continue;
      this.results[i] = { outcome: 'skipped' };
      this.emit({ type: 'finish', id: this.nodes[i].id, outcome: 'skipped' });
      stack.push(...this.graph.dependents[i]);
    }
  }
}
