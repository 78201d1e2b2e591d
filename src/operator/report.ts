/**
 * Test reports: `reports/YYYYMMDD-HHMMSS.{passed|failed}.{json,md}`, as the seed names them, and the live progress
 * of nodes (redrawn in place on a terminal, one line per transition otherwise).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { globalMasker } from '../util/mask.ts';
import type { ProgressEvent, RunResult } from './engine.ts';

function stamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export function reportMarkdown(result: RunResult, date: Date): string {
  const icon = { passed: '✅', failed: '❌', skipped: '⏭️' } as const;
  const lines = [
    `# ${result.scenario}`,
    '',
    `**Manifest**: ${result.manifest}  `,
    `**Stack**: ${result.stack || '(none)'}  `,
    `**Host**: ${hostname()}  `,
    `**Status**: ${result.success ? 'PASSED' : 'FAILED'}  `,
    `**Date**: ${date.toISOString()}  `,
    `**Duration**: ${result.duration_seconds.toFixed(1)}s`,
    '',
    '## Phases',
    '',
    '| Phase | Status | Duration | Message |',
    '|---|---|---|---|',
    ...result.phases.map(
      (p) =>
        `| ${p.name} | ${icon[p.status]} ${p.status} | ${p.duration.toFixed(1)}s | ${(p.message ?? '').replace(/\|/g, '\\|')} |`,
    ),
    '',
    '## Nodes',
    '',
    '| Node | Status | VM id | IP | Duration | Error |',
    '|---|---|---|---|---|---|',
    ...result.nodes.map(
      (n) =>
        `| ${n.name} | ${n.status} | ${n.vm_id ?? ''} | ${n.ip ?? ''} | ${n.duration === undefined ? '' : `${n.duration.toFixed(1)}s`} | ${(n.error ?? '').replace(/\|/g, '\\|')} |`,
    ),
  ];
  if (result.error) lines.push('', '## Error', '', '```', result.error, '```');
  lines.push('', `Generated: ${new Date().toISOString()}`, '');
  return globalMasker.mask(lines.join('\n'));
}

/** Writes the JSON and markdown reports; returns their paths. */
export async function writeReports(
  dir: string,
  result: RunResult,
  date = new Date(),
): Promise<{ json: string; md: string }> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, `${stamp(date)}.${result.success ? 'passed' : 'failed'}`);
  const json = `${base}.json`;
  const md = `${base}.md`;
  const body = {
    ...result,
    host: hostname(),
    started_at: new Date(date.getTime() - result.duration_seconds * 1000).toISOString(),
    finished_at: date.toISOString(),
  };
  await writeFile(json, `${globalMasker.mask(JSON.stringify(body, null, 2))}\n`);
  await writeFile(md, reportMarkdown(result, date));
  return { json, md };
}

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
