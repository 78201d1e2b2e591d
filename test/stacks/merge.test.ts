import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { finalizeMarkers, isPlainMap, mergeLayers, mergeMaps } from '../../src/data/merge.ts';
import { AppendList, UNSET } from '../../src/data/yaml.ts';

const key = fc.constantFrom('a', 'b', 'c', 'd', 'vars', 'tags');
const scalar = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null));
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(scalar, { maxLength: 3 }),
    fc.dictionary(key, tie('tree'), { maxKeys: 4 }),
  ),
}));
const map = fc.dictionary(key, tree, { maxKeys: 5 });

test('property: the last layer wins for every leaf it sets (merge precedence)', () => {
  fc.assert(
    fc.property(map, map, (lower, higher) => {
      const merged = mergeMaps(lower, higher, 'replace');
      const check = (h: Record<string, unknown>, m: Record<string, unknown>) => {
        for (const k of Object.keys(h)) {
          if (isPlainMap(h[k]) && isPlainMap(m[k]))
            check(h[k] as Record<string, unknown>, m[k] as Record<string, unknown>);
          else assert.deepEqual(m[k], h[k]);
        }
      };
      check(higher, merged);
    }),
    { numRuns: 300 },
  );
});

test('property: keys only in the lower layer survive', () => {
  fc.assert(
    fc.property(map, map, (lower, higher) => {
      const merged = mergeMaps(lower, higher, 'replace');
      for (const k of Object.keys(lower)) if (!(k in higher)) assert.deepEqual(merged[k], lower[k]);
    }),
    { numRuns: 200 },
  );
});

test('property: merging never mutates its inputs and is idempotent', () => {
  fc.assert(
    fc.property(map, map, (lower, higher) => {
      const before = JSON.stringify([lower, higher]);
      const once = mergeMaps(lower, higher, 'replace');
      assert.equal(JSON.stringify([lower, higher]), before);
      assert.deepEqual(mergeMaps(once, higher, 'replace'), once);
    }),
    { numRuns: 200 },
  );
});

test('property: merging a list of layers equals merging them one by one, left to right', () => {
  fc.assert(
    fc.property(fc.array(map, { maxLength: 5 }), (layers) => {
      const stepwise = layers.reduce<Record<string, unknown>>((acc, layer) => mergeMaps(acc, layer, 'replace'), {});
      const json = (v: unknown) => JSON.parse(JSON.stringify(v));
      assert.deepEqual(json(mergeLayers(layers, 'replace')), json(stepwise));
    }),
    { numRuns: 200 },
  );
});

test('property: append strategy concatenates lists in layer order', () => {
  fc.assert(
    fc.property(fc.array(scalar, { maxLength: 4 }), fc.array(scalar, { maxLength: 4 }), (x, y) => {
      assert.deepEqual(mergeLayers([{ l: x }, { l: y }], 'append').l, [...x, ...y]);
    }),
    { numRuns: 100 },
  );
});

test('list strategies: replace, append and Atmos index merge', () => {
  const lower = { l: ['a', { x: 1, y: 1 }, 'c'] };
  const higher = { l: ['z', { y: 2 }] };
  assert.deepEqual(mergeLayers([lower, higher], 'replace').l, ['z', { y: 2 }]);
  assert.deepEqual(mergeLayers([lower, higher], 'append').l, ['a', { x: 1, y: 1 }, 'c', 'z', { y: 2 }]);
  // merge: maps at the same index deep-merge; for scalars the earlier item is kept (Atmos's code).
  assert.deepEqual(mergeLayers([lower, higher], 'merge').l, ['a', { x: 1, y: 2 }, 'c']);
});

test('type-changing overrides win, null overrides, empty map is a no-op over a map', () => {
  assert.deepEqual(mergeLayers([{ a: [1, 2] }, { a: {} }]).a, {});
  assert.deepEqual(mergeLayers([{ a: [1, 2] }, { a: [] }]).a, []);
  assert.deepEqual(mergeLayers([{ a: ['x'] }, { a: '10.0.0.0/8' }]).a, '10.0.0.0/8');
  assert.deepEqual(mergeLayers([{ a: { b: 1 } }, { a: null }]).a, null);
  assert.deepEqual(mergeLayers([{ a: { b: 1 } }, { a: {} }]).a, { b: 1 });
});

test('!append concatenates whatever the strategy; !unset removes the key', () => {
  const merged = mergeLayers(
    [
      { l: [1], keep: 1, gone: 2 },
      { l: new AppendList([2]), gone: UNSET },
    ],
    'replace',
  );
  assert.deepEqual(merged, { l: [1, 2], keep: 1 });
  assert.deepEqual(finalizeMarkers({ a: UNSET, b: new AppendList([1]), c: { d: UNSET } }), { b: [1], c: {} });
});

test('unchanged subtrees are shared, not copied', () => {
  const shared = { deep: { x: 1 } };
  const merged = mergeLayers([{ catalog: shared }, { other: 1 }]);
  assert.equal(merged.catalog, shared);
});
