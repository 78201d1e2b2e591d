import { readFileSync } from 'node:fs';

/**
 * Whether a process with this pid exists on this host (EPERM: it exists but belongs to someone else). A zombie (it
 * exited; its parent has not reaped it yet) is not alive: a daemon whose starter is gone waits for init to reap it,
 * which some container inits do late or never.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !zombie(pid);
}

/** Linux: the state in /proc/<pid>/stat is Z (or X, being removed); elsewhere, or when unreadable, not known: no. */
function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}
