/**
 * The last stage of a run: the planned steps through the shared graph scheduler, with live progress and a run
 * record rewritten after every change, so `--resume` can continue a run that failed, was interrupted or died.
 */
import { relative } from 'node:path';
import { StrataError } from '../errors.ts';
import { formatCommand, holdSignals, interruptSignal } from '../exec/index.ts';
import { type GraphNode, type GraphRunResult, runGraph } from '../graph/index.ts';
import type { DryRunPlan } from '../util/plan.ts';
import type { RunSettings } from './options.ts';
import type { PlannedStep, StepPlan } from './plan.ts';
import { createProgress, type Progress } from './progress.ts';
import { type RunRecord, type RunStatus, recordId, type StepRecord, type StepStatus, writeRecord } from './record.ts';
import type { ResolvedRun } from './resolve.ts';
import { runStep, StepFailure, StepInterrupted } from './step.ts';

export interface WorkflowRunResult {
  status: RunStatus;
  exitCode: number;
  record?: RunRecord;
  recordPath?: string;
  /** A dry run: the steps in run order. */
  plan?: DryRunPlan;
}

/** A failed or interrupted run: exit code of the failed step (or 128+signal), with the record attached. */
export class WorkflowRunError extends StrataError {
  constructor(
    message: string,
    readonly result: WorkflowRunResult,
    options: { details?: string; hint?: string },
  ) {
    super(message, { ...options, exitCode: result.exitCode });
    this.name = 'WorkflowRunError';
  }
}

/** POSIX single quotes, always: the resume hint shows them as Atmos does (`--from-step 'step1'`). */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function resumeHint(workflow: string, fileArg: string, step: string, stack?: string): string {
  return `strata workflow ${formatCommand(workflow, [])} -f ${formatCommand(fileArg, [])} --from-step ${quote(step)}${
    stack ? ` -s ${quote(stack)}` : ''
  }`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
}

/** Runs the plan. Resolves on success; throws WorkflowRunError (after writing the run record) on failure. */
export async function executeRun(run: ResolvedRun, plan: StepPlan, settings: RunSettings): Promise<WorkflowRunResult> {
  const execution = new Execution(run, plan, settings);
  const releaseSignals = holdSignals();
  const interrupt = interruptSignal();
  execution.save();
  let graphResult: GraphRunResult;
  try {
    graphResult = await runGraph(plan.nodes, (node, signal) => execution.runNode(node, signal, interrupt), {
      maxConcurrency: settings.maxConcurrency,
      onError: 'stop',
      signal: interrupt,
    });
  } finally {
    execution.progress.end();
    releaseSignals();
  }
  execution.settle(graphResult);
  if (interrupt.aborted) throw execution.interrupted(String(interrupt.reason ?? 'SIGINT'));
  if (graphResult.failed.length > 0) throw execution.failed(graphResult.failed[0]);
  return execution.succeeded();
}

/** The state of one run: its record, where it is saved, the progress display and the first step that failed. */
class Execution {
  readonly record: RunRecord;
  readonly progress: Progress;
  private recordPath: string | undefined;
  private firstFailure: { step: PlannedStep; failure: StepFailure } | undefined;
  private readonly byName: Map<string, PlannedStep>;

  constructor(
    private readonly run: ResolvedRun,
    plan: StepPlan,
    private readonly settings: RunSettings,
  ) {
    this.record = newRecord(run, plan.steps, settings);
    this.byName = new Map(plan.steps.map((p) => [p.step.name, p]));
    this.progress = createProgress(
      settings.progress,
      plan.nodes.map((n) => ({ name: n.id, display: n.data.display })),
      { prefixOutput: plan.parallel && settings.maxConcurrency > 1, streams: settings.streams },
    );
  }

  save = (): void => {
    if (this.settings.records !== false) this.recordPath = writeRecord(this.settings.basePath, this.record);
  };

  async runNode(node: GraphNode<PlannedStep>, signal: AbortSignal, interrupt: AbortSignal): Promise<void> {
    const p = node.data;
    const rec = this.record.steps[p.index];
    const started = Date.now();
    rec.status = 'running';
    rec.startedAt = new Date(started).toISOString();
    const finish = (status: StepStatus, detail?: string) => {
      rec.status = status;
      rec.finishedAt = new Date().toISOString();
      rec.durationMs = Date.now() - started;
      this.progress.finish(p.step.name, status, rec.durationMs, detail);
      this.save();
    };
    try {
      await runStep(p, { record: rec, signal, progress: this.progress, save: this.save });
      finish('succeeded');
    } catch (error) {
      if (error instanceof StepFailure) {
        rec.exitCode = error.exitCode;
        rec.error = error.reason;
        this.firstFailure ??= { step: p, failure: error };
        finish(error.status, error.reason);
      } else if (error instanceof StepInterrupted || interrupt.aborted) {
        rec.error = `interrupted by ${String(interrupt.reason ?? 'signal')}`;
        finish('interrupted');
      } else {
        rec.error = error instanceof Error ? error.message : String(error);
        finish('failed', rec.error);
      }
      throw error;
    }
  }

  /** Steps the scheduler never started are cancelled; the run's end time is set. */
  settle(graphResult: GraphRunResult): void {
    for (const [id, outcome] of graphResult.outcomes) {
      const rec = this.record.steps[this.byName.get(id)!.index];
      if (outcome.outcome === 'cancelled' || outcome.outcome === 'skipped') rec.status = 'cancelled';
    }
    const finished = Date.now();
    this.record.finishedAt = new Date(finished).toISOString();
    this.record.durationMs = finished - Date.parse(this.record.startedAt);
  }

  interrupted(signalName: string): WorkflowRunError {
    const { record } = this;
    const name = this.run.name;
    const stopped = record.steps.filter((s) => s.status === 'interrupted').map((s) => s.name);
    record.status = 'interrupted';
    record.signal = signalName;
    record.resumeCommand = `strata workflow ${formatCommand(name, [])} --resume`;
    this.save();
    const exitCode = signalName === 'SIGTERM' ? 143 : 130;
    const { recordPath } = this;
    return new WorkflowRunError(
      `workflow ${name} interrupted by ${signalName}${stopped.length > 0 ? ` during step ${stopped.join(', ')}` : ''}`,
      { status: 'interrupted', exitCode, record, recordPath },
      {
        details: recordPath ? `Run record: ${relative(process.cwd(), recordPath)}` : undefined,
        hint: `To continue from the first unfinished step, run:\n\n ${record.resumeCommand}`,
      },
    );
  }

  /** `firstGraphFailure` names the failed step when no step recorded a StepFailure (an unexpected error). */
  failed(firstGraphFailure: string): WorkflowRunError {
    const { record } = this;
    const name = this.run.name;
    const failedId = this.firstFailure?.step.step.name ?? firstGraphFailure;
    const failedStep = this.byName.get(failedId)!;
    const failure = this.firstFailure?.failure;
    const exitCode = failure?.exitCode ?? 1;
    record.status = 'failed';
    record.failedStep = failedId;
    record.failedCommand = failedStep.display;
    record.resumeCommand = resumeHint(name, this.run.location.fileArg, failedId, this.settings.stack);
    this.save();
    const rec = record.steps[failedStep.index];
    const attempts = failure?.attempts ?? rec.attempts;
    const reason = failure?.reason ?? rec.error ?? 'failed';
    const { recordPath } = this;
    return new WorkflowRunError(
      `workflow step execution failed: max attempts (${attempts}) exceeded, last error: step ${failedId} ${reason}`,
      { status: 'failed', exitCode, record, recordPath },
      {
        details: `The following command failed to execute:\n\n${indent(failedStep.display)}${
          recordPath ? `\n\nRun record: ${relative(process.cwd(), recordPath)}` : ''
        }`,
        hint: `To resume the workflow from this step, run:\n\n ${record.resumeCommand}\n\nor continue this run with: strata workflow ${formatCommand(name, [])} --resume`,
      },
    );
  }

  succeeded(): WorkflowRunResult {
    this.record.status = 'succeeded';
    this.save();
    return { status: 'succeeded', exitCode: 0, record: this.record, recordPath: this.recordPath };
  }
}

function newRecord(run: ResolvedRun, steps: PlannedStep[], settings: RunSettings): RunRecord {
  const { previous } = run;
  return {
    version: 1,
    id: recordId(),
    workflow: run.name,
    file: relative(settings.workflowsDir, run.location.file),
    fileArg: run.location.fileArg,
    ...(run.stack ? { stack: run.stack } : {}),
    status: 'running',
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...(settings.fromStep ? { fromStep: settings.fromStep } : {}),
    ...(previous ? { resumedFrom: previous.id } : {}),
    steps: steps.map(
      (p): StepRecord => ({
        name: p.step.name,
        type: p.step.type,
        command: p.display,
        ...(p.stack ? { stack: p.stack } : {}),
        needs: p.needs,
        status: p.done ?? 'pending',
        attempts: 0,
        ...(p.done && previous ? { reusedFrom: previous.id } : {}),
        output: [],
      }),
    ),
  };
}
