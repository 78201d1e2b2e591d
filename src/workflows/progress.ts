/**
 * Live progress of a workflow run. On a terminal: a task list with timings, redrawn in place under the steps'
 * output. Otherwise (pipes, CI, NO_COLOR): plain timestamped lines. Progress goes to the `stderr` sink, step output
 * to `stdout`/`stderr` as the step wrote it, so `strata workflow x > out.txt` keeps only what the steps printed.
 * The sinks are handed in (the CLI passes the process's streams); nothing here writes to the terminal by itself.
 */
import { formatDuration } from './model.ts';
import { STATUS_ICONS, type StepStatus } from './record.ts';

/** Where text goes: `process.stdout` fits, and so does a collector in a test. */
export interface TextSink {
  write(text: string): unknown;
  /** A terminal: the task list needs one for stdout and stderr. */
  isTTY?: boolean;
  /** Terminal width for the task list (default 100). */
  columns?: number;
}

export interface WorkflowStreams {
  stdout: TextSink;
  stderr: TextSink;
}

/** Discards everything: the default for library callers (each step's last output lines stay in its run record). */
export const silentStreams: WorkflowStreams = { stdout: { write() {} }, stderr: { write() {} } };

export interface ProgressStep {
  name: string;
  display: string;
}

export interface Progress {
  start(step: string, attempt: number, maxAttempts: number): void;
  output(step: string, line: string, stream: 'stdout' | 'stderr'): void;
  note(step: string, message: string): void;
  finish(step: string, status: StepStatus, durationMs: number, detail?: string): void;
  end(): void;
}

export type ProgressMode = 'tty' | 'plain' | 'none';

export function chooseProgressMode(streams: WorkflowStreams, env: NodeJS.ProcessEnv = process.env): ProgressMode {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false';
  if (noColor || ci || env.TERM === 'dumb') return 'plain';
  return streams.stderr.isTTY && streams.stdout.isTTY ? 'tty' : 'plain';
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

type WriteOutput = Progress['output'];

export function createProgress(
  mode: ProgressMode,
  steps: ProgressStep[],
  options: { prefixOutput: boolean; streams: WorkflowStreams },
): Progress {
  const { streams } = options;
  const prefix = (step: string) => (options.prefixOutput ? `[${step}] ` : '');
  const writeOutput: WriteOutput = (step, line, stream) => streams[stream].write(`${prefix(step)}${line}\n`);
  if (mode === 'none') return { start() {}, output: writeOutput, note() {}, finish() {}, end() {} };
  const display = new Map(steps.map((s) => [s.name, s.display]));
  if (mode === 'plain') return plainProgress(display, writeOutput, streams.stderr);
  return taskList(steps, display, writeOutput, streams.stderr);
}

function plainProgress(display: Map<string, string>, writeOutput: WriteOutput, stderr: TextSink): Progress {
  const log = (text: string) => stderr.write(`[${clock()}] ${text}\n`);
  return {
    start(step, attempt, maxAttempts) {
      const retry = attempt > 1 ? ` (attempt ${attempt}/${maxAttempts})` : '';
      log(`▶ ${step}${retry}: ${display.get(step) ?? ''}`);
    },
    output: writeOutput,
    note(step, message) {
      log(`  ${step}: ${message}`);
    },
    finish(step, status, durationMs, detail) {
      log(`${STATUS_ICONS[status]} ${step} ${status} in ${formatDuration(durationMs)}${detail ? ` (${detail})` : ''}`);
    },
    end() {},
  };
}

interface StepState {
  status: StepStatus;
  started?: number;
  ms?: number;
  note?: string;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** TTY: the list occupies the last `drawn` lines of the terminal; output is written above it. */
function taskList(
  steps: ProgressStep[],
  display: Map<string, string>,
  writeOutput: WriteOutput,
  stderr: TextSink,
): Progress {
  const state = new Map<string, StepState>(steps.map((s) => [s.name, { status: 'pending' }]));
  let drawn = 0;
  let frame = 0;
  const clear = () => {
    if (drawn > 0) stderr.write(`\u001b[${drawn}A\u001b[0J`);
    drawn = 0;
  };
  const draw = () => {
    const lines = taskLines(steps, state, SPINNER[frame % SPINNER.length], stderr.columns || 100);
    stderr.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const redraw = () => {
    clear();
    draw();
  };
  const timer = setInterval(() => {
    frame++;
    redraw();
  }, 250);
  timer.unref();
  draw();
  return {
    start(step, attempt, maxAttempts) {
      const st = state.get(step)!;
      st.status = 'running';
      st.started = Date.now();
      st.note = attempt > 1 ? `attempt ${attempt}/${maxAttempts}: ${display.get(step)}` : undefined;
      redraw();
    },
    output(step, line, stream) {
      clear();
      writeOutput(step, line, stream);
      draw();
    },
    note(step, message) {
      state.get(step)!.note = message;
      redraw();
    },
    finish(step, status, durationMs, detail) {
      const st = state.get(step)!;
      st.status = status;
      st.ms = durationMs;
      st.note = detail ? `${display.get(step)} (${detail})` : undefined;
      redraw();
    },
    end() {
      clearInterval(timer);
      redraw();
    },
  };
}

/** One line per step: icon (the spinner while running), name, time so far, then its note or command. */
function taskLines(steps: ProgressStep[], state: Map<string, StepState>, spinner: string, width: number): string[] {
  const nameWidth = Math.min(30, Math.max(...steps.map((s) => s.name.length)));
  return steps.map((s) => {
    const st = state.get(s.name)!;
    const icon = st.status === 'running' ? spinner : STATUS_ICONS[st.status];
    const ms = st.status === 'running' && st.started ? Date.now() - st.started : st.ms;
    const time = ms === undefined ? '' : formatDuration(ms);
    const text = `${icon} ${s.name.padEnd(nameWidth)} ${time.padStart(7)}  ${st.note ?? s.display}`;
    return text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text;
  });
}
