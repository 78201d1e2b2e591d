/** The HTML test report (`--report-format html`) and the node graph `manifest plan --format mermaid|dot` draws. */
import { hostname } from 'node:os';
import { renderReportPage, type TimelineBar, type Tone } from '../graph/html.ts';
import type { Diagram } from '../graph/render.ts';
import type { Manifest } from './manifest.ts';
import type { NodeReport, RunResult } from './types.ts';

/** A manifest's nodes, each under its parent (the host it runs on), labelled with name and type. */
export function manifestDiagram(manifest: Pick<Manifest, 'nodes'>): Diagram {
  return {
    nodes: manifest.nodes.map((n) => ({ id: n.name, label: `${n.name}\n${n.type}${n.vmid ? ` ${n.vmid}` : ''}` })),
    edges: manifest.nodes.filter((n) => n.parent !== undefined).map((n) => ({ from: n.parent as string, to: n.name })),
  };
}

/**
 * One bar per node: it starts when its parent finished (a node is created once its host is up) and lasts the node's
 * own duration; nodes without a parent start at 0.
 */
function nodeBars(nodes: NodeReport[], parents: ReadonlyMap<string, string | undefined>): TimelineBar[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const ends = new Map<string, number>();
  const endOf = (name: string): number => {
    const known = ends.get(name);
    if (known !== undefined) return known;
    // create_order lists parents first, so this walks at most one level per node already seen.
    const parent = parents.get(name);
    const start = parent !== undefined && byName.has(parent) ? (ends.get(parent) ?? 0) : 0;
    const end = start + (byName.get(name)?.duration ?? 0);
    ends.set(name, end);
    return end;
  };
  return nodes.map((n) => {
    const end = endOf(n.name);
    const duration = n.duration ?? 0;
    return { id: n.name, label: n.name, start: end - duration, duration, status: n.status };
  });
}

function count(items: ReadonlyArray<{ status: string }>, statuses: string[]): number {
  return items.filter((n) => statuses.includes(n.status)).length;
}

/** The report page for a run of `manifest test` (or create/destroy): summary, node timeline, node graph. */
export function reportHtml(result: RunResult, date: Date, manifest?: Pick<Manifest, 'nodes'>): string {
  const diagram = manifest
    ? manifestDiagram(manifest)
    : { nodes: result.nodes.map((n) => ({ id: n.name })), edges: [] };
  const parents = new Map(manifest?.nodes.map((n) => [n.name, n.parent]) ?? []);
  const failedNodes = count(result.nodes, ['failed']);
  const tone = (n: number, bad: Tone): Tone => (n > 0 ? bad : 'neutral');
  const tables = [
    {
      title: 'Phases',
      headers: ['Phase', 'Status', 'Duration', 'Message'],
      rows: result.phases.map((p) => [p.name, p.status, `${p.duration.toFixed(1)}s`, p.message ?? '']),
    },
    {
      title: 'Nodes',
      headers: ['Node', 'Status', 'VM id', 'IP', 'Duration', 'Error'],
      rows: result.nodes.map((n) => [
        n.name,
        n.status,
        n.vm_id === undefined ? '' : String(n.vm_id),
        n.ip ?? '',
        n.duration === undefined ? '' : `${n.duration.toFixed(1)}s`,
        n.error ?? '',
      ]),
    },
  ];
  if (result.leftover?.length) {
    tables.push({
      title: 'Left behind (destroy failed)',
      headers: ['VM ids', 'Node', 'Host', 'Error'],
      rows: result.leftover.map((vm) => [vm.vm_ids.join(', ') || '?', vm.node, vm.host, vm.error]),
    });
  }
  return renderReportPage({
    title: `${result.scenario}${result.stack ? ` on ${result.stack}` : ''}`,
    status: result.success ? { text: 'PASSED', tone: 'good' } : { text: 'FAILED', tone: 'bad' },
    summary: [
      { label: 'Manifest', value: result.manifest },
      { label: 'Stack', value: result.stack || '(none)' },
      { label: 'Nodes', value: String(result.nodes.length) },
      { label: 'Failed nodes', value: String(failedNodes), tone: tone(failedNodes, 'bad') },
      { label: 'Phases passed', value: `${count(result.phases, ['passed'])}/${result.phases.length}` },
      { label: 'Duration', value: `${result.duration_seconds.toFixed(1)}s` },
    ],
    timeline: {
      title: 'Node timeline',
      note: 'Each bar starts when its parent node was done and lasts as long as the node took.',
      bars: nodeBars(result.nodes, parents),
    },
    graph: {
      title: 'Nodes (parent above child)',
      diagram,
      status: new Map(result.nodes.map((n) => [n.name, n.status])),
    },
    tables,
    details: result.error ? [{ title: 'Error', text: result.error }] : [],
    footer: `Host ${hostname()} · ${date.toISOString()} · strata manifest ${result.verb}`,
  });
}
