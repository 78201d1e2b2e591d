/** strata's cache folder: `$XDG_CACHE_HOME/strata/<part>` (default `~/.cache/strata/<part>`). */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function strataCacheDir(...parts: string[]): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'strata', ...parts);
}
