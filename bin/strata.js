#!/usr/bin/env node
// The contributors' `strata` (`npm run strata`, the tests, the demo): runs the bundle `npm run build` wrote to
// dist/, or the TypeScript sources through tsx when the bundle is missing or older than any source file, so edits
// never run stale code. This file is not in the package: the installed `strata` is dist/strata.mjs itself, which
// never looks at sources and needs neither tsx nor esbuild.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// `strata serve` reloads on SIGHUP: one arriving while the CLI loads must not kill the daemon (its own handlers
// come once its module runs).
if (process.argv.slice(2).find((arg) => !arg.startsWith('-')) === 'serve') process.on('SIGHUP', () => {});

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'strata.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (process.env.STRATA_FROM_SOURCE) return false;
  const built = statSync(bundle, { throwIfNoEntry: false });
  return built !== undefined && built.mtimeMs >= newestSource(join(root, 'src'));
}

if (bundleIsFresh()) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/entry.ts');
}
