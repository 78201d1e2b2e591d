/**
 * The one subprocess runner: Terraform, Packer, kubectl, Ansible, git and workflow steps all go through `run`.
 * It streams lines live (masked, with an optional prefix), captures them (masked), never throws for a non-zero
 * exit, and forwards SIGINT/SIGTERM to running children so they can clean up (Terraform releases its state lock).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { constants } from 'node:os';
import { StrataError } from '../errors.ts';
import { globalMasker, type Masker } from '../util/mask.ts';

export interface RunOptions {
  cwd?: string;
  /** Merged over process.env; `undefined` deletes a variable. */
  env?: Record<string, string | undefined>;
  /**
   * stream (default): lines are printed live (with prefix) and captured;
   * capture: captured only; inherit: the child owns the terminal (interactive prompts), nothing is captured.
   */
  stdio?: 'stream' | 'inherit' | 'capture';
  /** Printed before each streamed line, e.g. "[vpc@dev] ". */
  prefix?: string;
  /** Masks every printed and captured line; default: the process-wide masker. */
  masker?: Masker;
  /** Receives each (masked) line instead of it being printed, e.g. for grouped output. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  shell?: boolean;
  /** After a timeout or an abort, SIGTERM is followed by SIGKILL after this delay (default 10 s). */
  forceKillAfterMs?: number;
}

export interface RunResult {
  command: string;
  args: string[];
  /** The child's exit code, or 128 + signal number when a signal ended it (as shells report). */
  exitCode: number;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** strata received SIGINT/SIGTERM while this child ran (or before it could start). */
  interrupted: boolean;
}

/** How to install the tools strata drives; shown when one is missing from PATH. */
const INSTALL_HINTS: Record<string, string> = {
  terraform:
    'install Terraform from https://developer.hashicorp.com/terraform/install, or run OpenTofu instead: set `components.terraform.command: tofu` in atmos.yaml (or ATMOS_COMPONENTS_TERRAFORM_COMMAND=tofu)',
  tofu: 'install OpenTofu from https://opentofu.org/docs/intro/install/ (a single `tofu` binary on PATH), or run Terraform instead: set `components.terraform.command: terraform` in atmos.yaml (or ATMOS_COMPONENTS_TERRAFORM_COMMAND=terraform; a stack `command:` wins over both)',
  packer: 'install Packer from https://developer.hashicorp.com/packer/install',
  kubectl: 'install kubectl from https://kubernetes.io/docs/tasks/tools/',
  'ansible-playbook': 'install Ansible: `pipx install --include-deps ansible` (or your package manager: ansible-core)',
  git: 'install git with your package manager (apt-get install git, dnf install git, brew install git)',
  age: 'install age from https://github.com/FiloSottile/age#installation (apt-get install age, brew install age)',
  bash: 'install bash with your package manager',
};

export class ToolNotFoundError extends StrataError {
  readonly tool: string;
  constructor(tool: string) {
    const base = tool.split('/').pop() ?? tool;
    super(`${tool} not found on PATH`, {
      hint: INSTALL_HINTS[base] ?? `install ${base} or add the folder that holds it to PATH`,
    });
    this.name = 'ToolNotFoundError';
    this.tool = tool;
  }
}

/** POSIX shell quoting: safe words stay bare, everything else is single-quoted. */
export function shellQuote(word: string): string {
  if (word === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command line a user could paste into a shell, for --dry-run and error messages. */
export function formatCommand(command: string, args: string[]): string {
  return [command, ...args].map(shellQuote).join(' ');
}

export function signalExitCode(signal: string): number {
  const number = (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (number ?? 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Signal forwarding. Several runs may be active at once (parallel graph nodes); they share one pair of process
// handlers. Installing a handler stops Node from exiting on SIGINT, so strata waits for its children to finish.

interface ActiveChild {
  pid: number;
  /** The child leads its own process group (stream/capture): signals go to the whole group. */
  group: boolean;
}

const active = new Set<ActiveChild>();
let holders = 0;
let signalCount = 0;
let interruptController = new AbortController();

function sendSignal(child: ActiveChild, signal: NodeJS.Signals): void {
  try {
    process.kill(child.group ? -child.pid : child.pid, signal);
  } catch {
    // The child already exited between the signal and the forward.
  }
}

function onProcessSignal(signal: NodeJS.Signals): void {
  signalCount++;
  if (signalCount === 1) {
    interruptController.abort(signal);
    for (const child of active) {
      // A child sharing the terminal (inherit) already got the terminal's Ctrl-C; a second copy would make
      // Terraform abandon its graceful shutdown. SIGTERM comes from a process manager and only reaches strata.
      if (!child.group && signal === 'SIGINT') continue;
      sendSignal(child, signal);
    }
    process.stderr.write(
      `\nstrata: received ${signal}, waiting for ${active.size} running command(s) to exit (press Ctrl-C again to kill them)\n`,
    );
    return;
  }
  for (const child of active) sendSignal(child, 'SIGKILL');
}

/** Detached children outlive strata unless killed: if strata exits while they run (a crash), take them down. */
function killAllOnExit(): void {
  for (const child of active) sendSignal(child, 'SIGKILL');
}

function acquire(): void {
  if (active.size === 0 && holders === 0) {
    process.on('SIGINT', onProcessSignal);
    process.on('SIGTERM', onProcessSignal);
    process.on('exit', killAllOnExit);
  }
}

function release(): void {
  if (active.size === 0 && holders === 0) {
    process.off('SIGINT', onProcessSignal);
    process.off('SIGTERM', onProcessSignal);
    process.off('exit', killAllOnExit);
    signalCount = 0;
    interruptController = new AbortController();
  }
}

/**
 * Keeps strata's SIGINT/SIGTERM handlers installed between runs (e.g. for a whole workflow), so a Ctrl-C between
 * two steps, or during a wait step, stops the caller cleanly instead of killing strata. Returns the release function.
 */
export function holdSignals(): () => void {
  acquire();
  holders++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders--;
    release();
  };
}

/** Aborted (reason: the signal name) when strata receives SIGINT/SIGTERM while a run or a hold is active. */
export function interruptSignal(): AbortSignal {
  return interruptController.signal;
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Output kept per stream for the result (execa's default maxBuffer): past it, lines are still shown and handed to
 * onLine, but no longer kept, so a long-running tool cannot fill strata's memory.
 */
const KEPT_CHARS = 100_000_000;

/**
 * Splits a child's output stream into lines (LF or CRLF; the last line may have no newline), masks each one, shows
 * or hands it over, and keeps the masked text with its newlines (the final one stripped).
 *
 * Written here rather than through execa, which did this before: loading execa and its ~130 modules cost every
 * command that runs a tool ~0.15 s of CPU (measured on these machines), for a spawn and a line splitter.
 */
function followLines(stream: NodeJS.ReadableStream, deliver: (line: string) => string): { kept: () => string } {
  let rest = '';
  let kept = '';
  const take = (line: string, newline: string) => {
    const masked = deliver(line);
    if (kept.length < KEPT_CHARS) kept += masked + newline;
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      const line = rest + chunk.slice(start, end);
      rest = '';
      if (line.endsWith('\r')) take(line.slice(0, -1), '\r\n');
      else take(line, '\n');
      start = end + 1;
    }
    rest += chunk.slice(start);
  });
  stream.on('end', () => {
    if (rest !== '') take(rest, '');
    rest = '';
  });
  return {
    kept: () => (kept.endsWith('\r\n') ? kept.slice(0, -2) : kept.endsWith('\n') ? kept.slice(0, -1) : kept),
  };
}

export async function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const masker = options.masker ?? globalMasker;
  const mode = options.stdio ?? 'stream';
  const prefix = options.prefix ?? '';
  const started = Date.now();
  const base = { command, args, stdout: '', stderr: '', timedOut: false };

  acquire();
  const interrupt = interruptController.signal;
  if (interrupt.aborted) {
    release();
    const signal = String(interrupt.reason);
    return { ...base, exitCode: signalExitCode(signal), signal, durationMs: 0, interrupted: true };
  }

  const env = { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  const inherit = mode === 'inherit';
  let subprocess: ChildProcess;
  try {
    subprocess = spawn(command, args, {
      cwd: options.cwd,
      env,
      shell: options.shell ?? false,
      // Own process group for piped children: a terminal Ctrl-C reaches only strata, which forwards it exactly once,
      // and a timeout can stop the whole group (bash -c 'sleep 60' would otherwise leave sleep holding the pipe).
      detached: !inherit,
      stdio: inherit ? 'inherit' : [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    // Arguments node refuses to pass (a NUL byte): the run fails like a command that could not start.
    release();
    return { ...base, exitCode: 1, stderr: (error as Error).message, durationMs: 0, interrupted: false };
  }
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>(
    (resolve) => {
      subprocess.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
      subprocess.once('close', (code, signal) => resolve({ code, signal }));
    },
  );
  const output = (name: 'stdout' | 'stderr') => {
    const stream = subprocess[name];
    return stream
      ? followLines(stream, (line) => {
          const masked = masker.mask(line);
          if (options.onLine) options.onLine(masked, name);
          else if (mode === 'stream') process[name].write(`${prefix}${masked}\n`);
          return masked;
        })
      : { kept: () => '' };
  };
  const stdout = output('stdout');
  const stderr = output('stderr');
  if (options.input !== undefined && subprocess.stdin) {
    subprocess.stdin.on('error', () => undefined);
    subprocess.stdin.end(options.input);
  }

  const child: ActiveChild | undefined = subprocess.pid ? { pid: subprocess.pid, group: !inherit } : undefined;
  if (child) active.add(child);

  // Timeouts and aborts stop the whole process group, then escalate to SIGKILL.
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (!child || killTimer) return;
    sendSignal(child, 'SIGTERM');
    killTimer = setTimeout(() => sendSignal(child, 'SIGKILL'), options.forceKillAfterMs ?? 10_000);
    killTimer.unref();
  };
  const timeoutTimer =
    options.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, options.timeoutMs)
      : undefined;
  // Once the leader has exited after a stop or an interrupt, stragglers in its group (e.g. a backgrounded
  // `sleep`, which ignores SIGINT) would hold the output pipe open and keep strata waiting: end them.
  subprocess.once('exit', () => {
    if (child?.group && (killTimer || interrupt.aborted)) sendSignal(child, 'SIGKILL');
  });
  const onAbort = () => stop();
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const { code, signal, error } = await ended;
    if (error?.code === 'ENOENT') {
      // A missing cwd also reports ENOENT: name the folder rather than blaming the tool.
      if (options.cwd && !(await isDirectory(options.cwd))) {
        throw new StrataError(`working directory ${options.cwd} does not exist`, {
          hint: `create it or fix working_directory / cwd for '${command}'`,
        });
      }
      throw new ToolNotFoundError(command);
    }
    return {
      ...base,
      exitCode: code ?? (signal ? signalExitCode(signal) : 1),
      signal: signal ?? undefined,
      stdout: inherit ? '' : stdout.kept(),
      // A command that could not start (not executable, ...) says why.
      stderr: inherit ? '' : stderr.kept() || (error ? error.message : ''),
      durationMs: Date.now() - started,
      timedOut,
      interrupted: interrupt.aborted,
    };
  } finally {
    if (timeoutTimer) clearTimeout(timeoutTimer);
    if (killTimer) clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
    if (child) active.delete(child);
    release();
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
