import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { COMMON_FLAGS, rejectMisspeltFlags, splitArgs, wordsAfterCommand } from '../../src/cli/toolchains/argv.ts';
import { UsageError } from '../../src/errors.ts';

const FLAGS = [...COMMON_FLAGS, { name: 'skip-init', kind: 'boolean' as const }];

test('strata flags are taken wherever they are; everything else stays native, in order', () => {
  const split = splitArgs(
    ['plan', 'vpc', '-var', 'foo=bar', '-s', 'dev', '-target=x', '--dry-run', '-state=x.tfstate', '--', '-s', 'y'],
    FLAGS,
    2,
  );
  assert.deepEqual(split.positionals, ['plan', 'vpc']);
  assert.deepEqual(split.flags, { stack: 'dev', 'dry-run': true });
  // -state is not -s, -var is not -v, and words after -- are never strata's.
  assert.deepEqual(split.native, ['-var', 'foo=bar', '-target=x', '-state=x.tfstate', '-s', 'y']);
});

test('-s=x, --stack x and --stack=x all name the stack', () => {
  for (const words of [['-s=dev'], ['--stack', 'dev'], ['--stack=dev']]) {
    assert.equal(splitArgs(['plan', 'vpc', ...words], FLAGS, 2).flags.stack, 'dev');
  }
});

test('bare words after the component are native (terraform import addresses)', () => {
  const split = splitArgs(['import', 'vpc', '-s', 'dev', 'aws_vpc.this', 'vpc-123'], FLAGS, 2);
  assert.deepEqual(split.positionals, ['import', 'vpc']);
  assert.deepEqual(split.native, ['aws_vpc.this', 'vpc-123']);
});

test('a value flag without its value and a boolean flag with one are usage errors', () => {
  assert.throws(() => splitArgs(['plan', 'vpc', '-s'], FLAGS, 2), UsageError);
  assert.throws(() => splitArgs(['plan', 'vpc', '--stack', '--'], FLAGS, 2), UsageError);
  assert.throws(() => splitArgs(['plan', 'vpc', '--skip-init=yes'], FLAGS, 2), UsageError);
});

test('property: native words that are not strata flags come back unchanged and in order', () => {
  const nativeWord = fc
    .stringMatching(/^-{1,2}[a-z][a-z0-9-]{0,8}(=[a-z0-9.]{0,5})?$|^[a-z0-9.=_]{1,8}$/)
    .filter((w) => {
      const name = w.replace(/^-+/, '').split('=')[0];
      return !(w.startsWith('--') && FLAGS.some((f) => f.name === name)) && !/^-s(=|$)/.test(w) && w !== '--';
    });
  fc.assert(
    fc.property(fc.array(nativeWord, { maxLength: 12 }), fc.array(nativeWord, { maxLength: 5 }), (before, after) => {
      const words = ['plan', 'vpc', ...before.map((w) => (w.startsWith('-') ? w : `-x=${w}`)), '-s', 'dev'];
      const split = splitArgs([...words, '--', ...after], FLAGS, 2);
      assert.equal(split.flags.stack, 'dev');
      assert.deepEqual(split.native, [...before.map((w) => (w.startsWith('-') ? w : `-x=${w}`)), ...after]);
    }),
    { numRuns: 200 },
  );
});

test('wordsAfterCommand skips global options and their values', () => {
  assert.deepEqual(wordsAfterCommand(['--config', 'terraform', 'terraform', 'plan', 'x'], ['terraform']), [
    'plan',
    'x',
  ]);
  assert.deepEqual(wordsAfterCommand(['--no-color', 'tf', 'plan'], ['terraform', 'tf']), ['plan']);
});

test('rejectMisspeltFlags: near misses of strata flags are refused; the tool flags and words after -- are not', () => {
  const tool = new Set(['state', 'auto-approve', 'lock']);
  for (const [word, near] of [
    ['--dryrun', '--dry-run'],
    ['--skipinit', '--skip-init'],
    ['--stak=dev', '--stack'],
    ['--Dry_Run', '--dry-run'],
  ]) {
    assert.throws(
      () => rejectMisspeltFlags(['plan', 'vpc', word], FLAGS, tool),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && (e.hint ?? '').includes(`'${near}'`),
    );
  }
  rejectMisspeltFlags(['plan', '--state=x', '--auto-approve', '--lock=false', '--', '--dryrun'], FLAGS, tool);
  // Any exact strata or tool flag, with or without a value, passes.
  fc.assert(
    fc.property(
      fc.constantFrom(...FLAGS.map((f) => f.name), ...tool),
      fc.option(fc.string(), { nil: undefined }),
      (name, value) => {
        rejectMisspeltFlags([value === undefined ? `--${name}` : `--${name}=${value}`], FLAGS, tool);
      },
    ),
    { numRuns: 100 },
  );
});
