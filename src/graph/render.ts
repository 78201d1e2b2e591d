/**
 * Pictures of graphs: one neutral shape (nodes, edges, optional groups) that component dependencies, manifests and
 * workflows produce, rendered as Mermaid flowchart text or Graphviz DOT. An edge points from what runs first to what
 * runs after it (a dependency to its dependent, a parent node to its child, a step to the steps that need it).
 */

export interface DiagramNode {
  id: string;
  /** What the picture shows (default: the id). */
  label?: string;
  /** Id of the group (stack, level) the node is drawn in. */
  group?: string;
}

export interface DiagramEdge {
  from: string;
  to: string;
}

export interface DiagramGroup {
  id: string;
  label?: string;
}

export interface Diagram {
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  groups?: DiagramGroup[];
}

export const DIAGRAM_FORMATS = ['mermaid', 'dot'] as const;
export type DiagramFormat = (typeof DIAGRAM_FORMATS)[number];

/** Characters that would break a label or a file: C0 controls other than newline, DEL, lone surrogates. */
const UNPRINTABLE =
  /[\u0000-\u0009\u000b-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The text a label shows: `\r\n` and `\r` a newline, a tab a space, other unprintable characters U+FFFD. */
export function printableLabel(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/\t/g, ' ').replace(UNPRINTABLE, '\ufffd');
}

/**
 * Identifiers for Mermaid: `n<index>_<letters and digits of the name>` (`g` for subgraphs). The index keeps them unique; the prefix keeps
 * them clear of Mermaid's keywords (`end`, `graph`) and of edge shapes a leading `o` or `x` would start.
 */
export function mermaidIds(ids: readonly string[], prefix = 'n'): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of ids) {
    if (out.has(id)) continue;
    const slug = id
      .replace(/[^A-Za-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 40);
    out.set(id, `${prefix}${out.size}${slug ? `_${slug}` : ''}`);
  }
  return out;
}

/** A Mermaid label inside `["..."]`: anything beyond plain characters as an entity code, newlines as `<br>`. */
export function mermaidLabel(text: string): string {
  return printableLabel(text)
    .split('\n')
    .map((line) => line.replace(/[^A-Za-z0-9 _.,:@/+=-]/gu, (c) => `#${c.codePointAt(0)};`))
    .join('<br>');
}

/** A DOT quoted string: backslash and double quote escaped, newlines as `\n` (centred lines). */
export function dotString(text: string): string {
  const body = printableLabel(text).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `"${body}"`;
}

/** The edges between known nodes, each once, in the order given. */
function knownEdges(diagram: Diagram): DiagramEdge[] {
  const known = new Set(diagram.nodes.map((n) => n.id));
  const seen = new Set<string>();
  return diagram.edges.filter((e) => {
    const key = `${e.from}\u0000${e.to}`;
    if (!known.has(e.from) || !known.has(e.to) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Nodes by group, in the order the groups are listed; nodes without a (known) group first. */
function byGroup(diagram: Diagram): { loose: DiagramNode[]; grouped: Array<[DiagramGroup, DiagramNode[]]> } {
  const groups = diagram.groups ?? [];
  const members = new Map<string, DiagramNode[]>(groups.map((g) => [g.id, []]));
  const loose: DiagramNode[] = [];
  for (const node of diagram.nodes) {
    const list = node.group === undefined ? undefined : members.get(node.group);
    if (list) list.push(node);
    else loose.push(node);
  }
  return { loose, grouped: groups.map((g) => [g, members.get(g.id) ?? []]) };
}

/** Mermaid flowchart text (top to bottom); groups are subgraphs. */
export function toMermaid(diagram: Diagram): string {
  const ids = mermaidIds(diagram.nodes.map((n) => n.id));
  // Subgraphs get ids of their own (`g0_...`), so a node can never share one with a group.
  const groupIds = mermaidIds(
    (diagram.groups ?? []).map((g) => g.id),
    'g',
  );
  const lines = ['flowchart TD'];
  const node = (n: DiagramNode, pad: string) =>
    lines.push(`${pad}${ids.get(n.id)}["${mermaidLabel(n.label ?? n.id)}"]`);
  const { loose, grouped } = byGroup(diagram);
  for (const n of loose) node(n, '  ');
  for (const [group, nodes] of grouped) {
    lines.push(`  subgraph ${groupIds.get(group.id)}["${mermaidLabel(group.label ?? group.id)}"]`);
    for (const n of nodes) node(n, '    ');
    lines.push('  end');
  }
  for (const e of knownEdges(diagram)) lines.push(`  ${ids.get(e.from)} --> ${ids.get(e.to)}`);
  return `${lines.join('\n')}\n`;
}

/** DOT node ids: the names themselves (printable); a name that only differs in unprintable characters gets a suffix. */
function dotIds(ids: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>();
  for (const id of ids) {
    if (out.has(id)) continue;
    let candidate = printableLabel(id);
    for (let n = 2; taken.has(candidate); n++) candidate = `${printableLabel(id)} (${n})`;
    taken.add(candidate);
    out.set(id, candidate);
  }
  return out;
}

/** Graphviz DOT text (`digraph`, top to bottom); groups are clusters. Node ids are the names, quoted. */
export function toDot(diagram: Diagram, name = 'strata'): string {
  const ids = dotIds(diagram.nodes.map((n) => n.id));
  const lines = [`digraph ${dotString(name)} {`, '  rankdir=TB;', '  node [shape=box, style=rounded];'];
  const node = (n: DiagramNode, pad: string) =>
    lines.push(`${pad}${dotString(ids.get(n.id) as string)} [label=${dotString(n.label ?? n.id)}];`);
  const { loose, grouped } = byGroup(diagram);
  for (const n of loose) node(n, '  ');
  grouped.forEach(([group, nodes], i) => {
    lines.push(`  subgraph cluster_${i} {`, `    label=${dotString(group.label ?? group.id)};`);
    for (const n of nodes) node(n, '    ');
    lines.push('  }');
  });
  for (const e of knownEdges(diagram))
    lines.push(`  ${dotString(ids.get(e.from) as string)} -> ${dotString(ids.get(e.to) as string)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export function renderDiagram(diagram: Diagram, format: DiagramFormat): string {
  return format === 'dot' ? toDot(diagram) : toMermaid(diagram);
}
