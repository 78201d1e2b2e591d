import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `../shared/` beside the repository: seeds, notes, Atmos conformance fixtures, SOPS test data. CI always has it.
 * Its physical path (a symlinked `../shared` too): commands run inside it see that path as their working folder.
 */
const givenShared = process.env.STRATA_SHARED_DIR ?? resolve(repoRoot, '..', 'shared');
export const sharedDir = existsSync(givenShared) ? realpathSync(givenShared) : givenShared;
export const hasShared = existsSync(join(sharedDir, 'conformance'));

/** Pass as a test's `skip` option: skips with a reason in a user's clone, never in CI. */
export const skipWithoutShared: false | string = hasShared ? false : 'needs ../shared/ (absent in this clone)';

if (!hasShared && process.env.CI) {
  throw new Error(`CI must have ../shared/ beside the repository (looked in ${sharedDir})`);
}

/**
 * Node arguments that run a TypeScript file in a child process with the tests' own loader (scripts/test-loader:
 * transpiled once per run and cached), about a third of tsx's start-up cost.
 */
export const TS_CHILD_ARGS = ['--import', pathToFileURL(join(repoRoot, 'scripts', 'test-loader', 'register.mjs')).href];
