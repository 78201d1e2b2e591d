/**
 * One evaluation per distinct call of a YAML function with outside effects (`!terraform.state`, `!terraform.output`,
 * `!store`, `!store.get`, `!exec`, and the engine's `atmos.Component`): per engine, a call is its function, its
 * arguments (as words, so spacing does not matter) and the stack it is evaluated in. Atmos users report hundreds
 * of evaluations of the same reference per command (cloudposse/atmos#2344); here every later reference reuses
 * the first result (or its error).
 */
import { splitArgs } from './args.ts';

/** The functions whose calls are memoised. */
export const MEMOISED_FUNCTIONS: ReadonlySet<string> = new Set([
  'terraform.state',
  'terraform.output',
  'store',
  'store.get',
  'exec',
]);

/** Totals of every memo in this process (`--verbose` prints them). */
export const callCounters = { evaluated: 0, reused: 0 };

export class CallMemo {
  readonly #results = new Map<string, unknown>();
  /** Distinct calls evaluated. */
  evaluated = 0;
  /** References answered from an earlier call. */
  reused = 0;

  /** The canonical key of a call. */
  static key(fn: string, args: string | unknown[], stack: string): string {
    const words = typeof args === 'string' ? splitArgs(args) : args.map(String);
    return JSON.stringify([fn, words, stack]);
  }

  /** The result of `run` for this key, running it only the first time (a promise is shared while it is pending). */
  call<T>(key: string, run: () => T): T {
    if (this.#results.has(key)) {
      this.reused++;
      callCounters.reused++;
      return this.#results.get(key) as T;
    }
    this.evaluated++;
    callCounters.evaluated++;
    const result = run();
    this.#results.set(key, result);
    return result;
  }
}
