/**
 * `describe affected` evaluates only what a change can reach: the manifests whose import closure holds a changed
 * file, plus those a changed component folder or a file dependency may reach. `processed.head`/`processed.base`
 * count the manifests evaluated on each side (through the real code path).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, afterEach, beforeEach, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { describeAffected, describeAffectedReport } from '../../src/gitops/affected.ts';
import { contentFacts, ImportIndex, IndexPack, reachesPath } from '../../src/gitops/affected-index.ts';
import { StackEngine } from '../../src/stacks/engine.ts';
import { findStackManifests } from '../../src/stacks/manifests.ts';
import { sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { clockAhead, realClock, TempRepo } from './helpers.ts';

const repos: TempRepo[] = [];
// These repositories are written and read within a second: each test runs with the clock a few seconds ahead, so
// that the folders it wrote are trusted (each test changes a folder tens of milliseconds after the run before looked,
// well past the file system clock's tick).
beforeEach(() => clockAhead());
afterEach(realClock);
after(() => {
  for (const r of repos) r.cleanup();
});

const brief = (items: Array<{ component: string; stack: string; affected_all: string[] }>) =>
  items.map((i) => `${i.component}@${i.stack}:${i.affected_all.join('+')}`).sort();

const STAGES = ['dev', 'qa', 'stage', 'prod', 'ops'];

/** Five stacks importing a shared catalog and their own defaults; `ops` has no `db`; `qa`'s app watches a file. */
function repo(): TempRepo {
  const r = new TempRepo();
  repos.push(r);
  r.write(
    'atmos.yaml',
    'components:\n  terraform:\n    base_path: components/terraform\nstacks:\n  base_path: stacks\n  included_paths: ["deploy/*"]\n  name_pattern: "{stage}"\n',
  );
  r.write('stacks/catalog/app.yaml', 'components:\n  terraform:\n    app:\n      vars:\n        replicas: 2\n');
  for (const stage of STAGES) {
    r.write(`stacks/defaults/${stage}.yaml`, `vars:\n  stage: ${stage}\n`);
    const db = stage === 'ops' ? '' : '    db:\n      vars:\n        engine: pg\n';
    const watch = stage === 'qa' ? '      dependencies:\n        files: [config/flags.json]\n' : '';
    r.write(
      `stacks/deploy/${stage}.yaml`,
      `import:\n  - catalog/app\n  - ./../defaults/${stage}\ncomponents:\n  terraform:\n    app:\n      vars:\n        size: small\n${watch}${db}`,
    );
  }
  r.write('components/terraform/app/main.tf', 'variable "size" {}\n');
  r.write('components/terraform/db/main.tf', 'variable "engine" {}\n');
  r.write('config/flags.json', '{"a": 1}\n');
  r.commit('initial');
  return r;
}

const indexFile = (r: TempRepo) => join(r.dir, '.git', 'strata', 'affected-index.pack');
const reachFile = (r: TempRepo) => join(r.dir, '.git', 'strata', 'affected-reach.json');

test('one stack file changed: only that manifest is evaluated, on both sides, cold and warm', async () => {
  const r = repo();
  const base = r.head();
  r.write('stacks/defaults/stage.yaml', 'vars:\n  stage: stage\n  region: eu\n');
  r.commit('stage region');
  for (const run of ['cold', 'warm']) {
    const report = await describeAffectedReport({ cwd: r.dir, sha: base });
    assert.deepEqual(brief(report.items), ['app@stage:stack.vars', 'db@stage:stack.vars'], run);
    assert.deepEqual(report.processed, { head: 1, base: 1, full: false }, run);
    assert.ok(existsSync(indexFile(r)), `${run}: the import index is kept`);
  }
  assert.deepEqual(
    await describeAffected({ cwd: r.dir, sha: base, cache: false }),
    (await describeAffectedReport({ cwd: r.dir, sha: base })).items,
  );
});

test('a catalog every stack imports: everything is evaluated; the index kept serves the next run alike', async () => {
  const r = repo();
  const base = r.head();
  r.write('stacks/catalog/app.yaml', 'components:\n  terraform:\n    app:\n      vars:\n        replicas: 3\n');
  r.commit('more replicas');
  const report = await describeAffectedReport({ cwd: r.dir, sha: base });
  assert.deepEqual(brief(report.items), STAGES.map((s) => `app@${s}:stack.vars`).sort());
  assert.deepEqual(report.processed, { head: 5, base: 5, full: false });
  assert.equal(existsSync(indexFile(r)), true);
  const again = await describeAffectedReport({ cwd: r.dir, sha: base });
  assert.deepEqual(again.items, report.items);
  assert.deepEqual(again.processed, report.processed);
});

test('a damaged import index or kept closures are misses: the same items as without them, no crash', async () => {
  const r = repo();
  const base = r.head();
  r.write('components/terraform/db/main.tf', 'variable "engine" {\n  type = number\n}\n');
  r.write('stacks/defaults/qa.yaml', 'vars:\n  stage: qa\n  size: 3\n');
  r.commit('db code and qa');
  const expected = await describeAffected({ cwd: r.dir, sha: base, cache: false });
  await describeAffectedReport({ cwd: r.dir, sha: base });
  const [header, ...lines] = readFileSync(indexFile(r), 'utf8').trimEnd().split('\n');
  assert.ok(lines.length > 4);
  // Half the entries are cut short, one is not an entry at all; the kept closures point past the file table.
  const damaged = lines.map((line, i) => (i === 1 ? 'nonsense' : i % 2 === 0 ? line.slice(0, -12) : line));
  writeFileSync(indexFile(r), `${header}\n${damaged.join('\n')}\n`);
  const reach = JSON.parse(readFileSync(reachFile(r), 'utf8'));
  for (const entry of Object.values(reach.manifests) as [number[]][]) entry[0].push(999);
  writeFileSync(reachFile(r), JSON.stringify(reach));
  assert.deepEqual((await describeAffectedReport({ cwd: r.dir, sha: base })).items, expected);
  writeFileSync(reachFile(r), '{"format": 1, "key"');
  assert.deepEqual((await describeAffectedReport({ cwd: r.dir, sha: base })).items, expected);
});

test('kept closures: a file an optional import finds once it exists is reached, though no importer changed', async () => {
  const r = repo();
  r.write(
    'stacks/deploy/dev.yaml',
    'import:\n  - catalog/app\n  - ./../defaults/dev\n  - path: catalog/extra\n    skip_if_missing: true\ncomponents:\n  terraform:\n    app:\n      vars:\n        size: small\n',
  );
  r.commit('dev may import extra');
  // The closures are kept by a run over a commit that touches something else.
  r.write('stacks/defaults/ops.yaml', 'vars:\n  stage: ops\n  region: eu\n');
  r.commit('ops region');
  assert.deepEqual(brief((await describeAffectedReport({ cwd: r.dir, ref: 'HEAD~1' })).items), ['app@ops:stack.vars']);
  assert.ok(existsSync(reachFile(r)), 'the closures are kept');
  await new Promise((done) => setTimeout(done, 20));
  r.write('stacks/catalog/extra.yaml', 'components:\n  terraform:\n    app:\n      vars:\n        extra: 1\n');
  r.commit('extra');
  r.write('stacks/catalog/extra.yaml', 'components:\n  terraform:\n    app:\n      vars:\n        extra: 2\n');
  r.commit('extra 2');
  const report = await describeAffectedReport({ cwd: r.dir, ref: 'HEAD~1' });
  assert.deepEqual(brief(report.items), ['app@dev:stack.vars']);
  assert.deepEqual(report.items, await describeAffected({ cwd: r.dir, ref: 'HEAD~1', cache: false }));
});

test('kept closures: folders changed within two seconds of the run are not trusted, so nothing is kept', async () => {
  const r = repo();
  const base = r.head();
  r.write('stacks/defaults/stage.yaml', 'vars:\n  stage: stage\n  region: eu\n');
  r.commit('stage region');
  realClock();
  await describeAffectedReport({ cwd: r.dir, sha: base });
  assert.ok(existsSync(indexFile(r)), 'the index is kept');
  assert.ok(!existsSync(reachFile(r)), 'the closures are not: the folders were written a moment ago');
});

test('kept closures: none from a temporary checkout (a dirty tree) or when a folder holds a symbolic link', async () => {
  const r = repo();
  symlinkSync('app.yaml', join(r.dir, 'stacks', 'catalog', 'app-link.yaml'));
  r.commit('a link in the catalog');
  const stageRegion = (region: string) => {
    r.write('stacks/defaults/stage.yaml', `vars:\n  stage: stage\n  region: ${region}\n`);
    r.commit(`stage in ${region}`);
  };
  stageRegion('eu');
  await describeAffectedReport({ cwd: r.dir, ref: 'HEAD~1' });
  assert.ok(!existsSync(reachFile(r)), 'the catalog folder holds a link');
  rmSync(join(r.dir, 'stacks', 'catalog', 'app-link.yaml'));
  r.commit('no link');
  await new Promise((done) => setTimeout(done, 20));
  stageRegion('us');
  r.write('stacks/defaults/dev.yaml', 'vars:\n  stage: dev\n  uncommitted: true\n');
  await describeAffectedReport({ cwd: r.dir, ref: 'HEAD~1' });
  assert.ok(!existsSync(reachFile(r)), 'a dirty tree is read from a temporary checkout');
  r.git('checkout', '--', 'stacks/defaults/dev.yaml');
  await describeAffectedReport({ cwd: r.dir, ref: 'HEAD~1' });
  assert.ok(existsSync(reachFile(r)), 'without the link, the closures are kept');
});

test('component code and file dependencies reach only the manifests that may use them', async () => {
  const r = repo();
  const base = r.head();
  r.write('components/terraform/db/main.tf', 'variable "engine" {\n  type = string\n}\n');
  r.commit('db code');
  const db = await describeAffectedReport({ cwd: r.dir, sha: base });
  assert.deepEqual(brief(db.items), ['db@dev:component', 'db@prod:component', 'db@qa:component', 'db@stage:component']);
  // ops has no db; nothing is compared on the base side (no stack file changed).
  assert.deepEqual(db.processed, { head: 4, base: 0, full: false });

  r.write('config/flags.json', '{"a": 2}\n');
  r.commit('flags');
  const flags = await describeAffectedReport({ cwd: r.dir, ref: 'HEAD~1' });
  assert.deepEqual(brief(flags.items), ['app@qa:file']);
  assert.deepEqual(flags.processed, { head: 1, base: 0, full: false });
});

test('a component deleted from one stack is still reported (the whole HEAD is consulted)', async () => {
  const r = repo();
  const base = r.head();
  r.write(
    'stacks/deploy/dev.yaml',
    'import:\n  - catalog/app\n  - ./../defaults/dev\ncomponents:\n  terraform:\n    app:\n      vars:\n        size: small\n',
  );
  r.commit('no db in dev');
  const report = await describeAffectedReport({ cwd: r.dir, sha: base });
  assert.deepEqual(brief(report.items), ['db@dev:deleted']);
});

/** Every Atmos example: the closures read from each file's own imports equal the files the reader assembles. */
test('closures from file imports equal the assembled files (Atmos examples)', { skip: skipWithoutShared }, () => {
  const examples = join(sharedDir, 'conformance', 'atmos', 'examples');
  let compared = 0;
  for (const name of readdirSync(examples)) {
    const dir = join(examples, name);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'atmos.yaml'))) continue;
    let config: ReturnType<typeof loadConfig>;
    let manifests: string[];
    try {
      config = loadConfig({ cwd: dir, env: {} });
      manifests = findStackManifests(config);
    } catch {
      continue;
    }
    const side = { root: dir, config, engineOptions: { cwd: dir } };
    for (const m of manifests) {
      const path = join(config.stacks.basePath, m);
      const rel = relative(dir, path);
      let expected: string[];
      try {
        expected = new StackEngine(config, { cwd: dir }).reader.assemble(path).files.map((f) => relative(dir, f.path));
      } catch {
        continue;
      }
      const index = new ImportIndex(side, IndexPack.none(), new StackEngine(config, { cwd: dir }).reader);
      const [reach] = index.reach([rel]);
      assert.deepEqual([...reach.closure].sort(), [...new Set(expected)].sort(), `${name}: ${m}`);
      compared++;
    }
  }
  assert.ok(compared > 20, `compared ${compared} manifests`);
});

test('a failing YAML function in a stack the change does not reach is not evaluated; with dependents it is', async () => {
  const r = repo();
  r.write(
    'stacks/deploy/ops.yaml',
    'import:\n  - catalog/app\n  - ./../defaults/ops\ncomponents:\n  terraform:\n    app:\n      vars:\n        size: small\n        vpc: !terraform.state vpc .vpc_id\n',
  );
  const base = r.commit('ops reads a state');
  r.write('stacks/defaults/dev.yaml', 'vars:\n  stage: dev\n  region: eu\n');
  r.commit('dev region');
  const report = await describeAffectedReport({ cwd: r.dir, sha: base });
  assert.deepEqual(brief(report.items), ['app@dev:stack.vars', 'db@dev:stack.vars']);
  await assert.rejects(describeAffected({ cwd: r.dir, sha: base, includeDependents: true }), /terraform\.state/);
});

test('file facts: component folders and file dependencies a stack file may give, unknown when computed', () => {
  const facts = contentFacts(
    {
      settings: { depends_on: { 1: { file: 'config/a.json' } } },
      components: {
        terraform: {
          'vpc/defaults': { metadata: { component: 'vpc', type: 'abstract' } },
          web: {
            component: 'app',
            dependencies: { files: ['./x.txt'], folders: ['lib/'], components: [{ component: 'vpc' }] },
          },
        },
        helmfile: { nginx: {} },
      },
    },
    '{{',
  );
  assert.deepEqual(facts.folders, [
    'terraform/vpc/defaults',
    'terraform/vpc',
    'terraform/web',
    'terraform/app',
    'helmfile/nginx',
  ]);
  assert.deepEqual(facts.fileDeps, ['config/a.json', './x.txt', 'lib/']);
  assert.equal(
    contentFacts({ components: { terraform: { a: { metadata: { component: '{{ .x }}' } } } } }, '{{').folders,
    null,
  );
  assert.equal(
    contentFacts({ components: { terraform: { a: { dependencies: { files: ['{{ .f }}'] } } } } }, '{{').fileDeps,
    null,
  );
  assert.equal(reachesPath(['lib/'], ['lib/x.tf']), true);
  assert.equal(reachesPath(['./x.txt'], ['x.txt']), true);
  assert.equal(reachesPath(['./'], ['anything']), true);
  assert.equal(reachesPath(['lib'], ['library/x']), false);
});
