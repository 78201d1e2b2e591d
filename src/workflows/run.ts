/**
 * The workflow engine, in three stages: resolve (which workflow, which stack, which steps are already done), plan
 * (each step's command, stack and environment, as Atmos resolves them) and execute (the shared graph scheduler,
 * sequential unless steps declare `needs`, with retries, timeouts, waits and a run record `--resume` continues from).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executeRun, type WorkflowRunResult } from './execute.ts';
import type { RunSettings, RunWorkflowOptions } from './options.ts';
import { dryRunPlan, planRun } from './plan.ts';
import { silentStreams } from './progress.ts';
import { resolveRun } from './resolve.ts';

/** Whether this process is a single executable (Node SEA): then process.execPath is strata itself. */
function isSingleExecutable(): boolean {
  try {
    const sea = process.getBuiltinModule?.('node:sea') as { isSea?: () => boolean } | undefined;
    return sea?.isSea?.() === true;
  } catch {
    return false;
  }
}

/**
 * strata's own entry script: the `bin` of the package this code was loaded from, found by walking up from this
 * module (src/workflows/ run through tsx, dist/ in the bundle, node_modules/strata/ once installed).
 */
function packageBin(): string | undefined {
  let dir: string;
  try {
    dir = dirname(fileURLToPath(import.meta.url));
  } catch {
    return undefined;
  }
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: Record<string, string> }).bin?.strata;
      if (bin && existsSync(join(dir, bin))) return join(dir, bin);
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * How `strata` workflow steps start strata: the running single executable itself, else node with the package's
 * entry script, else whatever script this process was started with.
 */
export function strataInvocation(): { command: string; args: string[] } {
  if (isSingleExecutable()) return { command: process.execPath, args: [] };
  const script = packageBin() ?? process.argv[1];
  return { command: process.execPath, args: script ? [script] : [] };
}

function withDefaults(options: RunWorkflowOptions): RunSettings {
  return {
    ...options,
    basePath: options.basePath ?? process.cwd(),
    maxConcurrency: options.maxConcurrency ?? 4,
    streams: options.streams ?? silentStreams,
    progress: options.progress ?? 'none',
    strata: options.strata ?? strataInvocation(),
  };
}

/**
 * Runs a workflow, or plans it (`dryRun`: the result's `plan`, nothing runs). Resolves on success; throws
 * WorkflowRunError (after writing the run record) on failure.
 */
export async function runWorkflow(name: string, options: RunWorkflowOptions): Promise<WorkflowRunResult> {
  const settings = withDefaults(options);
  const run = resolveRun(name, settings);
  const plan = planRun(run, settings);
  if (settings.dryRun) return { status: 'succeeded', exitCode: 0, plan: dryRunPlan(run, plan, settings) };
  return executeRun(run, plan, settings);
}
