import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  GraphCycleError,
  type GraphNode,
  GraphUnknownNodeError,
  runGraph,
  topologicalLevels,
  validateGraph,
} from '../../src/graph/index.ts';

/** Random DAG: node i may only need nodes with a smaller index, so there is never a cycle. Input order is shuffled. */
const dagArbitrary = fc
  .integer({ min: 1, max: 30 })
  .chain((size) =>
    fc.tuple(
      fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: size, maxLength: size }),
      fc.shuffledSubarray(
        Array.from({ length: size }, (_, i) => i),
        { minLength: size, maxLength: size },
      ),
    ),
  )
  .map(([needLists, permutation]) => {
    const nodes: GraphNode<number>[] = needLists.map((needs, i) => ({
      id: `n${i}`,
      needs: i === 0 ? [] : [...new Set(needs.map((n) => `n${n % i}`))],
      data: i,
    }));
    return permutation.map((i) => nodes[i]);
  });

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('levels respect every edge and keep input order within a level', () => {
  fc.assert(
    fc.property(dagArbitrary, (nodes) => {
      const levels = topologicalLevels(nodes);
      const levelOf = new Map<string, number>();
      levels.forEach((level, l) => {
        for (const id of level) levelOf.set(id, l);
      });
      assert.equal(levelOf.size, nodes.length);
      const position = new Map(nodes.map((n, i) => [n.id, i]));
      for (const node of nodes) {
        for (const need of node.needs) assert.ok(levelOf.get(need)! < levelOf.get(node.id)!);
        // Kahn levels: a node sits exactly one level after its deepest need.
        const expected = node.needs.length === 0 ? 0 : Math.max(...node.needs.map((n) => levelOf.get(n)!)) + 1;
        assert.equal(levelOf.get(node.id), expected);
      }
      for (const level of levels) {
        const positions = level.map((id) => position.get(id)!);
        assert.deepEqual(
          positions,
          [...positions].sort((a, b) => a - b),
        );
      }
    }),
    { numRuns: 200 },
  );
});

test('a cycle is always detected and the reported cycle is made of real edges', () => {
  fc.assert(
    fc.property(dagArbitrary, fc.nat(), fc.nat(), (nodes, a, b) => {
      // Close a cycle: pick an edge x -> y (x needs y) and add a path back y -> ... -> x by making y need x.
      const byId = new Map(nodes.map((n) => [n.id, { ...n, needs: [...n.needs] }]));
      const withNeeds = [...byId.values()].filter((n) => n.needs.length > 0);
      let expectSelf = false;
      if (withNeeds.length === 0) {
        const node = [...byId.values()][a % byId.size];
        node.needs.push(node.id);
        expectSelf = true;
      } else {
        const x = withNeeds[a % withNeeds.length];
        const y = byId.get(x.needs[b % x.needs.length])!;
        y.needs.push(x.id);
      }
      const cyclic = nodes.map((n) => byId.get(n.id)!);
      let error: unknown;
      try {
        validateGraph(cyclic);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof GraphCycleError, 'cycle not detected');
      const cycle = error.cycle;
      assert.equal(cycle[0], cycle[cycle.length - 1]);
      if (expectSelf) assert.equal(cycle.length, 2);
      for (let i = 0; i + 1 < cycle.length; i++) {
        assert.ok(byId.get(cycle[i])!.needs.includes(cycle[i + 1]), `${cycle[i]} does not need ${cycle[i + 1]}`);
      }
      assert.match(error.message, new RegExp(`${cycle[0]} -> .* -> ${cycle[0]}|${cycle[0]} -> ${cycle[0]}`));
      assert.throws(() => topologicalLevels(cyclic), GraphCycleError);
    }),
    { numRuns: 200 },
  );
});

test('runGraph: every node starts after its needs finished, concurrency never exceeds the limit', async () => {
  await fc.assert(
    fc.asyncProperty(dagArbitrary, fc.integer({ min: 1, max: 5 }), fc.context(), async (nodes, limit, ctx) => {
      const finished = new Set<string>();
      let running = 0;
      let peak = 0;
      const result = await runGraph(
        nodes,
        async (node) => {
          for (const need of node.needs) assert.ok(finished.has(need), `${node.id} started before ${need} finished`);
          running++;
          peak = Math.max(peak, running);
          for (let i = 0; i < (node.data % 3) + 1; i++) await tick();
          running--;
          finished.add(node.id);
        },
        { maxConcurrency: limit },
      );
      ctx.log(`peak ${peak} limit ${limit}`);
      assert.ok(peak <= limit);
      assert.equal(result.order.length, nodes.length);
      assert.deepEqual(result.failed, []);
      for (const node of nodes) assert.equal(result.outcomes.get(node.id)?.outcome, 'succeeded');
    }),
    { numRuns: 100 },
  );
});

test('runGraph onError=continue skips exactly the descendants of a failed node; stop cancels the rest', async () => {
  await fc.assert(
    fc.asyncProperty(dagArbitrary, fc.nat(), async (nodes, pick) => {
      const failing = nodes[pick % nodes.length].id;
      const execute = async (node: GraphNode<number>) => {
        await tick();
        if (node.id === failing) throw new Error('boom');
      };
      const descendants = new Set<string>();
      let changed = true;
      while (changed) {
        changed = false;
        for (const n of nodes) {
          if (!descendants.has(n.id) && n.needs.some((x) => x === failing || descendants.has(x))) {
            descendants.add(n.id);
            changed = true;
          }
        }
      }
      const result = await runGraph(nodes, execute, { onError: 'continue', maxConcurrency: 3 });
      assert.deepEqual(result.failed, [failing]);
      for (const n of nodes) {
        const outcome = result.outcomes.get(n.id)?.outcome;
        if (n.id === failing) assert.equal(outcome, 'failed');
        else if (descendants.has(n.id)) assert.equal(outcome, 'skipped');
        else assert.equal(outcome, 'succeeded');
      }
      const stopped = await runGraph(nodes, execute, { onError: 'stop', maxConcurrency: 1 });
      assert.deepEqual(stopped.failed, [failing]);
      for (const n of nodes) {
        const outcome = stopped.outcomes.get(n.id)?.outcome;
        if (descendants.has(n.id)) assert.equal(outcome, 'cancelled');
        assert.notEqual(outcome, 'skipped');
      }
    }),
    { numRuns: 100 },
  );
});

test('unknown dependency names the node and suggests a close name', () => {
  const nodes = [
    { id: 'network', needs: [], data: 0 },
    { id: 'cluster', needs: ['netwrk'], data: 0 },
  ];
  assert.throws(
    () => validateGraph(nodes),
    (error: unknown) =>
      error instanceof GraphUnknownNodeError &&
      /'cluster' needs 'netwrk'/.test(error.message) &&
      /Did you mean 'network'/.test(error.hint ?? ''),
  );
});

test('a 10,000-deep chain and a 100,000-node graph work without recursion', async () => {
  const chain = Array.from({ length: 10_000 }, (_, i) => ({
    id: `c${i}`,
    needs: i === 0 ? [] : [`c${i - 1}`],
    data: i,
  }));
  const levels = topologicalLevels(chain);
  assert.equal(levels.length, 10_000);
  const chainRun = await runGraph(chain, async () => {}, { maxConcurrency: 8 });
  assert.equal(chainRun.order.length, 10_000);
  assert.equal(chainRun.order[9_999], 'c9999');

  // Cycle over the whole chain: found without recursion too.
  const closed = chain.map((n) => (n.id === 'c0' ? { ...n, needs: ['c9999'] } : n));
  assert.throws(() => validateGraph(closed), GraphCycleError);

  const wide = Array.from({ length: 100_000 }, (_, i) => ({
    id: `w${i}`,
    needs: i < 10 ? [] : [`w${i % 10}`],
    data: i,
  }));
  const started = Date.now();
  assert.deepEqual(
    topologicalLevels(wide).map((l) => l.length),
    [10, 99_990],
  );
  const wideRun = await runGraph(wide, async () => {}, { maxConcurrency: 64 });
  assert.equal(wideRun.failed.length, 0);
  assert.equal(wideRun.outcomes.size, 100_000);
  // Generous: only guards against quadratic work (which would take minutes), not machine speed.
  assert.ok(Date.now() - started < 60_000);
});

test('independent nodes overlap: measured parallel speed-up', async () => {
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const nodes = Array.from({ length: 4 }, (_, i) => ({ id: `s${i}`, needs: [], data: i }));
  const parallel = await runGraph(nodes, () => sleep(200), { maxConcurrency: 4 });
  const serial = await runGraph(nodes, () => sleep(200), { maxConcurrency: 1 });
  const speedUp = serial.durationMs / parallel.durationMs;
  assert.ok(parallel.durationMs < 400, `parallel took ${parallel.durationMs} ms`);
  assert.ok(serial.durationMs >= 800);
  assert.ok(speedUp > 2.5, `speed-up ${speedUp.toFixed(2)}`);
});

test('a node starts as soon as its own needs succeed, not when its level is done', async () => {
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const nodes = [
    { id: 'slow', needs: [], data: 400 },
    { id: 'fast', needs: [], data: 20 },
    { id: 'after-fast', needs: ['fast'], data: 20 },
  ];
  const result = await runGraph(nodes, (n) => sleep(n.data));
  const afterFast = result.outcomes.get('after-fast')!;
  const slow = result.outcomes.get('slow')!;
  assert.ok(afterFast.finishedAt! < slow.finishedAt!);
});

test('abort signal cancels what has not started and aborts running nodes', async () => {
  const controller = new AbortController();
  const nodes = [
    { id: 'a', needs: [], data: 0 },
    { id: 'b', needs: ['a'], data: 0 },
  ];
  const events: string[] = [];
  const result = await runGraph(
    nodes,
    (_node, signal) =>
      new Promise<void>((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error('aborted')));
        controller.abort('stop');
      }),
    { signal: controller.signal, onEvent: (e) => events.push(`${e.type}:${e.id}:${e.outcome ?? ''}`) },
  );
  assert.equal(result.outcomes.get('a')?.outcome, 'failed');
  assert.equal(result.outcomes.get('b')?.outcome, 'cancelled');
  assert.deepEqual(events, ['start:a:', 'finish:a:failed', 'finish:b:cancelled']);
});
