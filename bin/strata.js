#!/usr/bin/env node
// The contributors' `strata` (`npm run strata`, the tests, the demo): runs the bundle `npm run build` wrote to
// dist/, or the TypeScript sources through tsx when the bundle is missing or older than any source file, so edits
// never run stale code. This file is not in the package: the installed `strata` is dist/strata.mjs itself, which
// never looks at sources and needs neither tsx nor esbuild.

// `strata serve` reloads on SIGHUP: one arriving while the CLI loads must not kill the daemon (its own handlers
// come once its module runs).
if (process.argv.slice(2).find((arg) => !arg.startsWith('-')) === 'serve') process.on('SIGHUP', () => {});

const { bundle, bundleIsFresh } = await import('./cli-target.js');
if (bundleIsFresh()) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/entry.ts');
}
