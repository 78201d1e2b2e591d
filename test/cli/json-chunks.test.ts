// `describe stacks --format json` writes its JSON one stack at a time (src/cli/output.ts, jsonChunks): the pieces
// must join to exactly the text the one-piece renderer gives, for any data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonChunks, render } from '../../src/cli/output.ts';

const joined = (data: unknown) => [...jsonChunks(data)].join('');

test('jsonChunks: edge cases join to what render gives', () => {
  const cases: unknown[] = [{}, [], null, 1, 'x', { a: undefined }, { a: undefined, b: 1 }, { a: 1, b: () => 1 }];
  cases.push({ a: { b: [1, { c: 'x\ny' }] }, d: [] }, { toJSON: () => 5 }, { '\n': { '"': '\n  ' } });
  for (const data of cases) assert.equal(joined(data), render(data, 'json'));
});

test('property: jsonChunks joins to what render gives (fast-check, 300 runs)', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (data) => joined(data) === render(data, 'json')),
    { numRuns: 300 },
  );
});
