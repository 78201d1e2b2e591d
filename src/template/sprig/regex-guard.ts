/**
 * Regular expressions from templates without hanging the process. Go's RE2 runs in linear time; JS's engine
 * backtracks, so `(a+)+$` on a long input takes forever and nothing can interrupt a running RegExp. Patterns whose
 * worst case is cheap for the input at hand run here; the others run in a worker thread that the caller waits for
 * synchronously, up to the render's time budget, and that is terminated when it runs over.
 *
 * "Cheap": no quantified group holding a quantifier or an alternation (`(a+)+`, `(a|aa)*`: exponential) and no
 * back-reference unless the input is at most 20 characters, and input length ^ (unbounded quantifiers + 1) at most
 * 10^7 steps (polynomial backtracking).
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { workerThreads } from '../../util/sync-call.ts';
import { activeBudget } from '../budget.ts';

export interface RegexMatch {
  index: number;
  /** The match and its capture groups (Go's submatches). */
  captures: Array<string | undefined>;
  groups?: Record<string, string | undefined>;
}

/** At most `limit` matches (all when negative; one when `re` is not global), in order. */
export function findMatches(re: RegExp, input: string, limit: number): RegexMatch[] {
  if (isCheap(re.source, input.length)) return matchHere(re, input, limit);
  return matchInWorker(re, input, limit);
}

function matchHere(re: RegExp, input: string, limit: number): RegexMatch[] {
  const out: RegexMatch[] = [];
  if (!re.global) {
    const m = re.exec(input);
    return m ? [{ index: m.index, captures: [...m], groups: m.groups }] : [];
  }
  for (const m of input.matchAll(re)) {
    if (limit >= 0 && out.length >= limit) break;
    out.push({ index: m.index, captures: [...m], groups: m.groups });
  }
  return out;
}

const MAX_STEPS_LOG10 = 7;

/** Whether the pattern's worst case on an input this long is small (see the file comment). */
export function isCheap(source: string, inputLength: number): boolean {
  const shape = patternShape(source);
  // 2^20 steps at worst on 20 characters: not worth a thread.
  if (shape.exponential) return inputLength <= 20;
  return (shape.unbounded + 1) * Math.log10(inputLength + 1) <= MAX_STEPS_LOG10;
}

/** Counts unbounded quantifiers and finds nested quantifiers, quantified alternations and back-references. */
export function patternShape(source: string): { unbounded: number; exponential: boolean } {
  // Per open group: whether its body holds a quantifier or an alternation.
  const groups: boolean[] = [false];
  let unbounded = 0;
  let exponential = false;
  let lastGroupRisky = false;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      if (!inClass && /[1-9k]/.test(source[i + 1] ?? '')) exponential = true;
      i++;
      lastGroupRisky = false;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      lastGroupRisky = false;
    } else if (c === '(') {
      groups.push(false);
    } else if (c === ')') {
      lastGroupRisky = groups.pop() ?? false;
      if (lastGroupRisky) groups[groups.length - 1] = true;
      continue;
    } else if (c === '|') {
      groups[groups.length - 1] = true;
    } else if (c === '*' || c === '+' || c === '{') {
      const bounded = c === '{' && /^\{\d+(,\d{1,2})?\}/.test(source.slice(i));
      if (!bounded) unbounded++;
      if (lastGroupRisky && !(c === '{' && /^\{\d+\}/.test(source.slice(i)))) exponential = true;
      groups[groups.length - 1] = true;
    }
    lastGroupRisky = false;
  }
  return { unbounded, exponential };
}

/** The worker's code (a CommonJS script: the bundle has no file to point a worker at). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ port, signal }) => {
  port.on('message', (request) => {
    let reply;
    try {
      const re = new RegExp(request.source, request.flags);
      const out = [];
      if (!re.global) {
        const m = re.exec(request.input);
        if (m) out.push({ index: m.index, captures: [...m], groups: m.groups });
      } else {
        for (const m of request.input.matchAll(re)) {
          if (request.limit >= 0 && out.length >= request.limit) break;
          out.push({ index: m.index, captures: [...m], groups: m.groups });
        }
      }
      reply = { matches: out };
    } catch (error) {
      reply = { error: String(error && error.message || error) };
    }
    port.postMessage(reply);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
});
`;

interface RegexWorker {
  worker: Worker;
  port: MessagePort;
  signal: Int32Array;
}

let current: RegexWorker | undefined;

function regexWorker(): RegexWorker {
  if (current) return current;
  const worker = new (workerThreads().Worker)(WORKER_SOURCE, { eval: true });
  worker.unref();
  const { port1, port2 } = new (workerThreads().MessageChannel)();
  port1.unref();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  worker.postMessage({ port: port2, signal }, [port2]);
  current = { worker, port: port1, signal };
  return current;
}

function matchInWorker(re: RegExp, input: string, limit: number): RegexMatch[] {
  const budget = activeBudget();
  const { worker, port, signal } = regexWorker();
  Atomics.store(signal, 0, 0);
  port.postMessage({ source: re.source, flags: re.flags, input, limit });
  if (Atomics.wait(signal, 0, 0, budget.remainingMs()) === 'timed-out') {
    current = undefined;
    void worker.terminate();
    throw budget.timeout();
  }
  const reply = workerThreads().receiveMessageOnPort(port)?.message as
    | { matches?: RegexMatch[]; error?: string }
    | undefined;
  if (!reply?.matches) throw new Error(reply?.error ?? 'the regular expression worker gave no answer');
  return reply.matches;
}
