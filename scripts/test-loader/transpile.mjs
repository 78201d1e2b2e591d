// TypeScript → JavaScript for the tests, cached on disk by path, size and modification time. scripts/run-tests.mjs
// fills the cache for every source and test file in one esbuild call before the test processes start, so each
// of them only reads files: loading tsx in every test process (esbuild's service and its caches) cost ~1 s of CPU
// per test file, a sixth of the whole suite.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Read when used: scripts/run-tests.mjs may point TMPDIR elsewhere after this module is loaded.
const cacheDir = () => join(tmpdir(), 'strata-test-ts');
export const TRANSFORM = { loader: 'ts', format: 'esm', target: 'node20.18', sourcemap: 'inline' };

export function cachePath(path) {
  const { size, mtimeMs } = statSync(path);
  const key = createHash('sha1').update(`${path}\0${size}\0${mtimeMs}\0v2`).digest('hex');
  return join(cacheDir(), `${key}.mjs`);
}

export function readCached(path) {
  try {
    return readFileSync(cachePath(path), 'utf8');
  } catch {
    return undefined;
  }
}

export function writeCached(path, code) {
  const target = cachePath(path);
  mkdirSync(cacheDir(), { recursive: true });
  const staging = `${target}.${process.pid}.tmp`;
  writeFileSync(staging, code);
  renameSync(staging, target);
}
