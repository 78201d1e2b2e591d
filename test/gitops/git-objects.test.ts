/**
 * The tree walk of src/gitops/git-objects.ts against git itself: random histories (files, executables, symbolic
 * links, files that become folders and back) written with one `git fast-import`, then every commit's changes compared
 * with `git log --name-status` and its file ids with git's blob ids computed from the content.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { StrataError } from '../../src/errors.ts';
import { ObjectReader, parseTree } from '../../src/gitops/git-objects.ts';
import { TempRepo } from './helpers.ts';

const repos: TempRepo[] = [];
after(() => {
  for (const r of repos) r.cleanup();
});

type Mode = '100644' | '100755' | '120000';
type Tree = Map<string, { mode: Mode; content: string }>;

/** Paths over three names, at most three deep; a file that is also a folder of another path is dropped. */
const tree: fc.Arbitrary<Tree> = fc
  .array(
    fc.record({
      path: fc.array(fc.constantFrom('a', 'b', 'ü c'), { minLength: 1, maxLength: 3 }).map((p) => p.join('/')),
      mode: fc.constantFrom<Mode>('100644', '100644', '100644', '100755', '120000'),
      content: fc.constantFrom('1', '2', 'b'),
    }),
    { maxLength: 8 },
  )
  .map((files) => {
    const byPath: Tree = new Map(files.map((f) => [f.path, { mode: f.mode, content: f.content }]));
    for (const path of [...byPath.keys()]) {
      if ([...byPath.keys()].some((other) => other.startsWith(`${path}/`))) byPath.delete(path);
    }
    return byPath;
  });

/** One fast-import stream committing each tree in turn on main (after an empty root commit). */
function importHistory(r: TempRepo, trees: Tree[]): string[] {
  r.git('commit', '-q', '--allow-empty', '-m', 'root');
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const stream = trees.map((t, i) => {
    const files = [...t].map(([path, f]) => `M ${f.mode} inline "${path}"\n${data(f.content)}`).join('');
    const from = i === 0 ? 'from refs/heads/main^0\n' : '';
    return `commit refs/heads/main\ncommitter t <t@example.com> ${1_700_000_000 + i} +0000\n${data(`c${i}`)}${from}deleteall\n${files}`;
  });
  r.gitInput(stream.join(''), 'fast-import', '--quiet');
  return r.git('rev-list', '--reverse', 'main').trim().split('\n').slice(1);
}

/** `git log --name-status` of every commit but the root: its files with A, D, M or T. */
function gitChanges(r: TempRepo): Map<string, { all: string[]; addedOrDeleted: string[] }> {
  const out = r.git('log', '--reverse', '--no-renames', '--name-status', '-z', '--format=%x01%H');
  const changes = new Map<string, { all: string[]; addedOrDeleted: string[] }>();
  for (const chunk of out.split('\x01').slice(1)) {
    const nul = chunk.indexOf('\0');
    const id = chunk.slice(0, nul);
    const rest = chunk.slice(nul + 1).replace(/^\n/, '');
    const fields = rest.split('\0');
    const all: string[] = [];
    const addedOrDeleted: string[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      all.push(fields[i + 1]);
      if (fields[i] === 'A' || fields[i] === 'D') addedOrDeleted.push(fields[i + 1]);
    }
    changes.set(id, { all: all.sort(), addedOrDeleted: addedOrDeleted.sort() });
  }
  return changes;
}

const blobId = (content: string) =>
  createHash('sha1')
    .update(`blob ${Buffer.byteLength(content)}\0${content}`)
    .digest('hex');

test('property: changes and file ids of random histories are what git reports', async () => {
  const r = new TempRepo('strata-objects-');
  repos.push(r);
  // Fixed first steps make sure the awkward cases are always there: a file becoming a folder and back, a mode-only
  // change, a file becoming a symbolic link.
  const fixed: Tree[] = [
    new Map([['a', { mode: '100644', content: '1' }]]),
    new Map([['a/b', { mode: '100644', content: '1' }]]),
    new Map([['a', { mode: '100644', content: '1' }]]),
    new Map([['a', { mode: '100755', content: '1' }]]),
    new Map([['a', { mode: '120000', content: '1' }]]),
  ];
  const seed = Date.now() % 2 ** 31;
  const trees = [...fixed, ...fc.sample(tree, { numRuns: 100, seed })];
  const commits = importHistory(r, trees);
  assert.equal(commits.length, trees.length);
  const expected = gitChanges(r);
  const reader = new ObjectReader(r.dir, commits[0]);
  try {
    const parents = [r.git('rev-parse', 'main~' + String(trees.length)).trim(), ...commits];
    await Promise.all(
      commits.map(async (commit, i) => {
        assert.deepEqual(
          await reader.changes(parents[i], commit),
          expected.get(commit),
          `commit ${i} (fc.sample seed ${seed})`,
        );
        const files = [...trees[i]].filter(([, f]) => f.mode !== '120000');
        assert.deepEqual(await reader.blobIds(commit, ''), new Map(files.map(([p, f]) => [p, blobId(f.content)])));
        const under = files.filter(([p]) => p.startsWith('a/'));
        if (under.length > 0) {
          assert.deepEqual(await reader.blobIds(commit, 'a'), new Map(under.map(([p, f]) => [p, blobId(f.content)])));
        }
      }),
    );
    assert.deepEqual(expected.get(commits[1])?.addedOrDeleted, ['a', 'a/b'], 'a file became a folder');
    assert.deepEqual(expected.get(commits[3]), { all: ['a'], addedOrDeleted: [] }, 'a mode-only change');
  } finally {
    reader.close();
  }
});

test('blobs of a commit: files only, missing paths left out; a missing object is undefined', async () => {
  const r = new TempRepo('strata-objects-');
  repos.push(r);
  r.write('stacks/dev.yaml', 'vars: {}\n');
  const head = r.commit('one');
  const reader = new ObjectReader(r.dir, head);
  try {
    const blobs = await reader.blobs(head, ['stacks/dev.yaml', 'stacks', 'nope.yaml', 'with\nnewline']);
    assert.deepEqual([...blobs.keys()], ['stacks/dev.yaml']);
    assert.equal(blobs.get('stacks/dev.yaml')?.toString(), 'vars: {}\n');
    assert.equal(await reader.read('0'.repeat(40)), undefined);
    assert.deepEqual(await reader.blobIds(head, 'missing'), new Map());
  } finally {
    reader.close();
  }
});

test('SHA-256 repositories: 32-byte ids in trees', async () => {
  const r = new TempRepo('strata-objects-');
  repos.push(r);
  r.remove('.git');
  r.git('init', '-q', '-b', 'main', '--object-format=sha256');
  r.write('f', 'x');
  r.write('d/g', 'y');
  const head = r.commit('one');
  assert.equal(head.length, 64);
  const reader = new ObjectReader(r.dir, head);
  try {
    const ids = await reader.blobIds(head, '');
    assert.deepEqual([...ids.keys()].sort(), ['d/g', 'f']);
    assert.equal(ids.get('f'), r.git('rev-parse', `${head}:f`).trim());
  } finally {
    reader.close();
  }
  assert.deepEqual(parseTree(Buffer.alloc(0), 32), new Map());
});

test('a git that cannot answer fails the requests with an error instead of leaving them waiting', async () => {
  const reader = new ObjectReader('/', '0'.repeat(40));
  await assert.rejects(reader.read('HEAD'), StrataError);
  await assert.rejects(reader.read('HEAD'), StrataError);
});
