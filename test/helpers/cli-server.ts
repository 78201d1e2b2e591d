/**
 * strata's CLI kept loaded in one child process, for tests that run hundreds of read-only commands (the Atmos
 * conformance cases and examples): each request runs `main(argv)` with its own folder and environment and its
 * output captured, one at a time. It saves ~0.3 s of start-up per command; tests of start-up, signals, exit
 * behaviour or the installed package keep spawning the real binary (runCli, installedStrata).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { CliResult } from './cli.ts';
import { repoRoot } from './shared.ts';

export interface CliServer {
  run(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult>;
  close(): void;
}

export async function startCliServer(): Promise<CliServer> {
  const child: ChildProcess = fork(join(repoRoot, 'test', 'helpers', 'cli-server-child.mjs'), [], {
    cwd: repoRoot,
    // Stray output outside a request must not reach this test process's stdout (the test runner's channel).
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.pipe(process.stderr);
  const pending = new Map<number, (result: CliResult) => void>();
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the CLI server exited with ${code} before it was ready`)));
    child.once('message', () => resolve());
  });
  child.on('message', (message: CliResult & { id: number }) => {
    pending.get(message.id)?.({ code: message.code, stdout: message.stdout, stderr: message.stderr });
    pending.delete(message.id);
  });
  child.on('exit', (code) => {
    for (const resolve of pending.values())
      resolve({ code: 1, stdout: '', stderr: `the CLI server exited with ${code}` });
    pending.clear();
  });
  return {
    run(args, { cwd, env = {} }) {
      const id = next++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.send({ id, args, cwd, env });
      });
    },
    close() {
      child.kill();
    },
  };
}
