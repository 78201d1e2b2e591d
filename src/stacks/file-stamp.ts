/**
 * A file's stamp: what git's index keeps to tell an unchanged file without reading it (size, modification and change
 * times in nanoseconds, inode), as one string. Any write sets the change time (ctime) to the current time, which
 * `utimes` cannot set back, so a file with the same stamp as when it was read still holds what was read, with one
 * exception git calls racy: a write within the same clock tick as the stat leaves the stamp as it was. A file changed
 * less than RACY_MS before the moment of the stat gets no stamp, and is read again next time.
 */
import { type BigIntStats, statSync } from 'node:fs';

/**
 * Linux stamps files from a clock that ticks every 1-10 ms; FAT keeps modification times to 2 s and some file systems
 * to 1 s. Two seconds cover the coarsest of them (and a network file server's clock up to a second behind ours); the
 * cost is only that a file this young is read again on the next run.
 */
export const RACY_MS = 2000;

/**
 * The stamp of a regular file (or a folder: adding, removing or renaming an entry sets its times) as `stat` shows it,
 * `statAt` being `Date.now()` taken BEFORE the stat (an earlier moment only makes the rule stricter). Undefined when
 * the stamp cannot be trusted: not of that kind, changed within RACY_MS of the stat, or changed "in the future" (the
 * clock went back).
 */
export function fileStamp(
  stat: BigIntStats | undefined,
  statAt: number,
  kind: 'file' | 'folder' = 'file',
): string | undefined {
  if (stat === undefined || !(kind === 'file' ? stat.isFile() : stat.isDirectory())) return undefined;
  const trustedBefore = BigInt(statAt - RACY_MS) * 1_000_000n;
  if (stat.mtimeNs >= trustedBefore || stat.ctimeNs >= trustedBefore) return undefined;
  return `${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.ino}`;
}

/** A file's stamp from a stat of its path now (undefined: missing, unreadable, or not to be trusted). */
export function statStamp(path: string): string | undefined {
  const at = Date.now();
  try {
    return fileStamp(statSync(path, { bigint: true, throwIfNoEntry: false }), at);
  } catch {
    return undefined; // a file that cannot be stat'ed is read (and fails) as before
  }
}
