/**
 * A runner first plans its work as steps (files to write or delete, commands to run), then either returns them as
 * a dry-run plan (exact commands and file contents, nothing run) or executes them in order.
 */
import { rm } from 'node:fs/promises';
import { relative } from 'node:path';
import { formatCommand, type RunResult, run, shellQuote } from '../exec/index.ts';
import { globalMasker, Masker } from '../util/mask.ts';
import type { DryRunPlan, PlannedAction } from '../util/plan.ts';
import { writeComponentFile } from './common.ts';
import { useSharedFile } from './file-users.ts';

export interface RunStep {
  type: 'run';
  /** Why this command runs, e.g. `init`, `workspace`, `main`. */
  role: string;
  command: string;
  args: string[];
  cwd: string;
  /** Only the variables strata sets; merged over the inherited environment. */
  env: Record<string, string | undefined>;
  /** The child gets the terminal (prompts, `shell`); nothing is captured or masked. */
  interactive?: boolean;
  /** Output is shown only when the step (and its fallback) fails. */
  quiet?: boolean;
  /** Run when this step fails, e.g. `workspace new` after `workspace select`. */
  orElse?: { args: string[] };
  /** Write the command's stdout (unmasked: it is input for the next command) to this file. */
  stdoutTo?: string;
}

export interface WriteStep {
  type: 'write';
  path: string;
  content: string;
  mode?: number;
}

export interface DeleteStep {
  type: 'delete';
  path: string;
  /** Also runs when an earlier command failed or was interrupted (temporary files holding secrets). */
  always?: boolean;
  /** Other runs may still read the file: only the last run using it deletes it (file-users.ts). */
  shared?: boolean;
}

export type Step = RunStep | WriteStep | DeleteStep;

export interface ExecuteOptions {
  /** Where command output goes: live with a prefix (default) or to a callback (grouped output). */
  prefix?: string;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Capture the main command's output without printing it (e.g. `output -json` read by strata). */
  captureMain?: boolean;
  signal?: AbortSignal;
}

export interface ExecuteResult {
  exitCode: number;
  /** The last command that ran (the failing one when exitCode != 0). */
  last?: RunResult;
  /** The `main` role command, when it ran. */
  main?: RunResult;
  interrupted: boolean;
}

export async function executeSteps(steps: Step[], options: ExecuteOptions = {}): Promise<ExecuteResult> {
  const result: ExecuteResult = { exitCode: 0, interrupted: false };
  // Registered before anything is written, so a run finishing meanwhile sees this one.
  const releases = new Map<string, () => Promise<boolean>>();
  for (const step of steps) {
    if (step.type === 'delete' && step.shared) releases.set(step.path, await useSharedFile(step.path));
  }
  const remove = async (step: DeleteStep) => {
    const release = releases.get(step.path);
    releases.delete(step.path);
    if (!release || (await release())) await rm(step.path, { recursive: true, force: true });
  };
  let failed = false;
  let index = 0;
  try {
    for (; index < steps.length; index++) {
      const step = steps[index];
      if (failed && !(step.type === 'delete' && step.always)) continue;
      if (step.type === 'write') await writeComponentFile(step.path, step.content, step.mode);
      else if (step.type === 'delete') await remove(step);
      else {
        const outcome = await runStep(step, options);
        result.last = outcome;
        if (step.role === 'main') result.main = outcome;
        if (outcome.interrupted) result.interrupted = true;
        if (outcome.exitCode !== 0 || outcome.interrupted) {
          result.exitCode = outcome.exitCode === 0 ? 130 : outcome.exitCode;
          failed = true;
        }
      }
    }
  } catch (error) {
    // A write failed or a tool is missing: temporary files holding secrets are still removed.
    for (const step of steps.slice(index + 1)) {
      if (step.type === 'delete' && step.always) await remove(step);
    }
    throw error;
  }
  return result;
}

async function runStep(step: RunStep, options: ExecuteOptions): Promise<RunResult> {
  if (step.interactive) {
    return run(step.command, step.args, { cwd: step.cwd, env: step.env, stdio: 'inherit', signal: options.signal });
  }
  if (step.stdoutTo) {
    // Rendered manifests carry real values: capture them unmasked, and only print stderr (masked) on failure.
    const result = await run(step.command, step.args, {
      cwd: step.cwd,
      env: step.env,
      stdio: 'capture',
      masker: new Masker(),
      signal: options.signal,
    });
    if (result.exitCode === 0) await writeComponentFile(step.stdoutTo, `${result.stdout}\n`, 0o600);
    else for (const line of result.stderr.split('\n')) printLine(globalMasker.mask(line), 'stderr', options);
    return result;
  }
  const buffered: Array<[string, 'stdout' | 'stderr']> = [];
  // Preparation (init, workspace) prints to stderr, so stdout holds only the command the user asked for:
  // `strata terraform output vpc -s dev -json | jq` works.
  const toStream = (stream: 'stdout' | 'stderr') => (step.role === 'main' ? stream : 'stderr');
  const print = (line: string, stream: 'stdout' | 'stderr') => printLine(line, toStream(stream), options);
  const capture = step.quiet || (step.role === 'main' && options.captureMain);
  const first = await run(step.command, step.args, {
    cwd: step.cwd,
    env: step.env,
    stdio: capture ? 'capture' : 'stream',
    prefix: options.prefix,
    onLine: capture ? (line, stream) => buffered.push([line, stream]) : print,
    signal: options.signal,
  });
  if (first.exitCode === 0 || first.interrupted || !step.orElse) {
    if (first.exitCode !== 0 && step.quiet) for (const [line, stream] of buffered) print(line, stream);
    return first;
  }
  const second = await run(step.command, step.orElse.args, {
    cwd: step.cwd,
    env: step.env,
    stdio: 'stream',
    prefix: options.prefix,
    onLine: print,
    signal: options.signal,
  });
  if (second.exitCode !== 0) for (const [line, stream] of buffered) print(line, stream);
  return second;
}

function printLine(line: string, stream: 'stdout' | 'stderr', options: ExecuteOptions): void {
  if (options.onLine) options.onLine(line, stream);
  else process[stream].write(`${options.prefix ?? ''}${line}\n`);
}

/**
 * The dry run of some steps: environment, files with their (masked) contents, and the exact commands, as the one
 * plan shape (util/plan.ts). Paths are shown relative to `baseDir` when inside it.
 */
export function planSteps(steps: Step[], baseDir: string): DryRunPlan {
  const actions: PlannedAction[] = [];
  const mask = (text: string) => globalMasker.mask(text);
  const shown = (path: string) => {
    const rel = relative(baseDir, path);
    return rel === '' || rel.startsWith('..') ? path : rel;
  };
  const envShown = new Set<string>();
  for (const step of steps) {
    if (step.type === 'write') {
      actions.push({
        kind: 'write',
        summary: `# write ${shown(step.path)}${step.mode !== undefined ? ` (mode ${step.mode.toString(8)})` : ''}`,
        path: step.path,
        // Line by line, as tools print them: a multi-line secret is registered line by line too.
        content: step.content.split('\n').map(mask).join('\n'),
      });
    } else if (step.type === 'delete') {
      actions.push({ kind: 'delete', summary: `rm -rf ${shellQuote(shown(step.path))}`, path: step.path });
    } else {
      const env: Record<string, string | undefined> = {};
      for (const [key, value] of Object.entries(step.env)) {
        env[key] = value === undefined ? undefined : mask(value);
        if (envShown.has(`${key}=${value}`)) continue;
        envShown.add(`${key}=${value}`);
        actions.push({
          kind: 'set',
          summary: value === undefined ? `unset ${key}` : `export ${key}=${shellQuote(mask(value))}`,
        });
      }
      const command = mask(formatCommand(step.command, step.args));
      const fallback = step.orElse ? ` || ${mask(formatCommand(step.command, step.orElse.args))}` : '';
      const redirect = step.stdoutTo ? ` > ${shellQuote(shown(step.stdoutTo))}` : '';
      actions.push({
        kind: 'run',
        summary: `(cd ${shellQuote(shown(step.cwd))} && ${command}${fallback}${redirect})`,
        command: { program: step.command, args: step.args.map(mask), cwd: step.cwd, env },
      });
    }
  }
  return { actions };
}
