/**
 * The result cache's file stamps (docs/stacks.md, "The result cache"): a file whose size, modification and change
 * times and inode are those recorded is not read again; any other file is read and hashed; a file changed within
 * RACY_MS of being read gets no stamp and is read again. The results always equal a run without caches.
 *
 * Tests that need stamps to be trusted move the clock (Date only) an hour ahead, so the files they just wrote are
 * old enough; an edit then waits for the file's change time to move on (a real edit in the same clock tick as a
 * stat is the racy case, covered by the racy rule with the real clock).
 */
import assert from 'node:assert/strict';
import { type BigIntStats, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { describeStacks } from '../../src/services/describe.ts';
import { fileStamp, RACY_MS } from '../../src/stacks/file-stamp.ts';
import { resultCounters } from '../../src/stacks/result-cache.ts';
import { type Repo, withCacheHome, withRepo } from './fixtures.ts';

const FILES = {
  'stacks/catalog/app.yaml':
    'components:\n  terraform:\n    app/defaults:\n      metadata: {type: abstract, component: app}\n      vars: {size: small}\n',
  'stacks/mixins/region.yml': 'vars: {region: eu}\n',
  'stacks/deploy/prod.yaml':
    'import: [catalog/app, mixins/region]\nvars: {stage: prod}\ncomponents:\n  terraform:\n    app:\n      metadata: {inherits: [app/defaults]}\n',
  'stacks/deploy/dev.yaml':
    'import: [catalog/app]\nvars: {stage: dev}\ncomponents:\n  terraform:\n    app:\n      metadata: {inherits: [app/defaults]}\n',
};

/** Stamps are trusted for files written before now: the clock reads an hour ahead. */
function clockAhead(t: TestContext): void {
  setClock(t, Date.now() + 3_600_000);
}

/** The clock (Date only) stopped at `now`. */
function setClock(t: TestContext, now: number): void {
  t.mock.timers.reset();
  t.mock.timers.enable({ apis: ['Date'], now });
}

/** One run with the caches on: its description (or error), the stacks from the cache, the stack files it read. */
async function run(repo: Repo) {
  const before = resultCounters.fromCache;
  const engine = await repo.engine();
  const reads: string[] = [];
  const source = engine.reader.source.bind(engine.reader);
  engine.reader.source = (path: string) => {
    reads.push(path.slice(repo.dir.length + '/stacks/'.length));
    return source(path);
  };
  const described = await describeStacks(engine).then(JSON.stringify, (error: Error) => `error: ${error.message}`);
  return { described, fromCache: resultCounters.fromCache - before, reads: [...new Set(reads)].sort() };
}

/** The description with no cache at all. */
async function fresh(repo: Repo): Promise<string> {
  return await describeStacks(await repo.engine({ cache: false })).then(
    JSON.stringify,
    (error: Error) => `error: ${error.message}`,
  );
}

const bigStat = (path: string): BigIntStats => statSync(path, { bigint: true });

/** Applies `change` to a file until its change time differs from `before` (the next clock tick; bounded). */
async function changeAfter(path: string, before: bigint, change: () => void): Promise<void> {
  for (let i = 0; i < 200; i++) {
    change();
    const after = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (after === undefined || after.ctimeNs !== before) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.fail(`the change time of ${path} did not move`);
}

test('file stamps: a warm run reads none of the unchanged files, only the stack edited and what it imports', async (t) => {
  clockAhead(t);
  await withCacheHome(async () => {
    await withRepo(FILES, async (repo) => {
      const cold = await run(repo);
      assert.equal(cold.fromCache, 0);
      const warm = await run(repo);
      assert.equal(warm.fromCache, 2);
      assert.deepEqual(warm.reads, [], 'every file was recognised by its stamp');
      assert.equal(warm.described, await fresh(repo));
      const dev = join(repo.dir, 'stacks/deploy/dev.yaml');
      await changeAfter(dev, bigStat(dev).ctimeNs, () =>
        writeFileSync(dev, FILES['stacks/deploy/dev.yaml'].replace('stage: dev', 'stage: qa')),
      );
      const edited = await run(repo);
      assert.equal(edited.fromCache, 1);
      assert.deepEqual(edited.reads, ['catalog/app.yaml', 'deploy/dev.yaml']);
      assert.match(edited.described, /"qa"/);
      assert.equal(edited.described, await fresh(repo));
    });
  });
});

test('file stamps: same size, new content and the old modification time still count as a change (ctime)', async (t) => {
  clockAhead(t);
  await withCacheHome(async () => {
    await withRepo(FILES, async (repo) => {
      const catalog = join(repo.dir, 'stacks/catalog/app.yaml');
      const old = new Date('2020-01-01T00:00:00Z');
      utimesSync(catalog, old, old);
      const recorded = bigStat(catalog);
      assert.match((await run(repo)).described, /"small"/);
      assert.equal((await run(repo)).fromCache, 2);
      await changeAfter(catalog, recorded.ctimeNs, () => {
        writeFileSync(catalog, FILES['stacks/catalog/app.yaml'].replace('size: small', 'size: large'));
        utimesSync(catalog, old, old);
      });
      const now = bigStat(catalog);
      assert.deepEqual([now.size, now.mtimeNs, now.ino], [recorded.size, recorded.mtimeNs, recorded.ino]);
      const changed = await run(repo);
      assert.equal(changed.fromCache, 0, 'both stacks import the catalog');
      assert.match(changed.described, /"large"/);
      assert.equal(changed.described, await fresh(repo));
    });
  });
});

test('file stamps: a file touched with the same content is read and hashed again, and is still a hit', async (t) => {
  clockAhead(t);
  await withCacheHome(async () => {
    await withRepo(FILES, async (repo) => {
      const region = join(repo.dir, 'stacks/mixins/region.yml');
      const cold = await run(repo);
      await changeAfter(region, bigStat(region).ctimeNs, () => utimesSync(region, new Date(), new Date()));
      const touched = await run(repo);
      assert.deepEqual(touched.reads, ['mixins/region.yml'], 'its stamp changed: read and hashed');
      assert.equal(touched.fromCache, 2, 'same hash: still a hit');
      assert.equal(touched.described, cold.described);
    });
  });
});

test('file stamps: a file changed just before it was read gets no stamp, is read again, and stamped at the next full write', async (t) => {
  await withCacheHome(async () => {
    await withRepo(FILES, async (repo) => {
      // The clock half a second after the files were written (however slow the machine): within RACY_MS.
      const written = Object.keys(FILES).map((file) => Number(bigStat(join(repo.dir, file)).ctimeMs));
      setClock(t, Math.max(...written) + 500);
      await run(repo);
      const warm = await run(repo);
      assert.equal(warm.fromCache, 2);
      assert.deepEqual(
        warm.reads,
        Object.keys(FILES)
          .map((f) => f.slice('stacks/'.length))
          .sort(),
      );
      // Later (the clock an hour on), the pack still holds no stamps for them: they are read again.
      clockAhead(t);
      const later = await run(repo);
      assert.equal(later.fromCache, 2);
      assert.equal(later.reads.length, 4);
      // A run that writes the pack in full (a stack rebuilt with over a thousand new section values) records the
      // stamps taken as it read them again: the run after reads nothing.
      const many = Array.from({ length: 600 }, (_, i) => `    c${i}: {vars: {i: ${i}}, settings: {i: ${i}}}\n`).join(
        '',
      );
      repo.write('stacks/deploy/dev.yaml', `${FILES['stacks/deploy/dev.yaml']}${many}`);
      assert.equal((await run(repo)).fromCache, 1);
      const after = await run(repo);
      assert.equal(after.fromCache, 2);
      assert.deepEqual(after.reads, []);
      assert.equal(after.described, await fresh(repo));
    });
  });
});

test('file stamps: none for a file changed within RACY_MS before the stat, in the future, or not a regular file', () => {
  const stat = bigStat(import.meta.filename ?? new URL(import.meta.url).pathname);
  const changedMs = Math.max(Number(stat.ctimeMs), Number(stat.mtimeMs));
  assert.equal(RACY_MS, 2000);
  assert.equal(fileStamp(stat, changedMs + RACY_MS - 10), undefined, 'changed 1.99 s before the stat');
  assert.equal(fileStamp(stat, changedMs - 1000), undefined, 'changed after the stat (clock went back)');
  assert.equal(fileStamp(stat, changedMs + RACY_MS + 10), `${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.ino}`);
  assert.equal(fileStamp(bigStat(new URL('.', import.meta.url).pathname), changedMs + 10_000), undefined, 'a folder');
  assert.equal(fileStamp(undefined, changedMs + 10_000), undefined, 'missing');
});

test('file stamps: an older pack format reads as empty, and a damaged file table is a miss, never a crash', async (t) => {
  clockAhead(t);
  await withCacheHome(async (home) => {
    await withRepo(FILES, async (repo) => {
      const cold = await run(repo);
      const dir = join(home, 'strata', 'results');
      const pack = join(dir, readdirSync(dir)[0]);
      const written = readFileSync(pack, 'utf8');
      const lines = written.split('\n');
      assert.match(lines[0], /"format":3/);
      writeFileSync(pack, [lines[0].replace('"format":3', '"format":2'), ...lines.slice(1)].join('\n'));
      const older = await run(repo);
      assert.equal(older.fromCache, 0);
      assert.equal(older.described, cold.described);
      const table = JSON.parse(lines[4]) as unknown[][];
      assert.ok(table.every((file) => file.length === 3 && typeof file[2] === 'string' && file[2] !== ''));
      const [path, hash, stamp] = table[0] as string[];
      const misses = [5, null, 'x', [], [1, 2, 3], [path], [path, hash], [path, hash, stamp, 1], ['x.yaml', hash]];
      const cases: [unknown, boolean][] = [
        ...misses.map((damage): [unknown, boolean] => [damage, false]),
        // A damaged stamp only has the file read again (same hash: a hit); a damaged hash with it is a miss.
        [[path, hash, 'x'], true],
        [[path, 'f00d', 'x'], false],
      ];
      for (const [damage, hit] of cases) {
        const damaged = table.map((file, i) => (i === 0 ? damage : file));
        writeFileSync(pack, [...lines.slice(0, 4), JSON.stringify(damaged), ...lines.slice(5)].join('\n'));
        const read = await run(repo);
        assert.equal(read.described, cold.described, JSON.stringify(damage));
        assert.equal(read.fromCache === 2, hit, JSON.stringify(damage));
      }
    });
  });
});

/** An edit between runs: new content (any size, or the same size), the same with the old mtime, a touch, removal. */
type Edit = {
  file: keyof typeof FILES;
  kind: 'content' | 'same-size' | 'set-back' | 'touch' | 'delete';
  value: string;
};

/** The value each file holds (`key: value`), which edits replace. */
const VALUES: Record<keyof typeof FILES, string> = {
  'stacks/catalog/app.yaml': 'size: small',
  'stacks/mixins/region.yml': 'region: eu',
  'stacks/deploy/prod.yaml': 'stage: prod',
  'stacks/deploy/dev.yaml': 'stage: dev',
};

/** A modification time in whole seconds, which utimes sets back exactly. */
const ROUND_TIME = new Date('2020-01-01T00:00:00Z');

/** Applies an edit; `values` holds each file's current value (undefined: removed). */
async function applyEdit(repo: Repo, values: Map<string, string | undefined>, edit: Edit): Promise<void> {
  const path = join(repo.dir, edit.file);
  const before = statSync(path, { bigint: true, throwIfNoEntry: false });
  const old = values.get(edit.file);
  const [key, initial] = VALUES[edit.file].split(': ');
  // Same size: each letter of the current value moved on by one.
  const shifted = (old ?? initial).replace(/[a-z]/g, (c) =>
    c === 'z' ? 'a' : String.fromCharCode(c.charCodeAt(0) + 1),
  );
  const value = edit.kind === 'same-size' || edit.kind === 'set-back' ? shifted : edit.value;
  await changeAfter(path, before?.ctimeNs ?? -1n, () => {
    if (edit.kind === 'delete') rmSync(path, { force: true });
    else if (edit.kind === 'touch') {
      if (before) utimesSync(path, new Date(), new Date());
    } else {
      writeFileSync(path, FILES[edit.file].replace(VALUES[edit.file], `${key}: ${value}`));
      if (edit.kind === 'set-back') utimesSync(path, ROUND_TIME, ROUND_TIME);
    }
  });
  if (edit.kind === 'delete') values.set(edit.file, undefined);
  else if (edit.kind !== 'touch') values.set(edit.file, value);
}

test('file stamps: any sequence of edits between runs gives what a run without caches gives', async (t) => {
  clockAhead(t);
  const edit = fc.record({
    file: fc.constantFrom(...(Object.keys(FILES) as (keyof typeof FILES)[])),
    kind: fc.constantFrom('content', 'same-size', 'set-back', 'touch', 'delete'),
    value: fc.constantFrom('aa', 'bb', 'cccc', 'd'),
  }) as fc.Arbitrary<Edit>;
  await withCacheHome(async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
        await withRepo(FILES, async (repo) => {
          const values = new Map<string, string | undefined>();
          for (const file of Object.keys(FILES)) utimesSync(join(repo.dir, file), ROUND_TIME, ROUND_TIME);
          await run(repo);
          for (const change of edits) {
            await applyEdit(repo, values, change);
            const cached = await run(repo);
            assert.equal(cached.described, await fresh(repo), JSON.stringify(change));
          }
        });
      }),
      { numRuns: 100 },
    );
  });
});
