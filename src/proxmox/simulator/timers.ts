/** The simulator's timers (task ends, boots): all cleared on close, and none started after it. */
export class Timers {
  readonly #pending = new Set<NodeJS.Timeout>();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  schedule(ms: number, fn: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      fn();
    }, ms);
    this.#pending.add(timer);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
  }
}
