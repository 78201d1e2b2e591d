import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { allInOrder } from '../../src/util/in-order.ts';

const settle = <T>(ms: number, ok: boolean, value: T): Promise<T> =>
  new Promise((resolve, reject) => setTimeout(() => (ok ? resolve(value) : reject(new Error(String(value)))), ms));

test('allInOrder: the values in order; a failure is the first failing one in order, whenever it failed', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ ms: fc.integer({ min: 0, max: 5 }), ok: fc.boolean(), sync: fc.boolean() }), {
        maxLength: 8,
      }),
      async (items) => {
        const results = items.map((item, i) => (item.sync && item.ok ? i : settle(item.ms, item.ok, i)));
        const firstFailing = items.findIndex((item) => !item.ok);
        if (firstFailing < 0)
          assert.deepEqual(
            await allInOrder(results),
            items.map((_, i) => i),
          );
        else await assert.rejects(allInOrder(results), { message: String(firstFailing) });
      },
    ),
    { numRuns: 100 },
  );
});

test('allInOrder: a later promise failing first is reported only after the earlier ones, and is never unhandled', async () => {
  let unhandled = 0;
  const count = () => unhandled++;
  process.on('unhandledRejection', count);
  try {
    await assert.rejects(allInOrder([settle(30, false, 'first in order'), settle(0, false, 'first in time')]), {
      message: 'first in order',
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(unhandled, 0);
  } finally {
    process.off('unhandledRejection', count);
  }
});
