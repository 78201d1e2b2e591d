/** Live progress of a manifest's nodes on stderr: redrawn in place on a terminal, one line per transition elsewhere. */
import type { ProgressEvent } from '../operator/index.ts';
import { globalMasker } from '../util/mask.ts';

const SYMBOL: Record<string, string> = {
  pending: '·',
  running: '…',
  completed: '✓',
  failed: '✗',
  skipped: '-',
  destroyed: '⌫',
};

/**
 * Live node progress on a stream. On a terminal the node table is redrawn in place; elsewhere (CI logs, pipes)
 * each transition is one line, so logs stay readable and grep-able.
 */
export class ProgressView {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #rows = new Map<string, string>();
  readonly #last = new Map<string, string>();
  #drawn = 0;

  constructor(nodes: string[], stream: NodeJS.WriteStream = process.stderr, tty = stream.isTTY === true) {
    this.#stream = stream;
    this.#tty = tty;
    for (const n of nodes) this.#rows.set(n, `${SYMBOL.pending} ${n}  pending`);
  }

  update = (event: ProgressEvent): void => {
    const parts = [`${SYMBOL[event.status] ?? '?'} ${event.node}`, ` ${event.status}`];
    if (event.phase && event.status === 'running') parts.push(` (${event.phase})`);
    if (event.vm_id !== undefined && event.status !== 'destroyed') parts.push(`  vm ${event.vm_id}`);
    if (event.ip && event.status !== 'destroyed') parts.push(`  ${event.ip}`);
    if (event.error && event.status === 'failed') parts.push(`  ${event.error.split('\n')[0]}`);
    const line = globalMasker.mask(parts.join(''));
    if (this.#last.get(event.node) === line) return;
    this.#last.set(event.node, line);
    this.#rows.set(event.node, line);
    if (!this.#tty) {
      this.#stream.write(`${line}\n`);
      return;
    }
    this.redraw();
  };

  /** A message line: above the live table on a terminal (the table is drawn again below it). */
  log = (line: string): void => {
    const masked = globalMasker.mask(line);
    if (!this.#tty) {
      this.#stream.write(`${masked}\n`);
      return;
    }
    const up = this.#drawn > 0 ? `\u001b[${this.#drawn}F\u001b[0J` : '';
    this.#stream.write(`${up}${masked}\n`);
    this.#drawn = 0;
    this.redraw();
  };

  redraw(): void {
    const width = this.#stream.columns ?? 120;
    let out = this.#drawn > 0 ? `\u001b[${this.#drawn}F` : '';
    for (const row of this.#rows.values()) out += `\u001b[2K${row.slice(0, width - 1)}\n`;
    this.#drawn = this.#rows.size;
    this.#stream.write(out);
  }
}
