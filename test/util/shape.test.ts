import assert from 'node:assert/strict';
import { test } from 'node:test';
import { integer, list, object, oneOf, optional, problemWith, record, string } from '../../src/util/shape.ts';

test('shapes name the first wrong field in words', () => {
  const shape = object({
    version: oneOf(1),
    nodes: record(object({ status: oneOf('a', 'b'), vm_id: optional(integer) })),
    tags: optional(list(string)),
  });
  assert.equal(problemWith(shape, { version: 1, nodes: {} }), undefined);
  assert.equal(problemWith(shape, { version: 1, nodes: {}, extra: true }), undefined, 'newer fields are allowed');
  assert.equal(problemWith(shape, { version: 1, nodes: 'x' }), 'nodes must be an object, found the string "x"');
  assert.equal(problemWith(shape, { nodes: {} }), 'version is missing');
  assert.equal(problemWith(shape, { version: 2, nodes: {} }), 'version must be one of 1, found the number 2');
  assert.equal(
    problemWith(shape, { version: 1, nodes: { 'web-1': { status: 'a', vm_id: 1.5 } } }),
    'nodes.web-1.vm_id must be a whole number, found the number 1.5',
  );
  assert.equal(
    problemWith(shape, { version: 1, nodes: { 'a b': { status: 'c' } } }),
    'nodes."a b".status must be one of "a", "b", found the string "c"',
  );
  assert.equal(
    problemWith(shape, { version: 1, nodes: {}, tags: ['x', 3] }),
    'tags[1] must be a string, found the number 3',
  );
  assert.equal(problemWith(shape, [1]), 'the file must be an object, found a list');
});
