#!/usr/bin/env node
// Node 20's test runner takes no globs: list test/**/*.test.ts ourselves and hand them over.
// Usage: node scripts/run-tests.mjs [path-substring ...]  (filters the files, e.g. `stacks` or `template`)
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { reaches } from './test-loader/imports.mjs';
import { readCached, TRANSFORM, writeCached } from './test-loader/transpile.mjs';

const root = new URL('..', import.meta.url).pathname;
function walk(dir, suffix, skip = ['fixtures']) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return skip.includes(name) ? [] : walk(path, suffix, skip);
    return name.endsWith(suffix) ? [path] : [];
  });
}

/** Transpiles every TypeScript file the tests may load, once, for scripts/test-loader (instead of tsx). */
async function transpileAll() {
  const sources = ['src', 'test', 'bench', 'scripts'].flatMap((dir) => walk(join(root, dir), '.ts', ['node_modules']));
  await Promise.all(
    sources
      .filter((path) => readCached(path) === undefined)
      .map(async (path) => {
        const { code } = await transform(readFileSync(path, 'utf8'), { ...TRANSFORM, sourcefile: path });
        writeCached(path, code);
      }),
  );
}
/**
 * The tests' temporary folder: a RAM file system when the machine has one with room (/dev/shm), since the suite
 * writes, syncs and removes thousands of throw-away repositories, states and installs (on this disk that cost a
 * quarter more CPU and much more waiting). STRATA_TEST_TMPDIR names another folder; empty keeps the system's.
 */
function testTmpdir() {
  const chosen = process.env.STRATA_TEST_TMPDIR;
  if (chosen !== undefined) return chosen === '' ? undefined : chosen;
  const TMPFS_MAGIC = 0x01021994;
  try {
    const shm = statfsSync('/dev/shm');
    if (shm.type !== TMPFS_MAGIC || shm.bavail * shm.bsize < 4 * 1024 ** 3) return undefined;
  } catch {
    return undefined;
  }
  return join('/dev/shm', 'strata-tests');
}

const filters = process.argv.slice(2);
const files = walk(join(root, 'test'), '.test.ts')
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const tmp = testTmpdir();
if (tmp) {
  mkdirSync(tmp, { recursive: true });
  process.env.TMPDIR = tmp;
}
await transpileAll();
const loader = pathToFileURL(join(root, 'scripts', 'test-loader', 'register.mjs')).href;
const concurrency = process.env.STRATA_TEST_CONCURRENCY ?? '2';
if (files.some((file) => reaches(join(root, file), join(root, 'test', 'helpers', 'installed.ts')))) packInBackground();
const result = spawn(
  process.execPath,
  [
    '--enable-source-maps',
    '--import',
    loader,
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit', cwd: root },
);
result.on('exit', (code) => process.exit(code ?? 1));

/**
 * Packs and installs the package (test/helpers/installed.ts) while the first test files run: the files that need it
 * come later in the order and would otherwise each hold a runner slot idle while the first of them builds it (about
 * 20 s). Its output is dropped: a failure is met again, and reported, by the test files that need the package.
 */
function packInBackground() {
  const installed = pathToFileURL(join(root, 'test', 'helpers', 'installed.ts')).href;
  const code = `await (await import(${JSON.stringify(installed)})).installedStrata();`;
  const child = spawn(process.execPath, ['--import', loader, '--input-type=module', '-e', code], {
    cwd: root,
    stdio: 'ignore',
  });
  child.unref();
}
