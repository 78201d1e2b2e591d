/**
 * The workflow engine: resolves each step's command and stack as Atmos does, runs the steps through the shared graph
 * scheduler (sequential unless steps declare `needs`), retries, times out, waits, and keeps a run record that
 * `--resume` continues from.
 */
import { join, relative, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { StrataError, UsageError } from '../errors.ts';
import { formatCommand, holdSignals, interruptSignal, run, ToolNotFoundError } from '../exec/index.ts';
import { GraphCycleError, type GraphNode, runGraph, topologicalLevels, validateGraph } from '../graph/index.ts';
import { globalMasker } from '../util/mask.ts';
import { didYouMean } from '../util/suggest.ts';
import { findWorkflow, type WorkflowLocation } from './discover.ts';
import { formatDuration, type RetryPolicy, type Workflow, type WorkflowStep } from './model.ts';
import { chooseProgressMode, createProgress, type Progress, type ProgressMode } from './progress.ts';
import {
  OUTPUT_TAIL_LINES,
  type RunRecord,
  type RunStatus,
  recordId,
  resumableRecord,
  type StepRecord,
  type StepStatus,
  writeRecord,
} from './record.ts';
import { describeCondition, WaitTimeoutError, waitUntil } from './wait.ts';
import { splitWords, withStack } from './words.ts';

export interface RunWorkflowOptions {
  /** Absolute `workflows.base_path`. */
  workflowsDir: string;
  /** Base path: working_directory is relative to it, run records go under `<basePath>/.strata/runs`. Default cwd. */
  basePath?: string;
  /** `-f`: manifest relative to the workflows folder, extension optional. Found automatically when omitted. */
  file?: string;
  /** `--stack`: highest precedence. */
  stack?: string;
  fromStep?: string;
  /** Continue the last failed/interrupted run of this workflow from its first unfinished step. */
  resume?: boolean;
  dryRun?: boolean;
  /** Parallel steps at most (only steps with `needs` can run in parallel). Default 4. */
  maxConcurrency?: number;
  /** Extra environment for every step (lowest precedence), e.g. ATMOS_CONFIG so nested strata finds the same config. */
  env?: Record<string, string>;
  progress?: ProgressMode;
  /** How `strata` steps start strata. Default: this Node binary with this repository's bin/strata.js. */
  strata?: { command: string; args: string[] };
  /** Where --dry-run prints. Default: stdout. */
  write?: (text: string) => void;
  /** Write run records (default true; never in --dry-run). */
  records?: boolean;
}

export interface WorkflowRunResult {
  status: RunStatus;
  exitCode: number;
  record?: RunRecord;
  recordPath?: string;
  /** --dry-run: one line per step, in run order. */
  plan?: string[];
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

interface PlannedStep {
  step: WorkflowStep;
  index: number;
  /** The stack applied to this step (strata steps only). */
  stack?: string;
  command: string;
  args: string[];
  display: string;
  env: Record<string, string>;
  cwd: string;
  needs: string[];
  done: StepStatus | undefined;
}

export function strataInvocation(): { command: string; args: string[] } {
  return { command: process.execPath, args: [fileURLToPath(new URL('../../bin/strata.js', import.meta.url))] };
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

/** Step i implicitly needs step i-1 unless it lists `needs` (Atmos runs steps in file order). */
function stepNeeds(workflow: Workflow, index: number): string[] {
  const step = workflow.steps[index];
  if (step.needs) return step.needs;
  return index === 0 ? [] : [workflow.steps[index - 1].name];
}

function plan(
  workflow: Workflow,
  options: RunWorkflowOptions,
  stack: string | undefined,
  done: Map<string, StepStatus>,
): PlannedStep[] {
  const basePath = options.basePath ?? process.cwd();
  const strata = options.strata ?? strataInvocation();
  let exported: Record<string, string> = {};
  return workflow.steps.map((step, index) => {
    const env = { ...options.env, ...workflow.env, ...exported, ...step.env };
    if (step.type === 'env') exported = { ...exported, ...step.vars };
    const cwd = step.workingDirectory ? resolve(basePath, step.workingDirectory) : process.cwd();
    const planned: PlannedStep = {
      step,
      index,
      command: '',
      args: [],
      display: '',
      env,
      cwd,
      needs: stepNeeds(workflow, index),
      done: done.get(step.name),
    };
    if (step.type === 'strata' || step.type === 'atmos') {
      // Precedence, lowest first: the command's own -s, the workflow's stack, the step's stack, the CLI --stack.
      const finalStack = stack ?? step.stack ?? workflow.stack;
      let words = splitWords(step.command);
      if (words[0] === 'strata' || words[0] === 'atmos') words = words.slice(1);
      const args = withStack(words, finalStack);
      planned.stack = finalStack ?? stackIn(words);
      planned.command = strata.command;
      planned.args = [...strata.args, ...args];
      planned.display = formatCommand('strata', args);
    } else if (step.type === 'shell') {
      planned.command = 'bash';
      planned.args = ['-c', step.command];
      planned.display = step.command;
    } else if (step.type === 'wait' && step.wait) {
      planned.display = `wait until ${describeCondition(step.wait.until)} (every ${formatDuration(
        step.wait.intervalMs,
      )}, up to ${formatDuration(step.wait.timeoutMs)})`;
    } else if (step.type === 'env') {
      planned.display = `set ${Object.keys(step.vars ?? {}).join(', ') || '(nothing)'} for later steps`;
    }
    planned.display = globalMasker.mask(planned.display);
    return planned;
  });
}

function stackIn(words: string[]): string | undefined {
  for (let i = 0; i < words.length && words[i] !== '--'; i++) {
    if (words[i] === '-s' || words[i] === '--stack') return words[i + 1];
    const match = /^(?:-s|--stack)=(.*)$/.exec(words[i]);
    if (match) return match[1];
  }
  return undefined;
}

function retryDelay(policy: RetryPolicy, attempt: number): number {
  let ms = policy.delayMs;
  if (policy.backoff === 'linear') ms = policy.delayMs * attempt;
  if (policy.backoff === 'exponential') ms = policy.delayMs * policy.multiplier ** (attempt - 1);
  if (policy.maxDelayMs !== undefined) ms = Math.min(ms, policy.maxDelayMs);
  if (policy.jitter > 0) ms *= 1 + (Math.random() * 2 - 1) * policy.jitter;
  return Math.max(0, Math.round(ms));
}

class StepFailure extends Error {
  constructor(
    readonly status: 'failed' | 'timed_out',
    readonly exitCode: number,
    readonly reason: string,
    readonly attempts: number,
  ) {
    super(reason);
  }
}

class StepInterrupted extends Error {}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
}

function resolveLocation(
  name: string,
  options: RunWorkflowOptions,
): { location: WorkflowLocation; previous?: RunRecord } {
  const basePath = options.basePath ?? process.cwd();
  if (!options.resume) {
    return { location: findWorkflow(options.workflowsDir, name, { file: options.file, basePath }) };
  }
  if (options.fromStep) throw new UsageError('--resume and --from-step cannot be used together');
  const previous = resumableRecord(basePath, name);
  const location = findWorkflow(options.workflowsDir, name, {
    file: options.file ?? join(options.workflowsDir, previous.file),
    basePath,
  });
  location.fileArg = options.file ?? previous.fileArg;
  return { location, previous };
}

/** Runs a workflow. Resolves on success; throws WorkflowRunError (after writing the run record) on failure. */
export async function runWorkflow(name: string, options: RunWorkflowOptions): Promise<WorkflowRunResult> {
  const basePath = options.basePath ?? process.cwd();
  const { location, previous } = resolveLocation(name, options);
  const { workflow } = location;
  const stack = options.stack ?? previous?.stack;

  if (workflow.steps.length === 0) {
    throw new StrataError(
      `workflow has no steps defined: workflow ${name} is empty and requires at least one step to execute`,
      { location: workflow.location, hint: 'add steps, e.g.  steps: [{ command: terraform plan vpc, stack: dev }]' },
    );
  }
  const stepNames = workflow.steps.map((s) => s.name);
  try {
    validateGraph(workflow.steps.map((s, i) => ({ id: s.name, needs: stepNeeds(workflow, i), data: s })));
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    const hint =
      error instanceof GraphCycleError
        ? 'each step needs the next one in this list; remove one of these needs'
        : error.hint;
    throw new StrataError(`workflow ${name}: ${error.message}`, { location: workflow.location, hint });
  }

  const done = new Map<string, StepStatus>();
  if (options.fromStep !== undefined) {
    const from = stepNames.indexOf(options.fromStep);
    if (from < 0) {
      throw new StrataError(
        `invalid from-step flag: the --from-step flag was set to ${options.fromStep}, but this step does not exist in workflow ${name}`,
        {
          details: `Available steps:\n\n${stepNames.map((s) => `  • ${s}`).join('\n')}`,
          hint: didYouMean(options.fromStep, stepNames),
        },
      );
    }
    for (const s of stepNames.slice(0, from)) done.set(s, 'skipped');
  }
  if (previous) {
    for (const s of previous.steps) {
      if ((s.status === 'succeeded' || s.status === 'skipped') && stepNames.includes(s.name))
        done.set(s.name, s.status);
    }
  }

  const planned = plan(workflow, options, stack, done);
  const byName = new Map(planned.map((p) => [p.step.name, p]));
  const nodes: GraphNode<PlannedStep>[] = planned
    .filter((p) => !p.done)
    .map((p) => ({ id: p.step.name, needs: p.needs.filter((n) => !byName.get(n)?.done), data: p }));
  const parallel = workflow.steps.some((s) => s.needs !== undefined);

  if (options.dryRun) {
    const write = options.write ?? ((text: string) => process.stdout.write(text));
    const lines = topologicalLevels(nodes)
      .flat()
      .map((id) => {
        const p = byName.get(id)!;
        const extras = [
          p.step.type === 'strata' || p.step.type === 'atmos' ? '' : `type ${p.step.type}`,
          p.step.workingDirectory ? `in ${relative(process.cwd(), p.cwd) || '.'}` : '',
          parallel && p.needs.length > 0 ? `needs ${p.needs.join(', ')}` : '',
        ].filter(Boolean);
        return `${id}: ${p.display}${extras.length > 0 ? `  [${extras.join('; ')}]` : ''}`;
      });
    const skipped = planned.filter((p) => p.done).map((p) => p.step.name);
    write(`Dry run of workflow ${name} (${relative(options.workflowsDir, location.file)}): nothing is executed\n`);
    if (skipped.length > 0) write(`Not run (before --from-step or finished earlier): ${skipped.join(', ')}\n`);
    for (const line of lines) write(`${line}\n`);
    return { status: 'succeeded', exitCode: 0, plan: lines };
  }

  const record: RunRecord = {
    version: 1,
    id: recordId(),
    workflow: name,
    file: relative(options.workflowsDir, location.file),
    fileArg: location.fileArg,
    ...(stack ? { stack } : {}),
    status: 'running',
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...(options.fromStep ? { fromStep: options.fromStep } : {}),
    ...(previous ? { resumedFrom: previous.id } : {}),
    steps: planned.map(
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
  const recordsOn = options.records !== false;
  let recordPath: string | undefined;
  const save = () => {
    if (recordsOn) recordPath = writeRecord(basePath, record);
  };
  const stepRecord = (p: PlannedStep) => record.steps[p.index];

  const progress: Progress = createProgress(
    options.progress ?? chooseProgressMode(),
    nodes.map((n) => ({ name: n.id, display: n.data.display })),
    { prefixOutput: parallel && (options.maxConcurrency ?? 4) > 1 },
  );
  const releaseSignals = holdSignals();
  const interrupt = interruptSignal();
  let firstFailure: { step: PlannedStep; failure: StepFailure } | undefined;
  save();

  const execute = async (node: GraphNode<PlannedStep>, signal: AbortSignal): Promise<void> => {
    const p = node.data;
    const rec = stepRecord(p);
    const started = Date.now();
    rec.status = 'running';
    rec.startedAt = new Date(started).toISOString();
    const finish = (status: StepStatus, detail?: string) => {
      rec.status = status;
      rec.finishedAt = new Date().toISOString();
      rec.durationMs = Date.now() - started;
      progress.finish(p.step.name, status, rec.durationMs, detail);
      save();
    };
    try {
      await runStep(p, rec, signal, progress, save);
      finish('succeeded');
    } catch (error) {
      if (error instanceof StepFailure) {
        rec.exitCode = error.exitCode;
        rec.error = error.reason;
        firstFailure ??= { step: p, failure: error };
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
  };

  let graphResult: Awaited<ReturnType<typeof runGraph<PlannedStep>>>;
  try {
    graphResult = await runGraph(nodes, execute, {
      maxConcurrency: options.maxConcurrency ?? 4,
      onError: 'stop',
      signal: interrupt,
    });
  } finally {
    progress.end();
    releaseSignals();
  }

  for (const [id, outcome] of graphResult.outcomes) {
    const rec = record.steps[byName.get(id)!.index];
    if (outcome.outcome === 'cancelled' || outcome.outcome === 'skipped') rec.status = 'cancelled';
  }
  const finished = Date.now();
  record.finishedAt = new Date(finished).toISOString();
  record.durationMs = finished - Date.parse(record.startedAt);

  if (interrupt.aborted) {
    const signalName = String(interrupt.reason ?? 'SIGINT');
    const stopped = record.steps.filter((s) => s.status === 'interrupted').map((s) => s.name);
    record.status = 'interrupted';
    record.signal = signalName;
    record.resumeCommand = `strata workflow ${formatCommand(name, [])} --resume`;
    save();
    const exitCode = signalName === 'SIGTERM' ? 143 : 130;
    throw new WorkflowRunError(
      `workflow ${name} interrupted by ${signalName}${stopped.length > 0 ? ` during step ${stopped.join(', ')}` : ''}`,
      { status: 'interrupted', exitCode, record, recordPath },
      {
        details: recordPath ? `Run record: ${relative(process.cwd(), recordPath)}` : undefined,
        hint: `To continue from the first unfinished step, run:\n\n ${record.resumeCommand}`,
      },
    );
  }

  if (graphResult.failed.length > 0) {
    const failedId = firstFailure?.step.step.name ?? graphResult.failed[0];
    const failedStep = byName.get(failedId)!;
    const failure = firstFailure?.failure;
    const exitCode = failure?.exitCode ?? 1;
    record.status = 'failed';
    record.failedStep = failedId;
    record.failedCommand = failedStep.display;
    record.resumeCommand = resumeHint(name, location.fileArg, failedId, options.stack);
    save();
    const rec = record.steps[failedStep.index];
    const attempts = failure?.attempts ?? rec.attempts;
    const reason = failure?.reason ?? rec.error ?? 'failed';
    throw new WorkflowRunError(
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

  record.status = 'succeeded';
  save();
  return { status: 'succeeded', exitCode: 0, record, recordPath };
}

async function runStep(
  p: PlannedStep,
  rec: StepRecord,
  signal: AbortSignal,
  progress: Progress,
  save: () => void,
): Promise<void> {
  const name = p.step.name;
  if (p.step.type === 'env') {
    rec.attempts = 1;
    progress.start(name, 1, 1);
    return;
  }
  if (p.step.type === 'wait' && p.step.wait) {
    rec.attempts = 1;
    progress.start(name, 1, 1);
    save();
    try {
      const probes = await waitUntil(p.step.wait.until, {
        intervalMs: p.step.wait.intervalMs,
        timeoutMs: p.step.wait.timeoutMs,
        signal,
        env: p.env,
        cwd: p.cwd,
        onAttempt: (attempt, reason) => progress.note(name, `not ready (probe ${attempt}: ${reason})`),
      });
      rec.attempts = probes;
      return;
    } catch (error) {
      if (error instanceof WaitTimeoutError) {
        rec.attempts = error.attempts;
        throw new StepFailure('timed_out', 1, error.message, 1);
      }
      if (signal.aborted) throw new StepInterrupted();
      throw error;
    }
  }

  const policy = p.step.retry;
  const maxAttempts = policy?.maxAttempts ?? 1;
  const tail: string[] = [];
  for (let attempt = 1; ; attempt++) {
    rec.attempts = attempt;
    progress.start(name, attempt, maxAttempts);
    save();
    let failure: StepFailure;
    try {
      const result = await run(p.command, p.args, {
        cwd: p.cwd,
        env: { ...p.env, STRATA_WORKFLOW_STEP: name },
        stdio: p.step.interactive ? 'inherit' : 'stream',
        timeoutMs: p.step.timeoutMs,
        onLine: (line, stream) => {
          tail.push(line);
          if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
          rec.output = [...tail];
          progress.output(name, line, stream);
        },
      });
      if (result.interrupted) throw new StepInterrupted();
      if (result.exitCode === 0) return;
      failure = result.timedOut
        ? new StepFailure('timed_out', 124, `timed out after ${formatDuration(p.step.timeoutMs ?? 0)}`, attempt)
        : new StepFailure('failed', result.exitCode, `exited with code ${result.exitCode}`, attempt);
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      // A missing tool or working directory: reported like a failed command (127 as shells report a missing one).
      failure = new StepFailure('failed', error instanceof ToolNotFoundError ? 127 : 1, error.message, attempt);
    }
    if (attempt >= maxAttempts || !policy) throw failure;
    const wait = retryDelay(policy, attempt);
    progress.note(name, `attempt ${attempt}/${maxAttempts} ${failure.reason}; retrying in ${formatDuration(wait)}`);
    try {
      await delay(wait, undefined, { signal });
    } catch {
      throw new StepInterrupted();
    }
  }
}
