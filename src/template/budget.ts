/**
 * What one template render may spend (docs/stacks.md, "Limits"): characters of output, loop iterations (with the
 * elements `until`/`seq` make) and wall-clock time. The executor charges it as it walks; functions that could make
 * huge values (`until`, `repeat`, the regex functions) ask the render in progress through `activeBudget()`: renders
 * are synchronous, so the one in progress is the innermost on a stack.
 */
import { DEFAULT_LIMITS, type EngineLimits } from '../data/limits.ts';

export type TemplateLimits = Pick<EngineLimits, 'maxTemplateOutput' | 'maxTemplateIterations' | 'templateTimeoutMs'>;

/** Thrown when a budget runs out; the executor reports it at the template node in progress. */
export class BudgetExceeded extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export class RenderBudget {
  readonly #deadline: number;
  #iterations = 0;
  #steps = 0;

  constructor(readonly limits: TemplateLimits) {
    this.#deadline = Date.now() + limits.templateTimeoutMs;
  }

  /** Charges `count` loop iterations or generated elements. */
  iterate(count = 1): void {
    this.#iterations += count;
    if (this.#iterations > this.limits.maxTemplateIterations) {
      throw new BudgetExceeded(
        `more than ${this.limits.maxTemplateIterations} loop iterations or generated elements in one template (limits.max_template_iterations)`,
        'range over fewer items, or raise limits.max_template_iterations in atmos.yaml / strata.yaml',
      );
    }
    this.step();
  }

  /** Checks the clock every 256 steps (a step: one node walked, one function called, one iteration). */
  step(): void {
    if ((++this.#steps & 255) === 0) this.checkTime();
  }

  checkTime(): void {
    if (Date.now() > this.#deadline) throw this.timeout();
  }

  timeout(): BudgetExceeded {
    return new BudgetExceeded(
      `the template ran longer than ${this.limits.templateTimeoutMs} ms (limits.template_timeout_ms)`,
      'simplify the template (loops, regular expressions), or raise limits.template_timeout_ms',
    );
  }

  /** Milliseconds left before the deadline (at least 1). */
  remainingMs(): number {
    return Math.max(1, this.#deadline - Date.now());
  }

  /** Checks a string about to be produced (output so far plus `adding`, or a function's result). */
  checkSize(length: number): void {
    if (length > this.limits.maxTemplateOutput) {
      throw new BudgetExceeded(
        `the template produces more than ${this.limits.maxTemplateOutput} characters (limits.max_template_output)`,
        'produce less text, or raise limits.max_template_output in atmos.yaml / strata.yaml',
      );
    }
  }
}

const active: RenderBudget[] = [];

/** The budget of the render in progress (a fresh default one outside any render, e.g. a function called directly). */
export function activeBudget(): RenderBudget {
  return active[active.length - 1] ?? new RenderBudget(DEFAULT_LIMITS);
}

export function withBudget<T>(budget: RenderBudget, run: () => T): T {
  active.push(budget);
  try {
    return run();
  } finally {
    active.pop();
  }
}
