/**
 * `describe affected` narrowed to components (src/gitops/affected-narrow.ts) gives exactly the items of the full
 * comparison: generated repositories with random changes, compared against `narrow: false`, and the cases where
 * narrowing applies (inheritance) or must not (globals, overrides, templates).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { type AffectedOptions, describeAffectedReport } from '../../src/gitops/affected.ts';
import { changedComponents, reachingComponents } from '../../src/gitops/affected-narrow.ts';
import { TempRepo } from './helpers.ts';

const repos: TempRepo[] = [];
after(() => {
  for (const r of repos) r.cleanup();
});

type Doc = Record<string, unknown>;
type Files = Record<string, Doc>;

const CONFIG =
  'components:\n  terraform:\n    base_path: components/terraform\nstacks:\n  base_path: stacks\n  included_paths: ["deploy/*"]\n  name_pattern: "{stage}"\n';
const NAMES = ['app', 'db', 'net', 'app/base', 'db/base'];
const STAGES = ['dev', 'qa', 'prod'];

/** The outcome of one run: its items, or its error message (both ways must fail alike). */
async function outcome(dir: string, base: string, narrow: boolean, extra: Partial<AffectedOptions> = {}) {
  try {
    const report = await describeAffectedReport({ cwd: dir, ...(base ? { sha: base } : {}), narrow, ...extra });
    return { items: report.items, narrowed: report.narrowed };
  } catch (error) {
    return { error: (error as Error).message, narrowed: false };
  }
}

function write(r: TempRepo, files: Files): void {
  rmSync(join(r.dir, 'stacks'), { recursive: true, force: true });
  for (const [rel, doc] of Object.entries(files)) r.write(rel, stringify(doc));
}

const scalar = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 20, arbitrary: fc.constantFrom('x', 'y') },
  { weight: 1, arbitrary: fc.constant('{{ .vars.stage }}-{{ .vars.size }}') },
);
const vars = fc.dictionary(fc.constantFrom('size', 'tier', 'zone'), scalar, { maxKeys: 2 });
const component = fc.record(
  {
    metadata: fc.record(
      {
        type: fc.constant('abstract'),
        inherits: fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 2 }),
        component: fc.constantFrom('app', 'db'),
      },
      { requiredKeys: [] },
    ),
    vars,
    settings: fc.record({ team: fc.constantFrom('a', 'b') }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);
const components = fc.dictionary(fc.constantFrom(...NAMES), component, { maxKeys: 3 });
const globals = fc.record({ vars, overrides: fc.record({ vars }, { requiredKeys: [] }) }, { requiredKeys: [] });

/** Two catalogs, a shared mixin and one manifest per stage importing some of them. */
const repository = fc
  .record({
    catalogs: fc.tuple(components, components),
    mixin: globals,
    stages: fc.tuple(
      ...STAGES.map(() => fc.record({ imports: fc.subarray(['catalog/two', 'mixin']), own: components, globals })),
    ),
  })
  .map(({ catalogs, mixin, stages }): Files => {
    // Every stack imports catalog one, which defines every name, so that most bases exist.
    const defined = Object.fromEntries(NAMES.map((name) => [name, { vars: { size: 0 } }]));
    const files: Files = {
      'stacks/catalog/one.yaml': { components: { terraform: { ...defined, ...catalogs[0] } } },
      'stacks/catalog/two.yaml': { import: ['mixin'], components: { terraform: catalogs[1] } },
      'stacks/mixin.yaml': mixin,
    };
    stages.forEach((s, i) => {
      const doc: Doc = { import: ['catalog/one', ...s.imports], ...s.globals, components: { terraform: s.own } };
      doc.vars = { ...(s.globals.vars ?? {}), stage: STAGES[i] };
      files[`stacks/deploy/${STAGES[i]}.yaml`] = doc;
    });
    return files;
  });

/** A change to one file: a component's entry (most often), its globals, or its overrides. */
const change = fc.record({
  file: fc.constantFrom(
    'stacks/catalog/one.yaml',
    'stacks/catalog/two.yaml',
    'stacks/mixin.yaml',
    'stacks/deploy/qa.yaml',
  ),
  what: fc.oneof(
    { weight: 6, arbitrary: fc.record({ name: fc.constantFrom(...NAMES), to: fc.option(component) }) },
    { weight: 1, arbitrary: fc.record({ vars }) },
    { weight: 1, arbitrary: fc.record({ overrides: fc.record({ vars }) }) },
  ),
});

function applyChange(files: Files, c: { file: string; what: Doc }): Files {
  const doc = structuredClone(files[c.file]);
  if ('name' in c.what) {
    const byKind = ((doc.components as Doc | undefined)?.terraform as Doc | undefined) ?? {};
    if (c.what.to === null) delete byKind[c.what.name as string];
    else byKind[c.what.name as string] = c.what.to;
    doc.components = { terraform: byKind };
  } else Object.assign(doc, c.what);
  return { ...files, [c.file]: doc };
}

test('property: narrowed runs report exactly what the full comparison reports', async () => {
  // Mostly, the base side is a plain folder (--repo-path) and the HEAD side the working tree (--include-uncommitted):
  // the same comparison with few git processes per run. One run in eight commits both sides and compares the
  // commits, where the narrowed base side reads the HEAD tree with the base commit's changed files.
  const r = new TempRepo();
  const baseTree = new TempRepo('strata-narrow-base-');
  repos.push(r, baseTree);
  for (const repo of [r, baseTree]) {
    repo.write('atmos.yaml', CONFIG);
    for (const name of ['app', 'db', 'net']) repo.write(`components/terraform/${name}/main.tf`, '# component\n');
  }
  r.commit('components');
  const folders = { repoPath: baseTree.dir, includeUncommitted: true };
  const narrowed: Record<string, number> = { folders: 0, commits: 0 };
  await fc.assert(
    fc.asyncProperty(repository, change, fc.nat(7), async (files, c, mode) => {
      const commits = mode === 0;
      let base = '';
      if (commits) {
        write(r, files);
        base = r.commit('base');
      } else write(baseTree, files);
      write(r, applyChange(files, c));
      if (commits) r.commit('change');
      const options = commits ? {} : folders;
      const full = await outcome(r.dir, base, false, options);
      const fast = await outcome(r.dir, base, true, options);
      assert.deepEqual({ ...fast, narrowed: undefined }, { ...full, narrowed: undefined });
      if (fast.narrowed) narrowed[commits ? 'commits' : 'folders']++;
    }),
    { numRuns: 100 },
  );
  // Most generated changes edit one component entry: the narrowed paths must really have been taken.
  assert.ok(narrowed.folders >= 20 && narrowed.commits >= 2, `narrowed runs: ${JSON.stringify(narrowed)}`);
});

/** A base with a catalog of an abstract base and a derived component, imported by two stacks. */
function fixture(extra: Files = {}): { r: TempRepo; files: Files } {
  const r = new TempRepo();
  repos.push(r);
  r.write('atmos.yaml', CONFIG);
  r.write('components/terraform/app/main.tf', '# app\n');
  const files: Files = {
    'stacks/catalog/one.yaml': {
      components: {
        terraform: {
          'app/base': { metadata: { type: 'abstract', component: 'app' }, vars: { size: 1 } },
          app: { metadata: { inherits: ['app/base'] }, vars: { tier: 'x' } },
          db: { metadata: { component: 'app' }, vars: { size: 2 } },
        },
      },
    },
    'stacks/deploy/dev.yaml': { import: ['catalog/one'], vars: { stage: 'dev' } },
    'stacks/deploy/prod.yaml': { import: ['catalog/one'], vars: { stage: 'prod' } },
    ...extra,
  };
  write(r, files);
  return { r, files };
}

async function both(r: TempRepo, base: string) {
  const full = await outcome(r.dir, base, false);
  const narrowed = await outcome(r.dir, base, true);
  assert.deepEqual(narrowed.items, full.items);
  const brief = (full.items ?? []).map((i) => `${i.component}@${i.stack}:${i.affected_all.join('+')}`).sort();
  return { brief, narrowed: narrowed.narrowed };
}

test('inheritance: a change to an abstract base reaches the components that inherit it, narrowed', async () => {
  const { r, files } = fixture();
  const base = r.commit('base');
  write(
    r,
    applyChange(files, {
      file: 'stacks/catalog/one.yaml',
      what: { name: 'app/base', to: { metadata: { type: 'abstract', component: 'app' }, vars: { size: 3 } } },
    }),
  );
  r.commit('base size');
  assert.deepEqual(await both(r, base), {
    brief: ['app@dev:stack.vars', 'app@prod:stack.vars'],
    narrowed: true,
  });
});

test("globals: a change to a file's vars compares every instance of the stacks importing it", async () => {
  const { r, files } = fixture();
  const base = r.commit('base');
  const catalog = { ...files['stacks/catalog/one.yaml'], vars: { region: 'eu' } };
  write(r, { ...files, 'stacks/catalog/one.yaml': catalog });
  r.commit('region');
  const result = await both(r, base);
  assert.equal(result.narrowed, false);
  assert.equal(result.brief.length, 4);
});

test("overrides: a change to a file's overrides is not narrowed, and reaches the components they apply to", async () => {
  const { r, files } = fixture({
    'stacks/deploy/dev.yaml': { import: ['catalog/one'], vars: { stage: 'dev' }, overrides: { vars: { tier: 'o' } } },
  });
  const base = r.commit('base');
  write(r, {
    ...files,
    'stacks/deploy/dev.yaml': { import: ['catalog/one'], vars: { stage: 'dev' }, overrides: { vars: { tier: 'p' } } },
  });
  r.commit('overrides');
  const result = await both(r, base);
  assert.equal(result.narrowed, false);
  // The importer's overrides apply to the components of the files it imports.
  assert.deepEqual(result.brief, ['app@dev:stack.vars', 'db@dev:stack.vars']);
});

test('a stack whose components cannot all be built fails the narrowed run as it fails the full one', async () => {
  // prod holds a loop between two components the change does not touch; the change edits a file prod imports.
  const { r, files } = fixture({
    'stacks/mixin.yaml': {},
    'stacks/deploy/prod.yaml': {
      import: ['catalog/one', 'mixin'],
      components: {
        terraform: { db: { metadata: { inherits: ['net'] } }, net: { metadata: { inherits: ['db'] } } },
      },
      vars: { stage: 'prod' },
    },
  });
  const base = r.commit('base');
  write(r, applyChange(files, { file: 'stacks/mixin.yaml', what: { name: 'app', to: null } }));
  r.commit('an empty components map');
  const full = await outcome(r.dir, base, false);
  assert.match(full.error ?? '', /circular component inheritance/);
  assert.deepEqual(await outcome(r.dir, base, true), full);
});

test('templates: a manifest that computes anything is compared in full', async () => {
  const { r, files } = fixture({
    'stacks/deploy/prod.yaml': { import: ['catalog/one'], vars: { stage: 'prod', name: '{{ .vars.stage }}-x' } },
  });
  const base = r.commit('base');
  write(
    r,
    applyChange(files, {
      file: 'stacks/catalog/one.yaml',
      what: { name: 'db', to: { metadata: { component: 'app' }, vars: { size: 5 } } },
    }),
  );
  r.commit('db size');
  assert.deepEqual(await both(r, base), {
    brief: ['db@dev:stack.vars', 'db@prod:stack.vars'],
    narrowed: false,
  });
});

test('component diff and reach: entries outside components stop narrowing; bases are followed transitively', () => {
  const one = { vars: { a: 1 }, components: { terraform: { x: { vars: { v: 1 } }, y: {} } } };
  assert.deepEqual(
    changedComponents(one, { ...one, components: { terraform: { x: { vars: { v: 2 } }, y: {}, z: {} } } }),
    new Set(['terraform\u0000x', 'terraform\u0000z']),
  );
  assert.equal(changedComponents(one, { ...one, vars: { a: 2 } }), undefined);
  assert.equal(changedComponents(one, { ...one, components: { terraform: 'x' } }), undefined);
  assert.deepEqual(changedComponents(one, structuredClone(one)), new Set());
  const bases = new Map([
    ['terraform\u0000c', new Set(['b'])],
    ['terraform\u0000b', new Set(['a'])],
    ['terraform\u0000d', new Set(['d'])],
    ['helmfile\u0000b', new Set(['a'])],
  ]);
  assert.deepEqual([...reachingComponents(new Set(['terraform\u0000a']), bases)].sort(), [
    'terraform\u0000a',
    'terraform\u0000b',
    'terraform\u0000c',
  ]);
});

test('caches: the index is keyed by git object ids; the base tree adds nothing to the parse cache', async () => {
  const { r, files } = fixture();
  const base = r.commit('base');
  write(r, applyChange(files, { file: 'stacks/deploy/dev.yaml', what: { vars: { stage: 'dev', region: 'eu' } } }));
  r.commit('dev size');
  const cacheHome = mkdtempSync(join(tmpdir(), 'strata-narrow-cache-'));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cacheHome;
  try {
    const report = await describeAffectedReport({ cwd: r.dir, sha: base });
    assert.equal(report.items.length, 2);
    // One pack: the HEAD stacks folder's. The base side's temporary checkout writes none.
    assert.equal(readdirSync(join(cacheHome, 'strata', 'manifests')).length, 1);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(cacheHome, { recursive: true, force: true });
  }
  const index = readFileSync(join(r.dir, '.git', 'strata', 'affected-index.pack'), 'utf8');
  const id = r.git('hash-object', 'stacks/catalog/one.yaml').trim();
  assert.ok(index.includes(`\n${id}\t`), 'the catalog is found under its git object id');
});
