import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';

test('strata --help lists the commands and exits 0', () => {
  const result = runCli(['--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Usage: strata/);
});

test('an unknown command is a usage error (exit 2) with a suggestion', () => {
  const result = runCli(['describ']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown command/);
});
