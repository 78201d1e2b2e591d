/**
 * The HCL parse cache: a text parsed once is read back from `$XDG_CACHE_HOME/strata/hcl/` by the next run (the
 * parser, a wasm module, does not start), errors are never cached, `STRATA_NO_CACHE=1` turns it off, and the
 * folder stays under its entry limit.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { HCL_CACHE_MAX_ENTRIES, hclCounters, parseHcl, parseHclSync } from '../../src/data/hcl.ts';
import { StrataError } from '../../src/errors.ts';

const home = mkdtempSync(join(tmpdir(), 'strata-hcl-cache-'));
const folder = join(home, 'strata', 'hcl');
const saved = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, STRATA_NO_CACHE: process.env.STRATA_NO_CACHE };
process.env.XDG_CACHE_HOME = home;
after(() => {
  Object.assign(process.env, saved);
  for (const [key, value] of Object.entries(saved)) if (value === undefined) delete process.env[key];
  rmSync(home, { recursive: true, force: true });
});
beforeEach(() => {
  delete process.env.STRATA_NO_CACHE;
  rmSync(folder, { recursive: true, force: true });
  Object.assign(hclCounters, { parsed: 0, fromCache: 0 });
});

const TEXT = 'variable "token" {\n  type      = string\n  sensitive = true\n}\n';
const entries = () =>
  existsSync(folder) ? readdirSync(folder, { withFileTypes: true }).filter((e) => e.name.endsWith('.json')) : [];

test('the second parse of a text comes from the cache, async and sync alike, and equals the parse', async () => {
  const first = await parseHcl(TEXT, 'variables.tf');
  assert.deepEqual(hclCounters, { parsed: 1, fromCache: 0 });
  // biome-ignore lint/suspicious/noTemplateCurlyInString: HCL's JSON form writes a type expression this way
  assert.deepEqual(first.variable, { token: [{ type: '${string}', sensitive: true }] });
  assert.equal(entries().length, 1);
  assert.deepEqual(await parseHcl(TEXT, 'elsewhere.tf'), first);
  assert.deepEqual(parseHclSync(TEXT, 'again.tf'), first);
  assert.deepEqual(hclCounters, { parsed: 1, fromCache: 2 });
  await parseHcl(`${TEXT}\n`, 'variables.tf');
  assert.equal(hclCounters.parsed, 2, 'another text is parsed');
});

test('a syntax error is never cached and keeps its position', async () => {
  const broken = 'variable "x" {\n  type = \n';
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => parseHclSync(broken, 'broken.tf'),
      (error: unknown) => error instanceof StrataError && error.location?.line !== undefined,
    );
    await assert.rejects(parseHcl(broken, 'broken.tf'));
  }
  assert.equal(entries().length, 0);
});

test('STRATA_NO_CACHE=1 parses every time and writes nothing', async () => {
  process.env.STRATA_NO_CACHE = '1';
  await parseHcl(TEXT, 'variables.tf');
  await parseHcl(TEXT, 'variables.tf');
  assert.deepEqual(hclCounters, { parsed: 2, fromCache: 0 });
  assert.equal(entries().length, 0);
});

test('the folder keeps at most HCL_CACHE_MAX_ENTRIES entries, dropping the oldest', async () => {
  mkdirSync(folder, { recursive: true });
  const old = new Date(Date.now() - 86_400_000);
  for (let i = 0; i < HCL_CACHE_MAX_ENTRIES; i++) {
    const file = join(folder, `old-${i}.json`);
    writeFileSync(file, '{}');
    if (i === 0) utimesSync(file, old, old);
  }
  await parseHcl(TEXT, 'variables.tf');
  const names = entries().map((e) => e.name);
  assert.equal(names.length, HCL_CACHE_MAX_ENTRIES);
  assert.ok(!names.includes('old-0.json'), 'the oldest entry went');
});
