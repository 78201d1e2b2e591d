/**
 * The single executable (`npm run build:binary`), built once per content of what goes into it and cached under the
 * OS temp folder (a build takes ~20 s), shared by the test files of a run under a lock.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { acquireFileLock } from '../../src/util/lock.ts';
import { repoRoot } from './shared.ts';
import { useAndPrune } from './temp-cache.ts';

const INPUTS = ['src', 'scripts/build-binary.mjs', 'package-lock.json'];

function filesUnder(path: string): string[] {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) return stat ? [path] : [];
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
}

function inputsHash(): string {
  const hash = createHash('sha256').update(process.version);
  for (const file of INPUTS.flatMap((input) => filesUnder(join(repoRoot, input))).sort()) {
    hash.update(relative(repoRoot, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** The path of a single executable built from the current sources. */
export async function builtBinary(): Promise<string> {
  const dir = join(tmpdir(), 'strata-binary', inputsHash());
  const binary = join(dir, 'strata-linux-x64');
  if (existsSync(binary)) {
    useAndPrune(join(tmpdir(), 'strata-binary'), dir, 'strata-linux-x64');
    return binary;
  }
  mkdirSync(dir, { recursive: true });
  const release = await acquireFileLock(`${dir}.lock`, { command: 'test: build the single binary', waitMs: 300_000 });
  try {
    if (!existsSync(binary)) {
      execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-binary.mjs'), '--out', binary], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    }
  } finally {
    await release();
  }
  useAndPrune(join(tmpdir(), 'strata-binary'), dir, 'strata-linux-x64');
  return binary;
}
