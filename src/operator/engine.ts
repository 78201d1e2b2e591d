/**
 * The operator: walks a manifest's node graph to create, destroy or test it on Proxmox VE.
 * Ordering and parallel siblings come from the shared graph scheduler; every node transition is persisted to the
 * execution state before the run moves on, and the Proxmox API (names + marker) is the second source of truth that
 * makes resume after SIGKILL and destroy without state work. The phases live beside this file: create.ts,
 * destroy.ts, verify.ts, delegation.ts (nested hosts) and dry-run.ts.
 */
import { runCreate } from './create.ts';
import { reopenDelegations } from './delegation.ts';
import { runDestroy } from './destroy.ts';
import { dryRunPlan } from './dry-run.ts';
import { OperatorRun, round2 } from './run.ts';
import { acquireLock, newState, readState, StateStore, statePaths } from './state.ts';
import type { OperatorOptions, PhaseOutcome, PhaseResult, RunResult, Verb } from './types.ts';
import { runVerify } from './verify.ts';

export type { NodeReport, OperatorOptions, PhaseResult, ProgressEvent, RunResult, Verb } from './types.ts';

/** Runs and records a phase (`passed`: its message unless it gives one); the first failure is the run's error. */
async function phase(result: RunResult, name: string, fn: () => Promise<PhaseOutcome>, passed = ''): Promise<boolean> {
  const started = performance.now();
  const value = await fn();
  const duration = round2((performance.now() - started) / 1000);
  const entry: PhaseResult = { name, status: value.ok ? 'passed' : 'failed', duration };
  entry.message = value.ok ? (value.message ?? passed) : value.error;
  result.phases.push(entry);
  if (!value.ok) {
    result.success = false;
    result.error ??= value.error;
  }
  return value.ok;
}

/** create, then for test: verify, collect the context, destroy (after success; on failure per cleanup_on_failure). */
async function createAndTest(run: OperatorRun, verb: Verb, result: RunResult, resumed: boolean): Promise<void> {
  if (resumed) await reopenDelegations(run);
  const created = await phase(result, 'create', () => runCreate(run));
  if (verb !== 'test') return;
  let cleanup = run.manifest.settings.cleanupOnFailure;
  if (created) cleanup = (await phase(result, 'verify', () => runVerify(run))) || cleanup;
  // Collect the context before destroy clears vm ids and IPs.
  result.context = run.contextValues();
  result.nodes = run.nodeReports();
  if (!cleanup) {
    result.phases.push({ name: 'destroy', status: 'skipped', duration: 0, message: 'cleanup_on_failure is off' });
    return;
  }
  const done = result.success ? 'All nodes destroyed' : 'Cleaned up after failure';
  await phase(result, 'destroy', () => runDestroy(run), done);
}

async function dryRun(run: OperatorRun, verb: Verb, result: RunResult): Promise<void> {
  run.setup(false);
  result.dry_run = true;
  result.plan = await dryRunPlan(run, verb);
  result.nodes = run.plan.create_order.map((name) => ({ name, status: 'pending' }));
  result.success = true;
}

/** Runs create, destroy or test of a manifest. Never throws for a failed node: the result says what happened. */
export async function runOperator(verb: Verb, options: OperatorOptions): Promise<RunResult> {
  const started = performance.now();
  const run = new OperatorRun(options);
  const result: RunResult = {
    scenario: `manifest-${verb}-${options.manifest.name}`,
    verb,
    manifest: options.manifest.name,
    stack: run.stack,
    success: false,
    duration_seconds: 0,
    phases: [],
    nodes: [],
    context: {},
  };
  if (options.dryRun) await dryRun(run, verb, result);
  else await execute(run, verb, result);
  result.duration_seconds = round2((performance.now() - started) / 1000);
  return result;
}

/** The real run: under the manifest+stack lock, from the saved execution state if there is one. */
async function execute(run: OperatorRun, verb: Verb, result: RunResult): Promise<void> {
  run.setup(true);
  const paths = statePaths(run.o.stateDir, run.manifest.name, run.stack);
  const release = await acquireLock(paths.lock, run.o.command ?? `strata manifest ${verb}`);
  try {
    // Destroy trusts what fits of a damaged state and finds the rest through the API; the others refuse it.
    const salvage =
      verb === 'destroy'
        ? { manifest: run.manifest.name, stack: run.stack, report: (p: string) => run.log(p) }
        : undefined;
    const previous = run.o.resume === false ? undefined : await readState(paths.state, salvage);
    const state = previous ?? newState(run.manifest.name, run.stack, run.plan.create_order);
    state.endpoint = run.outer.endpoint.url;
    run.store = new StateStore(paths.state, state);
    for (const name of run.plan.create_order) run.store.node(name);
    result.success = true;
    if (verb === 'destroy') {
      await phase(result, 'destroy', () => runDestroy(run), 'All nodes destroyed');
    } else {
      await createAndTest(run, verb, result, previous !== undefined);
    }
    if (verb !== 'test') {
      result.nodes = run.nodeReports();
      result.context = run.contextValues();
    }
    if (run.leftover.size > 0) {
      result.success = false;
      result.leftover = [...run.leftover.values()];
    }
  } finally {
    await release();
    await run.close();
  }
}
