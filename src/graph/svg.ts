/**
 * A graph drawn as inline SVG, for HTML reports that must work without a network (no Mermaid script at view time).
 * Layered layout: each node one row below the lowest thing it depends on, rows ordered by the mean position of their
 * neighbours (a few sweeps down and up), edges as curves from the bottom of one box to the top of the next.
 */
import { globalMasker } from '../util/mask.ts';
import { type Diagram, type DiagramEdge, printableLabel } from './render.ts';

export interface SvgOptions {
  /** A status per node id (passed, failed, ...): the box gets the class `status-<status>`. */
  status?: ReadonlyMap<string, string>;
  /** Accessible name of the picture. */
  title?: string;
}

export interface Placed {
  id: string;
  label: string;
  layer: number;
  x: number;
  y: number;
}

const BOX = { width: 168, height: 42, gapX: 22, gapY: 54, margin: 16 };
/** Characters that fit in a box at the report's font size; longer labels end in an ellipsis (the title has all). */
const LABEL_CHARS = 22;
const SWEEPS = 4;

/** Text for XML: masked, printable, with the five special characters escaped. */
export function xmlText(text: string): string {
  return printableLabel(globalMasker.mask(text))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Rows by longest path from the nodes without dependencies; nodes left in a cycle go in one row after the rest. */
function layers(ids: string[], edges: DiagramEdge[]): number[] {
  const index = new Map(ids.map((id, i) => [id, i]));
  const pending = new Int32Array(ids.length);
  const next: number[][] = ids.map(() => []);
  for (const e of edges) {
    const from = index.get(e.from) as number;
    const to = index.get(e.to) as number;
    next[from].push(to);
    pending[to]++;
  }
  const layer = new Array<number>(ids.length).fill(-1);
  const queue = ids.map((_, i) => i).filter((i) => pending[i] === 0);
  for (const i of queue) layer[i] = 0;
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head];
    for (const j of next[i]) {
      layer[j] = Math.max(layer[j], layer[i] + 1);
      if (--pending[j] === 0) queue.push(j);
    }
  }
  const deepest = Math.max(0, ...layer);
  return layer.map((l) => (l < 0 ? deepest + 1 : l));
}

/** Orders each row by the mean position of its neighbours in the row above (downward) or below (upward). */
function orderRows(rows: number[][], neighbours: { up: number[][]; down: number[][] }): void {
  const position = new Float64Array(neighbours.up.length);
  const place = (row: number[]) => {
    row.forEach((n, i) => {
      position[n] = i;
    });
  };
  for (const row of rows) place(row);
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    const downward = sweep % 2 === 0;
    const order = downward ? rows.slice(1) : rows.slice(0, -1).reverse();
    for (const row of order) {
      const key = (n: number) => {
        const near = downward ? neighbours.up[n] : neighbours.down[n];
        return near.length === 0 ? position[n] : near.reduce((sum, m) => sum + position[m], 0) / near.length;
      };
      const keys = new Map(row.map((n) => [n, key(n)]));
      row.sort((a, b) => (keys.get(a) as number) - (keys.get(b) as number) || position[a] - position[b]);
      place(row);
    }
  }
}

/** Positions of every node (top-left corner of its box) and the picture's size. */
export function layout(diagram: Diagram): { placed: Placed[]; width: number; height: number } {
  const ids = [...new Set(diagram.nodes.map((n) => n.id))];
  const labels = new Map(diagram.nodes.map((n) => [n.id, n.label ?? n.id]));
  const known = new Set(ids);
  const edges = diagram.edges.filter((e) => known.has(e.from) && known.has(e.to) && e.from !== e.to);
  const layer = layers(ids, edges);
  const rows: number[][] = [];
  layer.forEach((l, i) => {
    (rows[l] ??= []).push(i);
  });
  const index = new Map(ids.map((id, i) => [id, i]));
  const up: number[][] = ids.map(() => []);
  const down: number[][] = ids.map(() => []);
  for (const e of edges) {
    up[index.get(e.to) as number].push(index.get(e.from) as number);
    down[index.get(e.from) as number].push(index.get(e.to) as number);
  }
  const filled = rows.filter((row) => row !== undefined);
  orderRows(filled, { up, down });
  const widest = Math.max(1, ...filled.map((row) => row.length));
  const width = BOX.margin * 2 + widest * BOX.width + (widest - 1) * BOX.gapX;
  const placed: Placed[] = [];
  filled.forEach((row, r) => {
    const rowWidth = row.length * BOX.width + (row.length - 1) * BOX.gapX;
    const left = (width - rowWidth) / 2;
    row.forEach((n, i) => {
      const id = ids[n];
      placed.push({
        id,
        label: labels.get(id) as string,
        layer: r,
        x: left + i * (BOX.width + BOX.gapX),
        y: BOX.margin + r * (BOX.height + BOX.gapY),
      });
    });
  });
  const height = BOX.margin * 2 + filled.length * BOX.height + Math.max(0, filled.length - 1) * BOX.gapY;
  return { placed, width, height };
}

/** The first two lines of a label, each cut to fit the box. */
function shortLines(label: string): string[] {
  return label
    .split('\n')
    .slice(0, 2)
    .map((line) => (line.length > LABEL_CHARS ? `${line.slice(0, LABEL_CHARS - 1)}…` : line));
}

function labelText(label: string): string {
  const lines = shortLines(label);
  if (lines.length === 1) {
    return `<text x="${BOX.width / 2}" y="${BOX.height / 2}" dominant-baseline="central" text-anchor="middle">${xmlText(lines[0])}</text>`;
  }
  const spans = lines.map(
    (line, i) =>
      `<tspan x="${BOX.width / 2}" y="${BOX.height / 2 + (i === 0 ? -8 : 9)}"${i > 0 ? ' class="sub"' : ''}>${xmlText(line)}</tspan>`,
  );
  return `<text dominant-baseline="central" text-anchor="middle">${spans.join('')}</text>`;
}

/** The diagram as one `<svg>` element: `g.node[data-id]` per node, `path.edge[data-from][data-to]` per edge. */
export function diagramSvg(diagram: Diagram, options: SvgOptions = {}): string {
  const { placed, width, height } = layout(diagram);
  const at = new Map(placed.map((p) => [p.id, p]));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${xmlText(options.title ?? 'graph')}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    '<g class="edges">',
  ];
  const seen = new Set<string>();
  for (const e of diagram.edges) {
    const from = at.get(e.from);
    const to = at.get(e.to);
    const key = `${e.from}\u0000${e.to}`;
    if (!from || !to || from === to || seen.has(key)) continue;
    seen.add(key);
    const x1 = from.x + BOX.width / 2;
    const y1 = from.y + BOX.height;
    const x2 = to.x + BOX.width / 2;
    const y2 = to.y;
    // Upward edges (from a cycle) bend out of the boxes' way through the same vertical control points.
    const bend = Math.max(BOX.gapY / 2, Math.abs(y2 - y1) / 2);
    out.push(
      `<path class="edge" data-from="${xmlText(e.from)}" data-to="${xmlText(e.to)}" d="M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}" marker-end="url(#arrow)"/>`,
    );
  }
  out.push('</g>', '<g class="nodes">');
  for (const p of placed) {
    const status = options.status?.get(p.id);
    const cls = status ? `node status-${status.replace(/[^a-z0-9-]/gi, '')}` : 'node';
    out.push(
      `<g class="${cls}" data-id="${xmlText(p.id)}" transform="translate(${p.x},${p.y})">` +
        `<title>${xmlText(p.label)}${status ? ` (${xmlText(status)})` : ''}</title>` +
        `<rect width="${BOX.width}" height="${BOX.height}" rx="6"/>` +
        `${labelText(p.label)}</g>`,
    );
  }
  out.push('</g>', '</svg>');
  return out.join('\n');
}
