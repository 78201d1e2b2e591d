// Which code the contributors' `strata` runs: the bundle in dist/ when it is at least as new as every source file,
// else the TypeScript sources (through tsx), so edits never run stale code. Shared by bin/strata.js and the tests'
// in-process CLI (test/helpers/cli-server.ts).
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bundle = join(root, 'dist', 'strata.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function bundleIsFresh() {
  if (process.env.STRATA_FROM_SOURCE) return false;
  const built = statSync(bundle, { throwIfNoEntry: false });
  return built !== undefined && built.mtimeMs >= newestSource(join(root, 'src'));
}
