import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './shared.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const target = (await import(pathToFileURL(join(repoRoot, 'bin', 'cli-target.js')).href)) as {
  bundle: string;
  bundleIsFresh(): boolean;
};

/**
 * What `bin/strata.js` would run, decided once per test process: the bundle (the package's own command) when it is
 * fresh, else the launcher, which runs the sources. The launcher walks src/ on every start to decide (~30 ms of CPU
 * per command).
 */
export const cliEntry = target.bundleIsFresh() ? target.bundle : join(repoRoot, 'bin', 'strata.js');

/** Runs the real `strata` binary as a user would, in `cwd`, with extra environment. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): CliResult {
  const result = spawnSync(process.execPath, [cliEntry, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}
