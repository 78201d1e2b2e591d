/**
 * The workflow engine, in three stages: resolve (which workflow, which stack, which steps are already done), plan
 * (each step's command, stack and environment, as Atmos resolves them) and execute (the shared graph scheduler,
 * sequential unless steps declare `needs`, with retries, timeouts, waits and a run record `--resume` continues from).
 */
import { fileURLToPath } from 'node:url';
import { executeRun, type WorkflowRunResult } from './execute.ts';
import type { RunSettings, RunWorkflowOptions } from './options.ts';
import { dryRunPlan, planRun } from './plan.ts';
import { silentStreams } from './progress.ts';
import { resolveRun } from './resolve.ts';

export function strataInvocation(): { command: string; args: string[] } {
  return { command: process.execPath, args: [fileURLToPath(new URL('../../bin/strata.js', import.meta.url))] };
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
