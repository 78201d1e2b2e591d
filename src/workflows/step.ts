/** One step of a run: a command with retries and a timeout, a wait for a condition, or variables for later steps. */
import { setTimeout as delay } from 'node:timers/promises';
import { StrataError } from '../errors.ts';
import { run, ToolNotFoundError } from '../exec/index.ts';
import { formatDuration, type RetryPolicy } from './model.ts';
import { type PlannedStep, stepEnv } from './plan.ts';
import type { Progress } from './progress.ts';
import { OUTPUT_TAIL_LINES, type StepRecord } from './record.ts';
import { WaitTimeoutError, waitUntil } from './wait.ts';

/** A step that ran and failed or timed out (after its last attempt). */
export class StepFailure extends Error {
  constructor(
    readonly status: 'failed' | 'timed_out',
    readonly exitCode: number,
    readonly reason: string,
    readonly attempts: number,
  ) {
    super(reason);
  }
}

/** A step stopped by a signal. */
export class StepInterrupted extends Error {}

/** What a step reports to while it runs: its record (saved after each change) and the progress display. */
export interface StepContext {
  record: StepRecord;
  signal: AbortSignal;
  progress: Progress;
  save: () => void;
}

export async function runStep(p: PlannedStep, context: StepContext): Promise<void> {
  if (p.step.type === 'env') {
    context.record.attempts = 1;
    context.progress.start(p.step.name, 1, 1);
    return;
  }
  if (p.step.type === 'wait' && p.step.wait) return waitStep(p, p.step.wait, context);
  return commandStep(p, context);
}

async function waitStep(
  p: PlannedStep,
  wait: NonNullable<PlannedStep['step']['wait']>,
  { record, signal, progress, save }: StepContext,
): Promise<void> {
  const name = p.step.name;
  record.attempts = 1;
  progress.start(name, 1, 1);
  save();
  try {
    record.attempts = await waitUntil(wait.until, {
      intervalMs: wait.intervalMs,
      timeoutMs: wait.timeoutMs,
      signal,
      env: p.env,
      cwd: p.cwd,
      onAttempt: (attempt, reason) => progress.note(name, `not ready (probe ${attempt}: ${reason})`),
    });
  } catch (error) {
    if (error instanceof WaitTimeoutError) {
      record.attempts = error.attempts;
      throw new StepFailure('timed_out', 1, error.message, 1);
    }
    if (signal.aborted) throw new StepInterrupted();
    throw error;
  }
}

async function commandStep(p: PlannedStep, context: StepContext): Promise<void> {
  const { record, signal, progress, save } = context;
  const name = p.step.name;
  const policy = p.step.retry;
  const maxAttempts = policy?.maxAttempts ?? 1;
  const tail: string[] = [];
  for (let attempt = 1; ; attempt++) {
    record.attempts = attempt;
    progress.start(name, attempt, maxAttempts);
    save();
    const failure = await attemptCommand(p, attempt, context, tail);
    if (!failure) return;
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

/** Runs the command once; undefined when it succeeded. `tail` keeps the last output lines across attempts. */
async function attemptCommand(
  p: PlannedStep,
  attempt: number,
  { record, progress }: StepContext,
  tail: string[],
): Promise<StepFailure | undefined> {
  const name = p.step.name;
  try {
    const result = await run(p.command, p.args, {
      cwd: p.cwd,
      env: stepEnv(p),
      stdio: p.step.interactive ? 'inherit' : 'stream',
      timeoutMs: p.step.timeoutMs,
      onLine: (line, stream) => {
        tail.push(line);
        if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
        record.output = [...tail];
        progress.output(name, line, stream);
      },
    });
    if (result.interrupted) throw new StepInterrupted();
    if (result.exitCode === 0) return undefined;
    return result.timedOut
      ? new StepFailure('timed_out', 124, `timed out after ${formatDuration(p.step.timeoutMs ?? 0)}`, attempt)
      : new StepFailure('failed', result.exitCode, `exited with code ${result.exitCode}`, attempt);
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    // A missing tool or working directory: reported like a failed command (127 as shells report a missing one).
    return new StepFailure('failed', error instanceof ToolNotFoundError ? 127 : 1, error.message, attempt);
  }
}

function retryDelay(policy: RetryPolicy, attempt: number): number {
  let ms = policy.delayMs;
  if (policy.backoff === 'linear') ms = policy.delayMs * attempt;
  if (policy.backoff === 'exponential') ms = policy.delayMs * policy.multiplier ** (attempt - 1);
  if (policy.maxDelayMs !== undefined) ms = Math.min(ms, policy.maxDelayMs);
  if (policy.jitter > 0) ms *= 1 + (Math.random() * 2 - 1) * policy.jitter;
  return Math.max(0, Math.round(ms));
}
