/**
 * The parse and result caches never change an answer: every Atmos example (read from ../shared/, skipped without it)
 * is described with the caches off, then cold, warm, and warm with one stack file changed, and all four agree.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
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

test('no Atmos example changes a section value after the result cache kept it (kept values are shared)', {
  skip: skipWithoutShared,
}, async () => {
  const examples = join(sharedDir, 'conformance', 'atmos', 'examples');
  const kept: { section: Record<string, unknown>; text: string }[] = [];
  let checked = 0;
  const set = ResultCache.prototype.set;
  ResultCache.prototype.set = function (this: ResultCache, ...args: Parameters<ResultCache['set']>) {
    for (const { raw } of args[1].candidates) kept.push({ section: raw.section, text: JSON.stringify(raw.section) });
    return set.apply(this, args);
  };
  try {
    for (const name of readdirSync(examples).sort()) {
      const source = join(examples, name);
      if (!statSync(source).isDirectory() || !existsSync(join(source, 'atmos.yaml'))) continue;
      await withCacheHome(async () => {
        kept.length = 0;
        await described(source, true);
        // Values as kept: the section maps themselves may gain keys (the engine completes them), their values not.
        for (const { section, text } of kept) {
          const before = JSON.parse(text) as Record<string, unknown>;
          for (const key of Object.keys(before))
            assert.equal(JSON.stringify(section[key]), JSON.stringify(before[key]), `${name}: ${key}`);
        }
        checked += kept.length;
      });
    }
  } finally {
    ResultCache.prototype.set = set;
  }
  assert.ok(checked > 100, `only ${checked} components kept`);
});
