/**
 * The status line of a live multi-component run on a terminal: one bottom line with the running, finished and failed
 * counts, redrawn in place under the prefixed output and cleared before the summary table. It reads the run's own
 * live protocol (`<prefix> | ==> terraform <verb>` when a component starts, `<prefix> | <== <result> in <s>` when it
 * ends), so it needs nothing from the runner. Not in CI (CI set) and not off a terminal; NO_COLOR only drops colour.
 */
import { ansi } from '../util/terminal.ts';

const ESCAPES = /\u001b\[[0-9;]*m/g;
const CLEAR = '\r\u001b[2K';

export class StatusLine {
  #running = 0;
  #finished = 0;
  #failed = 0;
  #shown = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly color: boolean,
  ) {}

  /** A terminal that is not a CI log. */
  static wanted(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
    return stream.isTTY === true && (env.CI === undefined || env.CI === '' || env.CI === 'false');
  }

  /** Writes whole lines of the run above the status line, then redraws it. */
  write(text: string): void {
    for (const line of text.split('\n')) this.#count(line.replace(ESCAPES, ''));
    this.stream.write(`${this.#shown ? CLEAR : ''}${text}${this.#line()}`);
    this.#shown = true;
  }

  /** Removes the line (before the summary table, or when the run breaks off). */
  clear(): void {
    if (this.#shown) this.stream.write(CLEAR);
    this.#shown = false;
  }

  #count(line: string): void {
    if (/ \| ==> \S+ \S+$/.test(line)) this.#running++;
    const ended = / \| <== (\S+) in [\d.]+s$/.exec(line);
    if (!ended) return;
    this.#running--;
    if (ended[1] === 'failed') this.#failed++;
    else this.#finished++;
  }

  #line(): string {
    const text = `running ${this.#running} · finished ${this.#finished} · failed ${this.#failed}`;
    return this.color ? ansi(text, 'dim') : text;
  }
}
