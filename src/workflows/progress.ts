/**
 * Live progress of a workflow run. On a terminal: a task list with timings, redrawn in place under the steps'
 * output. Otherwise (pipes, CI, NO_COLOR): plain timestamped lines. Progress goes to stderr, step output to stdout/
 * stderr as the step wrote it, so `strata workflow x > out.txt` keeps only what the steps printed.
 */
import { formatDuration } from './model.ts';
import { STATUS_ICONS, type StepStatus } from './record.ts';

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

export function chooseProgressMode(env: NodeJS.ProcessEnv = process.env): ProgressMode {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false';
  if (noColor || ci || env.TERM === 'dumb') return 'plain';
  return process.stderr.isTTY && process.stdout.isTTY ? 'tty' : 'plain';
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

export function createProgress(
  mode: ProgressMode,
  steps: ProgressStep[],
  options: { prefixOutput: boolean },
): Progress {
  const prefix = (step: string) => (options.prefixOutput ? `[${step}] ` : '');
  const writeOutput = (step: string, line: string, stream: 'stdout' | 'stderr') =>
    process[stream].write(`${prefix(step)}${line}\n`);
  const display = new Map(steps.map((s) => [s.name, s.display]));

  if (mode === 'none') {
    return { start() {}, output: writeOutput, note() {}, finish() {}, end() {} };
  }

  if (mode === 'plain') {
    const log = (text: string) => process.stderr.write(`[${clock()}] ${text}\n`);
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
        log(
          `${STATUS_ICONS[status]} ${step} ${status} in ${formatDuration(durationMs)}${detail ? ` (${detail})` : ''}`,
        );
      },
      end() {},
    };
  }

  // TTY: the list occupies the last `drawn` lines of the terminal; output is written above it.
  const state = new Map<string, { status: StepStatus; started?: number; ms?: number; note?: string }>(
    steps.map((s) => [s.name, { status: 'pending' }]),
  );
  let drawn = 0;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let frame = 0;
  const clear = () => {
    if (drawn > 0) process.stderr.write(`\u001b[${drawn}A\u001b[0J`);
    drawn = 0;
  };
  const draw = () => {
    const width = process.stderr.columns || 100;
    const nameWidth = Math.min(30, Math.max(...steps.map((s) => s.name.length)));
    const lines = steps.map((s) => {
      const st = state.get(s.name)!;
      const icon = st.status === 'running' ? frames[frame % frames.length] : STATUS_ICONS[st.status];
      const ms = st.status === 'running' && st.started ? Date.now() - st.started : st.ms;
      const time = ms === undefined ? '' : formatDuration(ms);
      const text = `${icon} ${s.name.padEnd(nameWidth)} ${time.padStart(7)}  ${st.note ?? s.display}`;
      return text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text;
    });
    process.stderr.write(`${lines.join('\n')}\n`);
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
