import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../src/workflows/index.ts';
import { cliEntry } from '../helpers/cli.ts';

/** A project folder with an atmos.yaml whose workflows live in stacks/workflows. */
export function makeProject(manifests: Record<string, string>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'strata-wf-'));
  writeFileSync(
    join(dir, 'atmos.yaml'),
    'base_path: "./"\nstacks:\n  base_path: stacks\nworkflows:\n  base_path: stacks/workflows\n',
  );
  mkdirSync(join(dir, 'stacks', 'workflows'), { recursive: true });
  for (const [name, text] of Object.entries(manifests)) writeFileSync(join(dir, 'stacks', 'workflows', name), text);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Environment that pins config discovery to the project folder (as Atmos's own test harness does). */
export function projectEnv(dir: string): NodeJS.ProcessEnv {
  return { ATMOS_CLI_CONFIG_PATH: dir, ATMOS_GIT_ROOT_BASEPATH: 'false', NO_COLOR: '1', CI: '' };
}

export interface AsyncCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the stream (default stdout: step output, not the progress lines that echo commands) has the text. */
  waitFor: (text: string, stream?: 'stdout' | 'stderr') => Promise<void>;
  done: Promise<{ code: number; stdout: string; stderr: string; ms: number }>;
}

/**
 * The real `strata` binary like runCli, but without blocking this process: tests that serve HTTP/TCP or send
 * signals need their event loop while strata runs.
 */
export function startCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): AsyncCli {
  const started = Date.now();
  const child = spawn(process.execPath, [cliEntry, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
  });
  let out = '';
  let err = '';
  const waiters: Array<{ text: string; stream: 'stdout' | 'stderr'; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if ((w.stream === 'stdout' ? out : err).includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    check();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    check();
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string; ms: number }>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: out, stderr: err, ms: Date.now() - started })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor: (text, stream = 'stdout') =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ text, stream, resolve });
        check();
        void done.then(() => reject(new Error(`strata exited before printing '${text}'\n${out}\n${err}`)));
      }),
    done,
  };
}

export function runCliAsync(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return startCli(args, options).done;
}

/** Run records of a workflow, oldest first. */
export function records(dir: string, workflow: string): RunRecord[] {
  const runs = join(dir, '.strata', 'runs', workflow);
  return readdirSync(runs)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(runs, f), 'utf8')) as RunRecord);
}
