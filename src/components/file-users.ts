/**
 * Files that concurrent runs share and the last one out removes: two runs of one stack and component write the same
 * var file (Atmos's name, in the component folder), and the one that finishes first must not delete it under the
 * other, which may still be waiting for the state lock (`-lock-timeout`) before Terraform reads it.
 * Each run registers itself (pid and a counter, so runs inside one process count apart) in a folder of the
 * temporary directory named by the file's path; a run that crashed is recognised by its pid no longer existing.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../util/pid.ts';

let runs = 0;

function usersDir(path: string): string {
  return join(tmpdir(), `strata-users-${createHash('sha256').update(path).digest('hex').slice(0, 20)}`);
}

/** Registers this run as a user of the file; returns the release function. */
export async function useSharedFile(path: string): Promise<() => Promise<boolean>> {
  const dir = usersDir(path);
  const me = `${process.pid}-${++runs}`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, me), '');
  /** Gives the file up; true when no other live run uses it, so the caller may delete it. */
  return async () => {
    await rm(join(dir, me), { force: true });
    const others = (await readdir(dir).catch(() => [] as string[])).filter((entry) =>
      processAlive(Number(entry.split('-')[0])),
    );
    if (others.length > 0) return false;
    await rm(dir, { recursive: true, force: true });
    return true;
  };
}
