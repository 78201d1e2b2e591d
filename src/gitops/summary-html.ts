/**
 * The HTML report of `plan --affected --html <file>`: the PR summary's counts, a timeline of each instance's plan
 * (what ran side by side) and the dependency graph of the affected instances, in one self-contained page.
 */
import { countChanges, type PlanCounts } from '../components/terraform/extra.ts';
import { renderReportPage, type Table, type Tone } from '../graph/html.ts';
import type { DiagramEdge } from '../graph/render.ts';
import { type PlanEntry, resourceChanges, verb } from './summary.ts';

/** One instance's plan run: when it started (ms after the run started) and how long it took. */
export interface PlanRunTiming {
  component: string;
  stack: string;
  result: string;
  startedMs?: number;
  durationMs: number;
}

export interface PlanReportInput {
  /** Commit range, e.g. `abc1234...def5678`. */
  range?: string;
  /** The plans, in dependency order (as the summary takes them). */
  entries: PlanEntry[];
  runs: PlanRunTiming[];
  /** From each dependency to its dependent, by `component@stack`. */
  edges: DiagramEdge[];
  skipped: Array<{ component: string; stack: string; reason: string }>;
}

const idOf = (e: { component: string; stack: string }) => `${e.component}@${e.stack}`;

/** A word for the graph's colour: failed, destroys, changes or unchanged. */
function statusOf(entry: PlanEntry, counts: PlanCounts | undefined): string {
  if (entry.error || !counts) return 'failed';
  if (counts.destroy > 0) return 'destroys';
  return counts.add + counts.change > 0 ? 'changes' : 'unchanged';
}

function changesTable(entries: PlanEntry[]): Table {
  const rows: string[][] = [];
  for (const entry of entries) {
    if (entry.error) {
      rows.push([idOf(entry), 'plan failed', '']);
      continue;
    }
    const changes = resourceChanges(entry.plan);
    if (changes.length === 0) rows.push([idOf(entry), 'no changes', '']);
    for (const c of changes) rows.push([idOf(entry), verb(c.actions), [c.address, ...c.attributes].join('\n')]);
  }
  return { title: 'Resource changes', headers: ['Instance', 'Action', 'Resource'], rows };
}

/** The page for one `plan --affected` run. */
export function planReportHtml(input: PlanReportInput, date = new Date()): string {
  const counted = input.entries.map((e) => (e.error ? undefined : countChanges(e.plan)));
  const totals: PlanCounts = { add: 0, change: 0, destroy: 0 };
  for (const c of counted) {
    totals.add += c?.add ?? 0;
    totals.change += c?.change ?? 0;
    totals.destroy += c?.destroy ?? 0;
  }
  const failed = input.entries.filter((e) => e.error).length;
  const status = new Map(input.entries.map((e, i) => [idOf(e), statusOf(e, counted[i])]));
  const verdict: { text: string; tone: Tone } = failed
    ? { text: `${failed} plan${failed === 1 ? '' : 's'} failed`, tone: 'bad' }
    : totals.destroy > 0
      ? { text: `${totals.destroy} to destroy`, tone: 'warn' }
      : { text: 'plans succeeded', tone: 'good' };
  const tables: Table[] = [
    {
      title: 'Instances',
      headers: ['Instance', 'Add', 'Change', 'Destroy', 'Result'],
      rows: input.entries.map((e, i) => {
        const c = counted[i];
        return [
          idOf(e),
          ...(c ? [c.add, c.change, c.destroy].map(String) : ['-', '-', '-']),
          status.get(idOf(e)) ?? '',
        ];
      }),
    },
    changesTable(input.entries),
  ];
  if (input.skipped.length > 0) {
    tables.push({
      title: 'Not planned',
      headers: ['Instance', 'Why'],
      rows: input.skipped.map((s) => [idOf(s), s.reason]),
    });
  }
  return renderReportPage({
    title: `strata plan: ${input.entries.length} affected instance${input.entries.length === 1 ? '' : 's'}`,
    status: verdict,
    summary: [
      { label: 'Range', value: input.range ?? '(working tree)' },
      { label: 'Instances', value: String(input.entries.length) },
      { label: 'To add', value: String(totals.add) },
      { label: 'To change', value: String(totals.change) },
      { label: 'To destroy', value: String(totals.destroy), tone: totals.destroy > 0 ? 'warn' : undefined },
      { label: 'Failed plans', value: String(failed), tone: failed > 0 ? 'bad' : undefined },
      { label: 'Not planned', value: String(input.skipped.length) },
    ],
    timeline: {
      title: 'Plan timeline',
      note: 'Each bar is one terraform plan: when it started after the run began and how long it took.',
      bars: input.runs.map((r) => ({
        id: idOf(r),
        label: idOf(r),
        start: (r.startedMs ?? 0) / 1000,
        duration: r.durationMs / 1000,
        status: r.result,
      })),
    },
    graph: {
      title: 'Affected instances (dependency above dependent)',
      diagram: {
        nodes: input.entries.map((e) => ({ id: idOf(e), label: `${e.component}\n${e.stack}` })),
        edges: input.edges,
      },
      status,
    },
    tables,
    details: input.entries
      .filter((e) => e.error)
      .map((e) => ({ title: `${idOf(e)}: plan failed`, text: [e.error, e.details].filter(Boolean).join('\n\n') })),
    footer: `strata plan --affected · ${date.toISOString()}`,
  });
}
