/**
 * The result cache (docs/stacks.md, "The result cache"): a warm run takes unchanged pure stacks from the cache, and
 * no change to what a stack was built from (an imported file, an import's resolution, atmos.yaml, an ATMOS_* override,
 * an environment variable a template reads) is ever answered from a stale entry.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { describeStacks } from '../../src/services/describe.ts';
import { ResultCache, resultCounters } from '../../src/stacks/result-cache.ts';
import { runCli } from '../helpers/cli.ts';
import { ATMOS_YAML, ATMOS_YAML_TEMPLATES, type Repo, withCacheHome, withRepo } from './fixtures.ts';

const APP = 'components:\n  terraform:\n    app:\n      metadata: {inherits: [app/defaults]}\n';

const FILES = {
  'stacks/catalog/app.yaml':
    'components:\n  terraform:\n    app/defaults:\n      metadata: {type: abstract, component: app}\n      vars: {size: small, tags: {team: a}}\n',
  'stacks/mixins/region.yml': 'vars: {region: eu}\n',
  'stacks/deploy/prod.yaml':
    'import: [catalog/app, mixins/region]\nvars: {stage: prod}\ncomponents:\n  terraform:\n    app:\n      metadata: {inherits: [app/defaults]}\n      vars: {replicas: 3}\n',
  'stacks/deploy/dev.yaml':
    'import: [catalog/app]\nvars: {stage: dev}\ncomponents:\n  terraform:\n    app:\n      metadata: {inherits: [app/defaults]}\n',
};

/** The description with the caches on, how many stacks came from the result cache, and the same without caches. */
async function describeBoth(repo: Repo, env: NodeJS.ProcessEnv = {}) {
  const before = resultCounters.fromCache;
  const cached = JSON.stringify(await describeStacks(await repo.engine({ env })));
  const fromCache = resultCounters.fromCache - before;
  const fresh = JSON.stringify(await describeStacks(await repo.engine({ env, cache: false })));
  return { cached, fresh, fromCache };
}

test('the result cache: a warm run takes every pure stack from it, with the same result', async () => {
  await withCacheHome(async (home) => {
    await withRepo(FILES, async (repo) => {
      const cold = await describeBoth(repo);
      assert.equal(cold.fromCache, 0);
      assert.equal(cold.cached, cold.fresh);
      assert.equal(readdirSync(join(home, 'strata', 'results')).length, 1);
      const warm = await describeBoth(repo);
      assert.equal(warm.fromCache, 2);
      assert.equal(warm.cached, cold.fresh);
      repo.write('stacks/deploy/dev.yaml', FILES['stacks/deploy/dev.yaml'].replace('stage: dev', 'stage: qa'));
      const oneChanged = await describeBoth(repo);
      assert.equal(oneChanged.fromCache, 1);
      assert.equal(oneChanged.cached, oneChanged.fresh);
      assert.match(oneChanged.cached, /"qa"/);
      // The rebuilt stack was appended to the pack: the next run reads both back.
      const after = await describeBoth(repo);
      assert.equal(after.fromCache, 2);
      assert.equal(after.cached, oneChanged.fresh);
    });
  });
});

test('the result cache: a run that rebuilt under a tenth of the stacks leaves the pack as it was', async () => {
  await withCacheHome(async (home) => {
    const files: Record<string, string> = { ...FILES };
    for (let i = 0; i < 18; i++)
      files[`stacks/deploy/s${i}.yaml`] = `import: [catalog/app]\nvars: {stage: s${i}}\n${APP}`;
    await withRepo(files, async (repo) => {
      await describeBoth(repo);
      const pack = join(home, 'strata', 'results', readdirSync(join(home, 'strata', 'results'))[0]);
      const written = readFileSync(pack, 'utf8');
      repo.write('stacks/deploy/s0.yaml', files['stacks/deploy/s0.yaml'].replace('stage: s0', 'stage: t0'));
      const one = await describeBoth(repo);
      assert.equal(one.fromCache, 19);
      assert.equal(one.cached, one.fresh);
      assert.equal(readFileSync(pack, 'utf8'), written, '1 of 20 rebuilt: the pack is not rewritten');
      const again = await describeBoth(repo);
      assert.equal(again.fromCache, 19, 'the edited stack is built again');
      assert.equal(again.cached, one.fresh);
      for (const i of [1, 2]) {
        repo.write(
          `stacks/deploy/s${i}.yaml`,
          files[`stacks/deploy/s${i}.yaml`].replace(`stage: s${i}`, `stage: t${i}`),
        );
      }
      const three = await describeBoth(repo);
      assert.equal(three.fromCache, 17);
      assert.notEqual(readFileSync(pack, 'utf8'), written, '3 of 20 rebuilt: the pack is rewritten');
      const after = await describeBoth(repo);
      assert.equal(after.fromCache, 20);
      assert.equal(after.cached, three.fresh);
    });
  });
});

test('the result cache is never stale: imported files, import resolution, atmos.yaml and ATMOS_* overrides', async () => {
  await withCacheHome(async () => {
    await withRepo(FILES, async (repo) => {
      await describeBoth(repo);
      const check = async (what: string, env: NodeJS.ProcessEnv = {}) => {
        const run = await describeBoth(repo, env);
        assert.equal(run.cached, run.fresh, what);
        return run;
      };
      // A catalog file imported by both stacks.
      repo.write('stacks/catalog/app.yaml', FILES['stacks/catalog/app.yaml'].replace('size: small', 'size: large'));
      assert.match((await check('catalog changed')).cached, /"large"/);
      // An import written without extension now finds a file that comes first (mixins/region.yaml before .yml).
      repo.write('stacks/mixins/region.yaml', 'vars: {region: us}\n');
      assert.match((await check('a preferred extension appeared')).cached, /"us"/);
      // The imported file disappears: the error, not the old result.
      rmSync(join(repo.dir, 'stacks/mixins/region.yaml'));
      renameSync(join(repo.dir, 'stacks/mixins/region.yml'), join(repo.dir, 'stacks/mixins/gone.yml'));
      await assert.rejects(repo.engine().then(describeStacks), /import 'mixins\/region'.*not found/);
      repo.write('stacks/mixins/region.yml', 'vars: {region: ap}\n');
      assert.match((await check('the import is back')).cached, /"ap"/);
      // atmos.yaml: stack names from a pattern, then merge behaviour.
      repo.write('atmos.yaml', ATMOS_YAML.replace('stacks:\n', 'stacks:\n  name_pattern: "{stage}"\n'));
      const named = await check('name_pattern added');
      assert.match(named.cached, /"prod":/);
      repo.write('atmos.yaml', ATMOS_YAML);
      assert.match((await check('name_pattern removed')).cached, /"deploy\/prod":/);
      // An ATMOS_* override changes the configuration without any file changing.
      const overridden = await check('ATMOS_STACKS_NAME_PATTERN', { ATMOS_STACKS_NAME_PATTERN: '{stage}' });
      assert.match(overridden.cached, /"dev":/);
      assert.match((await check('override gone')).cached, /"deploy\/dev":/);
    });
  });
});

test('the result cache: a stack whose files hold a template or a function is built on every run', async () => {
  await withCacheHome(async () => {
    const files = {
      ...FILES,
      'stacks/deploy/dev.yaml': `${FILES['stacks/deploy/dev.yaml']}      vars: {owner: '{{ env "OWNER" }}', home: !env HOME_DIR}\n`,
    };
    await withRepo(
      files,
      async (repo) => {
        // Templates and !env read the process environment.
        const withEnv = async (owner: string, home: string) => {
          Object.assign(process.env, { OWNER: owner, HOME_DIR: home });
          try {
            return await describeBoth(repo);
          } finally {
            delete process.env.OWNER;
            delete process.env.HOME_DIR;
          }
        };
        await withEnv('ann', '/a');
        const changed = await withEnv('bob', '/b');
        assert.equal(changed.fromCache, 1, 'only deploy/prod, which holds neither');
        assert.equal(changed.cached, changed.fresh);
        assert.match(changed.cached, /"bob"/);
        assert.match(changed.cached, /"\/b"/);
      },
      { atmos: ATMOS_YAML_TEMPLATES },
    );
  });
});

test('damaged cache files (cut short, zero-filled) read as misses: the result is the same, nothing throws', async () => {
  await withCacheHome(async (home) => {
    await withRepo(FILES, async (repo) => {
      const cold = await describeBoth(repo);
      const packs = ['results', 'manifests'].map((folder) => {
        const dir = join(home, 'strata', folder);
        return join(dir, readdirSync(dir)[0]);
      });
      const intact = packs.map((pack) => readFileSync(pack));
      for (const fraction of [0.1, 0.35, 0.5, 0.65, 0.8, 0.95, 0.99]) {
        for (const zeroed of [false, true]) {
          packs.forEach((pack, i) => {
            const cut = Math.floor(intact[i].length * fraction);
            const damaged = Buffer.from(intact[i]);
            if (zeroed) damaged.fill(0, cut);
            writeFileSync(pack, zeroed ? damaged : damaged.subarray(0, cut));
          });
          const damaged = await describeBoth(repo);
          assert.equal(damaged.cached, cold.fresh, `cut at ${fraction}${zeroed ? ', zero-filled' : ''}`);
        }
      }
    });
  });
});

test('the result cache: the CLI counts it in --verbose, and --no-cache neither reads nor writes it', async () => {
  await withCacheHome(async (home) => {
    await withRepo(FILES, async (repo) => {
      const env = { XDG_CACHE_HOME: home };
      const args = ['describe', 'stacks', '--format', 'json', '--verbose'];
      const off = runCli([...args, '--no-cache'], { cwd: repo.dir, env });
      assert.equal(off.code, 0, off.stderr);
      assert.match(off.stderr, /stacks from the result cache 0/);
      assert.deepEqual(readdirSync(home), []);
      const first = runCli(args, { cwd: repo.dir, env });
      const second = runCli(args, { cwd: repo.dir, env });
      assert.match(first.stderr, /stacks from the result cache 0/);
      assert.match(second.stderr, /stacks from the result cache 2/);
      assert.equal(second.stdout, off.stdout);
      assert.equal(first.stdout, off.stdout);
    });
  });
});

test('the result cache keeps no result JSON cannot carry exactly, and keeps its folder under its size', async () => {
  await withCacheHome(async (home) => {
    const files = {
      ...FILES,
      'stacks/deploy/dev.yaml': FILES['stacks/deploy/dev.yaml'].replace('stage: dev', 'x: .nan'),
    };
    await withRepo(files, async (repo) => {
      await describeBoth(repo);
      const warm = await describeBoth(repo);
      assert.equal(warm.fromCache, 1, 'deploy/prod only: .nan is no JSON');
      assert.equal(warm.cached, warm.fresh);
    });
    const dir = join(home, 'small');
    const entry = { files: [], imports: [], fallbackName: 'x', candidates: [] };
    const now = { text: () => '', stamp: () => undefined, resolve: () => undefined };
    const write = (base: string, maxBytes: number) => {
      const cache = new ResultCache(base, {}, { dir, maxBytes });
      cache.set(`${base}/m.yaml`, entry, [], now);
      cache.flush();
    };
    write('/a', 1e6);
    const size = statSync(join(dir, readdirSync(dir)[0])).size;
    for (const base of ['/b', '/c']) write(base, size * 1.5);
    assert.equal(readdirSync(dir).length, 1, 'only the newest pack fits');
  });
});

/** A component as the engine builds it, with the given section. */
function candidate(name: string, section: Record<string, unknown>, stack: string) {
  const raw = { kind: 'terraform', name, section, folder: name, inheritance: [], baseComponent: name };
  return { raw: { ...raw, abstract: false, enabled: true, locked: false }, stack };
}

/** Section values drawn from a pool: one object shared by several sections, fresh copies, values alike but one. */
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown); // no -0
const sectionValues = fc.array(json, { minLength: 1, maxLength: 5 }).chain((pool) =>
  fc.array(
    fc.oneof(
      fc.constantFrom(...pool),
      fc.constantFrom(...pool).map((v) => structuredClone(v)),
      fc.constantFrom(...pool).map((v) => ({ v, n: 1 })),
    ),
    { minLength: 0, maxLength: 4 },
  ),
);

test('the result cache reads back every section as kept, written in full or appended to a pack', async () => {
  const now = { text: () => '', stamp: () => undefined, resolve: () => undefined };
  const manifests = fc.array(fc.array(sectionValues, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 });
  await withCacheHome(async (home) => {
    let run = 0;
    fc.assert(
      fc.property(manifests, manifests, (first, second) => {
        const dir = join(home, `p${run++}`);
        const entries = (list: unknown[][][], prefix: string) =>
          list.map((components, m) => ({
            path: `/s/${prefix}${m}.yaml`,
            entry: {
              files: [],
              imports: [],
              fallbackName: `${prefix}${m}`,
              candidates: components.map((values, c) =>
                candidate(`c${c}`, Object.fromEntries(values.map((v, k) => [`k${k}`, v])), `${prefix}${m}`),
              ),
            },
          }));
        const written = entries(first, 'a');
        const cache = new ResultCache('/s', {}, { dir });
        for (const { path, entry } of written) cache.set(path, entry, [], now);
        cache.flush();
        // A second run takes the first run's entries and builds more: they are appended to the pack.
        const added = entries(second, 'b');
        const next = new ResultCache('/s', {}, { dir });
        for (const { path } of written) assert.ok(next.get(path, now));
        for (const { path, entry } of added) next.set(path, entry, [], now);
        next.flush();
        const reader = new ResultCache('/s', {}, { dir });
        for (const { path, entry } of [...written, ...added]) {
          const read = reader.get(path, now);
          assert.ok(read, path);
          assert.equal(
            JSON.stringify(read.candidates.map((c) => [c.stack, c.raw.section])),
            JSON.stringify(entry.candidates.map((c) => [c.stack, c.raw.section])),
          );
        }
      }),
      { numRuns: 100 },
    );
  });
});
