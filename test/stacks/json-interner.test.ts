/**
 * The result cache's value numbering (src/stacks/json-interner.ts): two section values get the same number exactly
 * when their JSON texts are equal, whether they are one shared object, a fresh copy or a near miss, and a section
 * holding a value JSON cannot carry exactly gets no numbers at all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PlainMap } from '../../src/data/merge.ts';
import { JsonInterner } from '../../src/stacks/json-interner.ts';

/** Whether JSON carries a value exactly (the reference the interner must agree with). */
function carried(value: unknown): boolean {
  const text = JSON.stringify(value);
  if (text === undefined || hasProtoKey(value)) return false;
  try {
    assert.deepStrictEqual(JSON.parse(text), value);
    return true;
  } catch {
    return false;
  }
}

function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some(hasProtoKey);
}

class Box {
  constructor(readonly a: number) {}
}

/** Values JSON cannot carry exactly, nested or not. */
const notJson = fc.constantFrom<unknown>(
  undefined,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -0,
  new Box(1),
  new Date(0),
  Object.assign(new Array(3), { 0: 1, 2: 3 }), // a hole
  JSON.parse('{"__proto__": 1}'),
  { a: undefined },
  { a: [-0] },
  { b: { c: Number.NaN } },
);

/**
 * Sections drawn from a small pool, so that one object recurs (shared, as merging shares it), fresh copies of it
 * recur (rebuilt alike), and near misses differ deep inside (a 0 where the pool has -0, one more key).
 */
const sections = fc
  .array(
    fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom<unknown>(
        0,
        { a: 0 },
        { a: [0] },
        [],
        {},
        { '': [] },
        { 'a\u0000': 1, b: 2 },
        { a: 1, '\u0000b': 2 },
      ),
    ),
    {
      minLength: 1,
      maxLength: 6,
    },
  )
  .chain((pool) =>
    fc.array(
      fc.record({
        component: fc.constantFrom('a', 'b'),
        values: fc.array(
          fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(...pool) },
            { weight: 3, arbitrary: fc.constantFrom(...pool).map((v) => structuredClone(v)) },
            { weight: 1, arbitrary: notJson },
            { weight: 1, arbitrary: fc.constantFrom(...pool).map((v) => ({ wrapped: v, extra: -0 })) },
            { weight: 1, arbitrary: fc.constantFrom(...pool).map((v) => ({ wrapped: v })) },
          ),
          { minLength: 1, maxLength: 4 },
        ),
      }),
      { minLength: 1, maxLength: 12 },
    ),
  );

test('interned section values: equal numbers exactly for equal JSON texts; none for a value JSON cannot carry', () => {
  fc.assert(
    fc.property(sections, (list) => {
      const interner = new JsonInterner();
      const seen = new Map<string, number>();
      for (const { component, values } of list) {
        const keys = values.map((_, i) => `k${i}`);
        const section: PlainMap = Object.fromEntries(values.map((v, i) => [keys[i], v]));
        const interned = interner.section(component, section);
        if (!values.every(carried)) {
          assert.equal(interned, undefined);
          continue;
        }
        assert.ok(interned);
        assert.deepEqual(interned.keys, keys);
        const { ids } = interned;
        values.forEach((value, i) => {
          const text = JSON.stringify(value);
          assert.equal(interner.text(ids[i]), text);
          assert.equal(JSON.stringify(interner.value(ids[i])), text);
          const known = seen.get(text);
          if (known === undefined) {
            assert.ok(![...seen.values()].includes(ids[i]), 'a new text gets a new number');
            seen.set(text, ids[i]);
          } else {
            assert.equal(ids[i], known, 'an equal text gets the same number');
          }
        });
      }
    }),
    { numRuns: 300 },
  );
});

test('interned section values: a -0 where the same section held a 0 is never taken for it', () => {
  const interner = new JsonInterner();
  assert.ok(interner.section('c', { v: { a: [0] } }));
  assert.equal(interner.section('c', { v: { a: [-0] } }), undefined);
  assert.equal(interner.section('c', { v: -0 }), undefined);
  const again = interner.section('c', { v: { a: [0] } });
  assert.equal(again && interner.text(again.ids[0]), '{"a":[0]}');
});
