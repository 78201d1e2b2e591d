import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { describeStacks } from '../../src/services/describe.ts';
import { ParseCache, parseCounters, sha256 } from '../../src/stacks/parse-cache.ts';
import { SortedPack } from '../../src/stacks/sorted-pack.ts';
import { runCli } from '../helpers/cli.ts';
import { withCacheHome, withRepo } from './fixtures.ts';

const FILES = {
  'stacks/catalog/base.yaml': [
    'components:',
    '  terraform:',
    '    base:',
    '      metadata: {type: abstract}',
    '      vars:',
    '        tags: !append [base]',
    '        gone: 1',
    '        region: !env REGION eu',
  ].join('\n'),
  'stacks/deploy/prod.yaml': [
    'import: [catalog/base]',
    'vars: {stage: prod}',
    'components:',
    '  terraform:',
    '    app:',
    '      metadata: {inherits: [base]}',
    '      vars:',
    '        tags: !append [app]',
    '        gone: !unset',
    '        out: !terraform.output vpc id',
  ].join('\n'),
  'stacks/deploy/dev.yaml':
    'import: [catalog/base]\nvars: {stage: dev}\ncomponents:\n  terraform:\n    app:\n      metadata: {inherits: [base]}\n      vars: {n: 1}\n',
};

const LIMITS = { maxYamlValues: 1000, maxYamlDepth: 100 };

/** A pack for `base` in `dir` holding `file: 0` ... `file: count-1`, and a way to open it again. */
function filledPack(dir: string, base: string, count: number): () => ParseCache {
  const open = () => new ParseCache(base, LIMITS, { dir });
  const all = open();
  for (let i = 0; i < count; i++) all.set(`file: ${i}\n`, { file: i });
  all.flush();
  return open;
}

/** Describes the repository with a fresh engine; returns the description and how many files it parsed or took. */
async function describe(
  repo: { engine(o?: object): Promise<import('../../src/stacks/engine.ts').StackEngine> },
  options = {},
) {
  const parsed = parseCounters.parsed;
  const fromCache = parseCounters.fromCache;
  const engine = await repo.engine({ processFunctions: false, ...options });
  const result = JSON.stringify(await describeStacks(engine));
  return { result, parsed: parseCounters.parsed - parsed, fromCache: parseCounters.fromCache - fromCache };
}

test('the parse cache: a warm run parses nothing, one changed file is the only one parsed again, results equal', async () => {
  await withCacheHome(async (home) => {
    await withRepo(FILES, async (repo) => {
      const cold = await describe(repo);
      assert.deepEqual([cold.parsed, cold.fromCache], [3, 0]);
      const packs = readdirSync(join(home, 'strata', 'manifests'));
      assert.equal(packs.length, 1);
      assert.match(packs[0], /^[0-9a-f]{24}\.pack$/);
      const warm = await describe(repo);
      assert.deepEqual([warm.parsed, warm.fromCache], [0, 3]);
      assert.equal(warm.result, cold.result);
      repo.write('stacks/deploy/dev.yaml', FILES['stacks/deploy/dev.yaml'].replace('n: 1', 'n: 2'));
      const changed = await describe(repo);
      assert.deepEqual([changed.parsed, changed.fromCache], [1, 2]);
      assert.equal(changed.result, cold.result.replace('"n":1', '"n":2'));
    });
  });
});

test('the parse cache keeps YAML functions, !append and !unset, and a function names the file it is read from', async () => {
  await withCacheHome(async () => {
    await withRepo(FILES, async (repo) => {
      const engineResult = async () => {
        const engine = await repo.engine({ processFunctions: false });
        return (await engine.instances({ stack: 'deploy/prod', component: 'app' }))[0].description.vars as Record<
          string,
          unknown
        >;
      };
      const cold = await engineResult();
      // Same text under another name: one cache entry, and the function's file is where it is read now.
      repo.write('stacks/catalog/copy.yaml', FILES['stacks/catalog/base.yaml'].replace('base:', 'copy:'));
      const warm = await engineResult();
      assert.deepEqual(JSON.parse(JSON.stringify(warm)), JSON.parse(JSON.stringify(cold)));
      assert.deepEqual(JSON.parse(JSON.stringify(warm)).tags, ['base', 'app']);
      assert.equal('gone' in warm, false);
      const region = warm.region as { file: string; tag: string };
      assert.equal(region.tag, 'env');
      assert.match(region.file, /stacks\/catalog\/base\.yaml$/);
    });
  });
});

test('a file with a YAML error is never cached: the error keeps its line and column on every run', async () => {
  await withCacheHome(async () => {
    await withRepo({ ...FILES, 'stacks/deploy/dev.yaml': 'vars:\n  a: 1\n b: [\n' }, async (repo) => {
      for (let run = 0; run < 2; run++) {
        const before = parseCounters.parsed;
        await assert.rejects(
          repo.engine().then((e) => e.instances()),
          (error: Error & { location?: { line?: number } }) => {
            assert.match(error.message, /invalid YAML in .*dev\.yaml/);
            assert.equal(error.location?.line, 3);
            return true;
          },
        );
        assert.ok(parseCounters.parsed > before, 'the broken file is parsed again');
      }
    });
  });
});

test('STRATA_NO_CACHE=1, cache: false and --no-cache neither read nor write the cache; --verbose counts', async () => {
  await withCacheHome(async (home) => {
    await withRepo(FILES, async (repo) => {
      const off = await describe(repo, { cache: false });
      assert.deepEqual([off.parsed, off.fromCache], [3, 0]);
      const viaEnv = await describe(repo, { env: { STRATA_NO_CACHE: '1' } });
      assert.deepEqual([viaEnv.parsed, viaEnv.fromCache], [3, 0]);
      assert.equal(existsSync(join(home, 'strata', 'manifests')), false);
      const env = { XDG_CACHE_HOME: home };
      const args = ['describe', 'stacks', '--format', 'json', '--process-functions=false', '--verbose'];
      const noCache = runCli([...args, '--no-cache'], { cwd: repo.dir, env });
      assert.equal(noCache.code, 0, noCache.stderr);
      assert.match(noCache.stderr, /manifests parsed 3, from the cache 0/);
      assert.equal(existsSync(join(home, 'strata', 'manifests')), false);
      const first = runCli(args, { cwd: repo.dir, env });
      const second = runCli(args, { cwd: repo.dir, env });
      assert.match(first.stderr, /manifests parsed 3, from the cache 0/);
      assert.match(second.stderr, /manifests parsed 0, from the cache 3/);
      assert.equal(second.stdout, noCache.stdout);
    });
  });
});

test('the cache ignores a pack of another version or other parser limits, and keeps its folder under its size', async () => {
  await withCacheHome(async (home) => {
    const dir = join(home, 'packs');
    const text = 'a: 1\n';
    const writer = new ParseCache('/repo/one', LIMITS, { dir });
    writer.set(text, { a: 1 });
    writer.flush();
    assert.deepEqual(new ParseCache('/repo/one', LIMITS, { dir }).get(text, '/repo/one/x.yaml'), { a: 1 });
    assert.equal(new ParseCache('/repo/one', { ...LIMITS, maxYamlDepth: 99 }, { dir }).get(text, 'x'), undefined);
    const pack = join(dir, readdirSync(dir)[0]);
    const [header, ...rest] = readFileSync(pack, 'utf8').split('\n');
    assert.equal(JSON.parse(header.split('\t')[0]).strata, JSON.parse(readFileSync('package.json', 'utf8')).version);
    assert.ok(rest.length > 0);
    // Three packs of ~1 KB each with a 2.5 KB bound: the least recently written one goes.
    const big = { text: 'x'.repeat(1000) };
    for (const [index, base] of ['/repo/a', '/repo/b', '/repo/c'].entries()) {
      const cache = new ParseCache(base, LIMITS, { dir, maxBytes: 2500 });
      cache.set(`${base}\n`, big);
      cache.flush();
      const old = new Date(Date.now() - (10 - index) * 60_000);
      for (const name of readdirSync(dir))
        if (statSync(join(dir, name)).size > 900 && index < 2) utimesSync(join(dir, name), old, old);
    }
    const sizes = readdirSync(dir).map((name) => statSync(join(dir, name)).size);
    assert.ok(sizes.reduce((a, b) => a + b, 0) <= 2500, `${sizes}`);
    assert.ok(new ParseCache('/repo/c', LIMITS, { dir }).get('/repo/c\n', 'x'), 'the newest pack stays');
  });
});

test('one process writing many packs keeps the folder under its size after every write', async () => {
  await withCacheHome(async (home) => {
    const dir = join(home, 'packs');
    const big = { text: 'x'.repeat(1000) };
    const total = () => readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    for (let index = 0; index < 12; index++) {
      const base = `/repo/many-${index}`;
      const cache = new ParseCache(base, LIMITS, { dir, maxBytes: 3500 });
      cache.set(`${base}\n`, big);
      cache.flush();
      assert.ok(total() <= 3500, `after write ${index}: ${total()} bytes`);
      assert.ok(new ParseCache(base, LIMITS, { dir }).get(`${base}\n`, 'x'), 'the newest pack stays');
    }
    assert.ok(readdirSync(dir).length < 12, 'older packs went');
  });
});

test('a pack finds every entry it holds and none it does not, also when cut short or read in pages (property, 100 runs)', async () => {
  await withCacheHome(async (home) => {
    const dir = join(home, 'packs');
    let run = 0;
    fc.assert(
      fc.property(
        // Some texts are long enough that their lines span the 16 KB pages a pack file is read in.
        fc.uniqueArray(
          fc.oneof(
            { weight: 9, arbitrary: fc.string({ maxLength: 30 }) },
            { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 8 }).map((s) => s.repeat(4000)) },
          ),
          { minLength: 1, maxLength: 60 },
        ),
        fc.array(fc.string({ maxLength: 30 }), { maxLength: 10 }),
        fc.nat(),
        (stored, asked, cut) => {
          const base = `/repo/p${run++}`;
          const writer = new ParseCache(base, LIMITS, { dir });
          for (const [i, text] of stored.entries()) writer.set(text, { text, i });
          writer.flush();
          const reader = new ParseCache(base, LIMITS, { dir });
          for (const [i, text] of stored.entries()) assert.deepEqual(reader.get(text, 'x'), { text, i });
          for (const text of asked) if (!stored.includes(text)) assert.equal(reader.get(text, 'x'), undefined);
          // A pack cut anywhere (a crash while another program wrote it) answers each text right or not at all.
          const file = join(dir, `${sha256(base).slice(0, 24)}.pack`);
          const bytes = readFileSync(file);
          writeFileSync(file, bytes.subarray(0, cut % bytes.length));
          const damaged = new ParseCache(base, LIMITS, { dir });
          for (const [i, text] of stored.entries()) {
            const found = damaged.get(text, 'x');
            if (found !== undefined) assert.deepEqual(found, { text, i });
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

test('a pack file read in pages, then whole, finds lines that end or start at any byte around a page boundary', async () => {
  await withCacheHome(async (home) => {
    const file = join(home, 'paged.pack');
    const page = 16 * 1024;
    for (let shift = -3; shift <= 3; shift++) {
      const header = 'h\t7\n';
      // The first line's newline falls at the page boundary plus `shift`.
      const first = `aa\t1\t${'x'.repeat(page + shift - header.length - 'aa\t1\t'.length)}`;
      const lines = [first, 'bb\t1\tsecond', `cc\t1\t${'y'.repeat(page)}`, 'dd\t2\tlast'];
      writeFileSync(file, `${header}${lines.join('\n')}\n`);
      const pack = SortedPack.read(file, 'h');
      assert.equal(pack.get('aa')?.length, first.length - 'aa\t1\t'.length, `shift ${shift}`);
      assert.equal(pack.get('bb'), 'second', `shift ${shift}`);
      assert.equal(pack.get('cc'), 'y'.repeat(page), `shift ${shift}`);
      assert.equal(pack.get('dd'), 'last', `shift ${shift}`);
      assert.equal(pack.get('ab'), undefined);
      // Past a few hundred look-ups the pack is read whole: the same answers.
      for (let i = 0; i < 300; i++) assert.equal(pack.get(`zz${i}`), undefined);
      assert.equal(pack.get('cc'), 'y'.repeat(page), `shift ${shift}, read whole`);
      assert.equal(pack.get('aa')?.length, first.length - 'aa\t1\t'.length, `shift ${shift}, read whole`);
      const { generation, lines: read } = pack.entries();
      assert.deepEqual([generation, read.map((l) => l.hash)], [7, ['aa', 'bb', 'cc', 'dd']]);
      pack.close();
      assert.equal(pack.get('bb'), 'second', 'read again after close');
      pack.close();
    }
  });
});

test('a run that parses something new keeps the entries other runs used; one unused in 20 writes goes', async () => {
  await withCacheHome(async (home) => {
    const open = filledPack(join(home, 'packs'), '/repo/k', 50);
    // A run that uses one entry and parses one new text (describe affected) leaves the other 49 in the pack.
    const partial = open();
    assert.deepEqual(partial.get('file: 0\n', 'x'), { file: 0 });
    partial.set('file: new\n', { file: 'new' });
    partial.flush();
    const after = open();
    for (let i = 0; i < 50; i++) assert.deepEqual(after.get(`file: ${i}\n`, 'x'), { file: i });
    // Twenty more writes that use entry 1 only: entry 2 (unused since) goes, entry 1 stays.
    for (let run = 0; run < 20; run++) {
      const cache = open();
      assert.ok(cache.get('file: 1\n', 'x'));
      cache.set(`edit: ${run}\n`, { run });
      cache.flush();
    }
    assert.deepEqual(open().get('file: 1\n', 'x'), { file: 1 });
    assert.equal(open().get('file: 2\n', 'x'), undefined);
    assert.deepEqual(open().get('edit: 19\n', 'x'), { run: 19 });
  });
});

test('a run that parsed under a tenth of what it read leaves the pack as it is (the few are parsed again)', async () => {
  await withCacheHome(async (home) => {
    const dir = join(home, 'packs');
    const open = filledPack(dir, '/repo/t', 30);
    const file = join(dir, readdirSync(dir)[0]);
    const before = readFileSync(file);
    const mostlyHits = open();
    for (let i = 0; i < 20; i++) assert.ok(mostlyHits.get(`file: ${i}\n`, 'x'));
    mostlyHits.set('edited: 1\n', { edited: 1 });
    mostlyHits.flush();
    assert.ok(readFileSync(file).equals(before), '1 new of 21 read: not written');
    assert.equal(open().get('edited: 1\n', 'x'), undefined);
    const tenth = open();
    for (let i = 0; i < 18; i++) assert.ok(tenth.get(`file: ${i}\n`, 'x'));
    tenth.set('edited: 1\n', { edited: 1 });
    tenth.set('edited: 2\n', { edited: 2 });
    tenth.flush();
    assert.deepEqual(open().get('edited: 2\n', 'x'), { edited: 2 }, '2 new of 20 read: written');
    assert.deepEqual(open().get('file: 29\n', 'x'), { file: 29 }, 'what the run did not read is kept');
  });
});
