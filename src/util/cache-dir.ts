/** strata's cache folder: `$XDG_CACHE_HOME/strata/<part>` (default `~/.cache/strata/<part>`). */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function strataCacheDir(...parts: string[]): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'strata', ...parts);
}

/** Whether the environment turns strata's caches off (`STRATA_NO_CACHE=1`; the CLI's `--no-cache` sets it). */
export function cacheDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.STRATA_NO_CACHE !== undefined && env.STRATA_NO_CACHE !== '' && env.STRATA_NO_CACHE !== '0';
}
