/** What the engines of this process did, as `--verbose` prints it on standard error. */
import { callCounters } from '../functions/memo.ts';
import { parseCounters } from './parse-cache.ts';
import { resultCounters } from './result-cache.ts';

export function engineStatsLine(): string {
  return `strata: manifests parsed ${parseCounters.parsed}, from the cache ${parseCounters.fromCache}; calls with outside effects evaluated ${callCounters.evaluated}, reused ${callCounters.reused}; stacks from the result cache ${resultCounters.fromCache}`;
}
