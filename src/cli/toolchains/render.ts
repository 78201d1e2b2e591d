/** Views of toolchain results for people: the summary of a multi-component run. */
import type { ManyResult } from '../../components/terraform/multi.ts';

/** The summary table printed after a multi-component run. */
export function summaryTable(result: ManyResult): string {
  const header = ['COMPONENT', 'STACK', 'RESULT', 'ADD', 'CHANGE', 'DESTROY', 'DURATION'];
  const rows = result.results.map((r) => [
    r.component,
    r.stack,
    r.result,
    r.add === undefined ? '-' : String(r.add),
    r.change === undefined ? '-' : String(r.change),
    r.destroy === undefined ? '-' : String(r.destroy),
    `${(r.durationMs / 1000).toFixed(1)}s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const counts = new Map<string, number>();
  for (const r of result.results) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
  const totals = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n\n${result.results.length} component(s): ${totals} in ${(
    result.durationMs / 1000
  ).toFixed(1)}s (max concurrency ${result.maxConcurrency})\n`;
}
