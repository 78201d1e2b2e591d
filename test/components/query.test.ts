import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { evaluateQuery, parseQuery, QueryError } from '../../src/components/query.ts';

const outputs = { vpc_id: 'vpc-1', ids: ['a', 'b'], nested: { 'a-b': { c: [1, { d: true }] } }, empty: null };

test('names, paths, indexes and quoted keys', () => {
  assert.equal(evaluateQuery(outputs, parseQuery('vpc_id')), 'vpc-1');
  assert.equal(evaluateQuery(outputs, parseQuery('.vpc_id')), 'vpc-1');
  assert.equal(evaluateQuery(outputs, parseQuery('.ids[1]')), 'b');
  assert.equal(evaluateQuery(outputs, parseQuery('.ids[-1]')), 'b');
  assert.equal(evaluateQuery(outputs, parseQuery('.nested["a-b"].c[1].d')), true);
  assert.equal(evaluateQuery(outputs, parseQuery('.nested.a-b.c[0]')), 1);
  assert.deepEqual(evaluateQuery(outputs, parseQuery('.')), outputs);
});

test('a missing path is null, or the // default (which also replaces null)', () => {
  assert.equal(evaluateQuery(outputs, parseQuery('.missing')), null);
  assert.equal(evaluateQuery(outputs, parseQuery('.ids[5]')), null);
  assert.equal(evaluateQuery(outputs, parseQuery('.missing // "fallback"')), 'fallback');
  assert.equal(evaluateQuery(outputs, parseQuery('.empty // 3')), 3);
  assert.deepEqual(evaluateQuery(outputs, parseQuery('.missing // ["x"]')), ['x']);
  assert.equal(evaluateQuery(outputs, parseQuery('.vpc_id // "unused"')), 'vpc-1');
  // `//` inside quotes is part of a key, not a default.
  assert.equal(evaluateQuery({ 'a//b': 1 }, parseQuery('.["a//b"]')), 1);
});

test('malformed expressions say where', () => {
  assert.throws(() => parseQuery('.a[b'), QueryError);
  assert.throws(() => parseQuery('.a[x]'), /unsupported index 'x'/);
  assert.throws(() => parseQuery('.a b'), /unexpected ' '/);
});

test('property: a path built from keys and indexes finds the value placed there', () => {
  const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,6}$/);
  const step = fc.oneof(key, fc.nat({ max: 3 }));
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 6 }), fc.jsonValue(), (path, leaf) => {
      let data: unknown = leaf;
      for (const s of [...path].reverse()) {
        if (typeof s === 'number') {
          const list: unknown[] = Array.from({ length: s + 1 }, () => 0);
          list[s] = data;
          data = list;
        } else data = { [s]: data };
      }
      const text = path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');
      const found = evaluateQuery(data, parseQuery(text));
      assert.deepEqual(found, leaf === undefined ? null : leaf);
    }),
    { numRuns: 200 },
  );
});
