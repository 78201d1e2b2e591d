/**
 * The closures `describe affected` keeps between runs (src/gitops/affected-reach.ts): whatever happens to the files
 * and folders between two runs, the closures a run takes from the kept file equal those it would follow afresh.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/index.ts';
import { ImportIndex, IndexPack } from '../../src/gitops/affected-index.ts';
import { ReachCache } from '../../src/gitops/affected-reach.ts';
import { StackEngine } from '../../src/stacks/engine.ts';
import { findStackManifests } from '../../src/stacks/manifests.ts';
import { clockAhead, realClock } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'strata-reach-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Catalog files, some in a sub-folder that may not exist yet; each imports only files before it (no cycle). */
const CATALOG = ['catalog/a', 'catalog/b', 'catalog/sub/c', 'catalog/sub/d', 'mixins/e'];

const importSpec = fc.record({ target: fc.nat(CATALOG.length - 1), optional: fc.boolean() });
const fileSpec = fc.record({ exists: fc.boolean(), imports: fc.array(importSpec, { maxLength: 3 }) });
/** What a tree holds: each catalog file (present or not, its imports) and each top-level manifest's imports. */
const treeSpec: fc.Arbitrary<Tree> = fc.record({
  catalog: fc.array(fileSpec, { minLength: CATALOG.length, maxLength: CATALOG.length }),
  manifests: fc.array(fc.array(importSpec, { maxLength: 3 }), { minLength: 1, maxLength: 3 }),
});
interface ImportSpec {
  target: number;
  optional: boolean;
}
interface Tree {
  catalog: Array<{ exists: boolean; imports: ImportSpec[] }>;
  manifests: ImportSpec[][];
}

/** A change between two runs: catalog files appearing or disappearing, files' imports rewritten, or another tree. */
const changeSpec = fc.record({
  flip: fc.array(fc.boolean(), { minLength: CATALOG.length, maxLength: CATALOG.length }),
  rewrite: fc.option(treeSpec, { freq: 3 }),
});

function changed(before: Tree, { flip, rewrite }: { flip: boolean[]; rewrite: Tree | null }): Tree {
  const catalog = before.catalog.map((file, i) => ({
    exists: flip[i] ? !file.exists : file.exists,
    imports: rewrite && i % 2 === 0 ? rewrite.catalog[i].imports : file.imports,
  }));
  return { catalog, manifests: rewrite && flip[0] ? rewrite.manifests : before.manifests };
}

function importList(specs: ImportSpec[], below: number): string {
  // Only optional imports may name a missing file; a plain import of one is left out (the engine reports those).
  const lines = specs
    .filter((s) => s.target < below)
    .map((s) =>
      s.optional ? `  - path: ${CATALOG[s.target]}\n    skip_if_missing: true\n` : `  - ${CATALOG[s.target]}\n`,
    );
  return lines.length > 0 ? `import:\n${lines.join('')}` : '';
}

/** Writes the tree into `dir`, removing what it does not hold; plain imports of a missing file become optional. */
function writeTree(dir: string, tree: Tree): void {
  const optionalWhenMissing = (specs: ImportSpec[]) =>
    specs.map((s) => ({ ...s, optional: s.optional || !tree.catalog[s.target].exists }));
  CATALOG.forEach((name, i) => {
    const path = join(dir, 'stacks', `${name}.yaml`);
    const file = tree.catalog[i];
    if (!file.exists) {
      rmSync(path, { force: true });
      return;
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${importList(optionalWhenMissing(file.imports), i)}vars:\n  from${i}: ${i}\n`);
  });
  rmSync(join(dir, 'stacks', 'deploy'), { recursive: true, force: true });
  mkdirSync(join(dir, 'stacks', 'deploy'), { recursive: true });
  tree.manifests.forEach((imports, i) => {
    const text = `${importList(optionalWhenMissing(imports), CATALOG.length)}vars:\n  stage: s${i}\n`;
    writeFileSync(join(dir, 'stacks', 'deploy', `s${i}.yaml`), text);
  });
}

function closures(dir: string, kept?: ReachCache): Record<string, string[]> {
  const config = loadConfig({ cwd: dir, env: {} });
  const side = { root: dir, config, engineOptions: { cwd: dir, cache: false } };
  const index = new ImportIndex(side, IndexPack.none(), new StackEngine(config, side.engineOptions).reader);
  const manifests = findStackManifests(config).map((m) => `stacks/${m}`);
  return Object.fromEntries(index.reach(manifests, kept).map((r) => [r.rel, r.closure]));
}

/** Past the file system clock's tick (a few milliseconds): a folder written before it has older times. */
const tick = () => new Promise((done) => setTimeout(done, 5));

test('property: closures taken from the kept file equal the closures followed afresh, whatever changed between', async () => {
  let runs = 0;
  try {
    await fc.assert(
      fc.asyncProperty(treeSpec, changeSpec, async (before, change) => {
        const afterwards = changed(before, change);
        const dir = join(root, `r${runs++}`);
        mkdirSync(dir);
        writeFileSync(
          join(dir, 'atmos.yaml'),
          'stacks:\n  base_path: stacks\n  included_paths: ["deploy/*"]\n  name_pattern: "{stage}"\n',
        );
        const keptFile = join(dir, 'reach.json');
        writeTree(dir, before);
        // Written a clock tick before the run looks, with the clock a few seconds ahead: trusted at once.
        await tick();
        clockAhead();
        const first = closures(dir, new ReachCache(keptFile, 'k'));
        assert.ok(existsSync(keptFile), 'the closures are kept');
        assert.deepEqual(first, closures(dir));
        await tick();
        writeTree(dir, afterwards);
        assert.deepEqual(closures(dir, new ReachCache(keptFile, 'k')), closures(dir));
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 100 },
    );
  } finally {
    realClock();
  }
});
