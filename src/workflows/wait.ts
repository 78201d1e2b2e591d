/**
 * Wait/verify steps: poll a command, an HTTP endpoint or a TCP port until it is ready, instead of a fixed `sleep`
 * between e.g. a Packer build and the Terraform apply that uses its image.
 */
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { run } from '../exec/index.ts';
import { formatDuration, type WaitCondition } from './model.ts';

export function describeCondition(condition: WaitCondition): string {
  switch (condition.kind) {
    case 'command':
      return `command: ${condition.command}`;
    case 'http':
      return `http ${condition.url}${condition.status ? ` (status ${condition.status.join('|')})` : ''}`;
    case 'tcp':
      return `tcp ${condition.host}:${condition.port}`;
  }
}

/** One probe: undefined when ready, else why not. Each probe is bounded so a hung endpoint cannot stall the wait. */
async function probe(
  condition: WaitCondition,
  probeTimeoutMs: number,
  options: { env?: Record<string, string>; cwd?: string; signal: AbortSignal },
): Promise<string | undefined> {
  switch (condition.kind) {
    case 'command': {
      const result = await run('bash', ['-c', condition.command], {
        stdio: 'capture',
        env: options.env,
        cwd: options.cwd,
        timeoutMs: probeTimeoutMs,
        signal: options.signal,
      });
      if (result.exitCode === 0) return undefined;
      const last = (result.stderr || result.stdout).split('\n').filter(Boolean).pop();
      return `exit code ${result.exitCode}${last ? `: ${last}` : ''}`;
    }
    case 'http': {
      try {
        const response = await fetch(condition.url, {
          signal: AbortSignal.any([options.signal, AbortSignal.timeout(probeTimeoutMs)]),
          redirect: 'manual',
        });
        await response.body?.cancel();
        const ok = condition.status ? condition.status.includes(response.status) : response.status < 400;
        return ok ? undefined : `HTTP ${response.status}`;
      } catch (error) {
        if (error instanceof DOMException && error.name === 'TimeoutError')
          return `no answer within ${probeTimeoutMs} ms`;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
      }
    }
    case 'tcp':
      return new Promise((resolve) => {
        const socket = connect({ host: condition.host, port: condition.port });
        const done = (reason: string | undefined) => {
          socket.destroy();
          clearTimeout(timer);
          resolve(reason);
        };
        const timer = setTimeout(() => done(`no answer within ${probeTimeoutMs} ms`), probeTimeoutMs);
        socket.once('connect', () => done(undefined));
        socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
      });
  }
}

export interface WaitOptions {
  intervalMs: number;
  timeoutMs: number;
  signal: AbortSignal;
  env?: Record<string, string>;
  cwd?: string;
  onAttempt?: (attempt: number, reason: string) => void;
}

/** Resolves with the number of probes once ready; rejects with WaitTimeoutError, or the abort reason when aborted. */
export async function waitUntil(condition: WaitCondition, options: WaitOptions): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  const probeTimeoutMs = Math.max(1000, Math.min(options.intervalMs * 5, 30_000));
  let lastReason = 'not probed';
  for (let attempt = 1; ; attempt++) {
    options.signal.throwIfAborted();
    // The last probe may end a little after the deadline: a probe cut to a few milliseconds says nothing useful.
    const reason = await probe(condition, Math.min(probeTimeoutMs, Math.max(250, deadline - Date.now())), options);
    options.signal.throwIfAborted();
    if (reason === undefined) return attempt;
    lastReason = reason;
    options.onAttempt?.(attempt, reason);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError(condition, options.timeoutMs, lastReason, attempt);
    await delay(Math.min(options.intervalMs, remaining), undefined, { signal: options.signal });
  }
}

export class WaitTimeoutError extends Error {
  constructor(
    readonly condition: WaitCondition,
    readonly timeoutMs: number,
    readonly lastReason: string,
    readonly attempts: number,
  ) {
    super(
      `${describeCondition(condition)} not ready after ${formatDuration(timeoutMs)} (${attempts} probes, last: ${lastReason})`,
    );
    this.name = 'WaitTimeoutError';
  }
}
