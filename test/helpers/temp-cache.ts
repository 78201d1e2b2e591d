/**
 * The suite's caches under the temp folder (the packed install, the single binary), one entry per content hash.
 * The temp folder may be a RAM file system (scripts/run-tests.mjs), so entries no run used for a while go.
 */
import { readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

const UNUSED_MS = 6 * 60 * 60 * 1000;

/**
 * Removes the entries under `base` (but `keep`) whose `marker` no run touched for 6 hours. An entry without its
 * marker is being made, or failed half-way: it is left alone.
 */
export function pruneUnused(base: string, marker: string, keep?: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const entry = join(base, name);
    if (entry === keep || name.endsWith('.lock')) continue;
    const used = statSync(join(entry, marker), { throwIfNoEntry: false })?.mtimeMs;
    if (used !== undefined && Date.now() - used > UNUSED_MS) rmSync(entry, { recursive: true, force: true });
  }
}

/** Marks `entry` used (touches its `marker`), then prunes the other entries under `base`. */
export function useAndPrune(base: string, entry: string, marker: string): void {
  const now = new Date();
  utimesSync(join(entry, marker), now, now);
  pruneUnused(base, marker, entry);
}
