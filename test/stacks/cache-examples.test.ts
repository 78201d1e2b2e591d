/**
 * The parse and result caches never change an answer: every Atmos example (read from ../shared/, skipped without it)
 * is described with the caches off, then cold, warm, and warm with one stack file changed, and all four agree.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateRepo } from '../../bench/generate.ts';
import { describeStacks } from '../../src/services/describe.ts';
import { openEngine } from '../../src/services/engine.ts';
import { listStackManifests } from '../../src/stacks/manifests.ts';
import { ResultCache, resultCounters } from '../../src/stacks/result-cache.ts';
import { sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { withCacheHome } from './fixtures.ts';

/** The `describe stacks` answer as JSON text, or the error's message: both must be the same with the caches on. */
async function described(dir: string, cache: boolean): Promise<string> {
  try {
    return JSON.stringify(await describeStacks(await openEngine({ cwd: dir, env: {}, cache })));
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

test('every Atmos example describes the same with the caches off, cold, warm and one file changed', {
  skip: skipWithoutShared,
}, async () => {
  const examples = join(sharedDir, 'conformance', 'atmos', 'examples');
  let compared = 0;
  const fromCacheBefore = resultCounters.fromCache;
  for (const name of readdirSync(examples).sort()) {
    const source = join(examples, name);
    if (!statSync(source).isDirectory() || !existsSync(join(source, 'atmos.yaml'))) continue;
    const dir = mkdtempSync(join(tmpdir(), 'strata-cache-example-'));
    try {
      cpSync(source, dir, { recursive: true });
      await withCacheHome(async () => {
        const off = await described(dir, false);
        assert.equal(await described(dir, true), off, `${name}: cold`);
        assert.equal(await described(dir, true), off, `${name}: warm`);
        let stacks: string[] = [];
        try {
          const config = (await openEngine({ cwd: dir, env: {}, cache: false })).config;
          stacks = listStackManifests(config).files.map((f) => join(config.stacks.basePath, f));
        } catch {
          // An example whose configuration does not load has no stack file to change.
        }
        if (stacks.length > 0) {
          // A new var, or (where the file has vars already) a duplicate key error: a stale cache would show neither.
          appendFileSync(stacks[0], '\nvars:\n  strata_cache_probe: changed\n');
          assert.equal(await described(dir, true), await described(dir, false), `${name}: one file changed`);
        }
      });
      compared++;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(compared >= 60, `only ${compared} examples`);
  assert.ok(resultCounters.fromCache > fromCacheBefore, 'the warm runs took stacks from the result cache');
});

/**
 * Describes a repository with the caches cold and gives how many components the result cache kept, asserting that
 * none of their section values changed after it kept them (the cache finds values by identity and shares them).
 */
async function keptUnchanged(dir: string, label: string): Promise<number> {
  const kept: { section: Record<string, unknown>; text: string }[] = [];
  const set = ResultCache.prototype.set;
  ResultCache.prototype.set = function (this: ResultCache, ...args: Parameters<ResultCache['set']>) {
    for (const { raw } of args[1].candidates) kept.push({ section: raw.section, text: JSON.stringify(raw.section) });
    return set.apply(this, args);
  };
  try {
    await withCacheHome(() => described(dir, true));
  } finally {
    ResultCache.prototype.set = set;
  }
  // Values as kept: the section maps themselves may gain keys (the engine completes them), their values not.
  for (const { section, text } of kept) {
    const before = JSON.parse(text) as Record<string, unknown>;
    for (const key of Object.keys(before))
      assert.equal(JSON.stringify(section[key]), JSON.stringify(before[key]), `${label}: ${key}`);
  }
  return kept.length;
}

test('no section value changes after the result cache kept it: every Atmos example, a generated repository', {
  skip: skipWithoutShared,
}, async () => {
  const examples = join(sharedDir, 'conformance', 'atmos', 'examples');
  for (const name of readdirSync(examples).sort()) {
    const source = join(examples, name);
    if (statSync(source).isDirectory() && existsSync(join(source, 'atmos.yaml'))) await keptUnchanged(source, name);
  }
  const dir = mkdtempSync(join(tmpdir(), 'strata-cache-generated-'));
  try {
    generateRepo({ dir, tenants: 2, regions: 2, stages: 2, components: 8 });
    assert.ok((await keptUnchanged(dir, 'generated')) >= 8 * 8, 'the generated stacks were kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
