/**
 * One self-contained HTML report page (inline CSS and SVG, no script, nothing fetched): a summary, a timeline of
 * durations as bars and the graph. The operator's test report and the affected-plan report fill it in. Every text
 * goes through the masker before it is escaped, so a secret that reached a message never reaches the page.
 */
import type { Diagram } from './render.ts';
import { diagramSvg, xmlText } from './svg.ts';

export type Tone = 'good' | 'bad' | 'warn' | 'neutral';

export interface SummaryItem {
  label: string;
  value: string;
  tone?: Tone;
}

export interface TimelineBar {
  /** Node id (matches the graph's). */
  id: string;
  label: string;
  /** Seconds from the start of the run. */
  start: number;
  /** Seconds. */
  duration: number;
  status?: string;
}

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
}

export interface ReportPage {
  title: string;
  /** The verdict shown under the title. */
  status: { text: string; tone: Tone };
  summary: SummaryItem[];
  timeline: { title: string; note?: string; bars: TimelineBar[] };
  graph: { title: string; diagram: Diagram; status?: ReadonlyMap<string, string> };
  tables?: Table[];
  /** Preformatted texts (errors), each under a heading. */
  details?: Array<{ title: string; text: string }>;
  /** The footer line: where and when the report was made. */
  footer?: string;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:24px 32px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.verdict{display:inline-block;font-weight:600;padding:2px 10px;border-radius:12px;margin-bottom:12px}
.tone-good{background:#dafbe1;color:#116329}.tone-bad{background:#ffebe9;color:#a40e26}
.tone-warn{background:#fff8c5;color:#7d4e00}.tone-neutral{background:#eaeef2;color:#24292f}
dl.summary{display:flex;flex-wrap:wrap;gap:10px;margin:0}
dl.summary div{border:1px solid #d0d7de;border-radius:8px;padding:8px 14px;min-width:110px}
dl.summary dt{font-size:12px;color:#57606a}dl.summary dd{margin:0;font-size:18px;font-weight:600}
.timeline{border:1px solid #d0d7de;border-radius:8px;padding:8px 12px}
.timeline .row{display:flex;align-items:center;gap:10px;height:24px}
.timeline .name{width:220px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:ui-monospace,monospace;font-size:12px}
.timeline .track{position:relative;flex:1;height:14px;background:#f6f8fa;border-radius:3px}
.timeline .bar{position:absolute;top:0;height:14px;border-radius:3px;background:#54aeff;min-width:2px}
.timeline .secs{width:64px;flex:none;text-align:right;font-variant-numeric:tabular-nums;font-size:12px;color:#57606a}
.bar.status-failed,.bar.status-errored{background:#cf222e}.bar.status-skipped,.bar.status-cancelled{background:#afb8c1}
.note{color:#57606a;font-size:12px}
.graph-box{overflow:auto;border:1px solid #d0d7de;border-radius:8px;padding:8px}
svg.graph .node rect{fill:#ddf4ff;stroke:#0969da;stroke-width:1.2}
svg.graph .node text{font:12px ui-monospace,monospace;fill:#1f2328}svg.graph .node .sub{font-size:11px;fill:#57606a}
svg.graph .node.status-failed rect,svg.graph .node.status-errored rect{fill:#ffebe9;stroke:#cf222e}
svg.graph .node.status-passed rect,svg.graph .node.status-succeeded rect,svg.graph .node.status-completed rect,svg.graph .node.status-destroyed rect,svg.graph .node.status-created rect,svg.graph .node.status-verified rect{fill:#dafbe1;stroke:#1a7f37}
svg.graph .node.status-changes rect{fill:#fff8c5;stroke:#9a6700}svg.graph .node.status-destroys rect{fill:#ffebe9;stroke:#cf222e;stroke-dasharray:4 2}
svg.graph .node.status-unchanged rect,svg.graph .node.status-skipped rect,svg.graph .node.status-pending rect,svg.graph .node.status-cancelled rect{fill:#f6f8fa;stroke:#8c959f}
svg.graph .edge{fill:none;stroke:#57606a;stroke-width:1.3}svg.graph .arrowhead{fill:#57606a}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:10px;overflow:auto;font-size:12px}
footer{margin-top:28px;color:#57606a;font-size:12px}
`;

function summaryHtml(items: SummaryItem[]): string {
  const cells = items.map(
    (i) =>
      `<div class="item${i.tone ? ` tone-${i.tone}` : ''}" data-label="${xmlText(i.label)}"><dt>${xmlText(i.label)}</dt><dd>${xmlText(i.value)}</dd></div>`,
  );
  return `<dl class="summary">${cells.join('')}</dl>`;
}

function timelineHtml(timeline: ReportPage['timeline']): string {
  const end = Math.max(0.001, ...timeline.bars.map((b) => b.start + b.duration));
  const pct = (s: number) => `${((Math.max(0, s) / end) * 100).toFixed(2)}%`;
  const rows = timeline.bars.map((b) => {
    const cls = b.status ? `bar status-${b.status.replace(/[^a-z0-9-]/gi, '')}` : 'bar';
    const tip = `${b.label}: ${b.duration.toFixed(1)}s${b.status ? ` (${b.status})` : ''}`;
    return (
      `<div class="row" data-id="${xmlText(b.id)}"><span class="name" title="${xmlText(b.label)}">${xmlText(b.label)}</span>` +
      `<span class="track"><span class="${cls}" title="${xmlText(tip)}" style="left:${pct(b.start)};width:${pct(b.duration)}"></span></span>` +
      `<span class="secs">${b.duration.toFixed(1)}s</span></div>`
    );
  });
  const note = timeline.note ? `<p class="note">${xmlText(timeline.note)}</p>` : '';
  const body = rows.length > 0 ? rows.join('\n') : '<p class="note">Nothing ran.</p>';
  return `<h2>${xmlText(timeline.title)}</h2>${note}<div class="timeline">\n${body}\n</div>`;
}

function tableHtml(table: Table): string {
  const head = `<tr>${table.headers.map((h) => `<th>${xmlText(h)}</th>`).join('')}</tr>`;
  const rows = table.rows.map((r) => `<tr>${r.map((c) => `<td>${xmlText(c)}</td>`).join('')}</tr>`);
  return `<h2>${xmlText(table.title)}</h2><table>${head}${rows.join('')}</table>`;
}

/** The whole page as one string. */
export function renderReportPage(page: ReportPage): string {
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may be fetched: the report is opened from CI artifacts and mail, often offline.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${xmlText(page.title)}</title><style>${STYLE}</style></head><body>`,
    `<h1>${xmlText(page.title)}</h1>`,
    `<div class="verdict tone-${page.status.tone}" id="verdict">${xmlText(page.status.text)}</div>`,
    `<section id="summary">${summaryHtml(page.summary)}</section>`,
    `<section id="timeline">${timelineHtml(page.timeline)}</section>`,
    `<section id="graph"><h2>${xmlText(page.graph.title)}</h2><div class="graph-box">${diagramSvg(page.graph.diagram, { status: page.graph.status, title: page.graph.title })}</div></section>`,
  ];
  for (const table of page.tables ?? []) parts.push(`<section class="table">${tableHtml(table)}</section>`);
  for (const d of page.details ?? [])
    parts.push(`<section class="detail"><h2>${xmlText(d.title)}</h2><pre>${xmlText(d.text)}</pre></section>`);
  if (page.footer) parts.push(`<footer>${xmlText(page.footer)}</footer>`);
  parts.push('</body></html>', '');
  return parts.join('\n');
}
