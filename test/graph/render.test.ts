/**
 * The pictures: Mermaid and DOT text from one diagram shape, checked by Graphviz's own parser (`dot -Tsvg`), and the
 * layered SVG the HTML reports draw.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Diagram, mermaidIds, mermaidLabel, printableLabel, toDot, toMermaid } from '../../src/graph/render.ts';
import { diagramSvg, layout } from '../../src/graph/svg.ts';

const hasDot = spawnSync('dot', ['-V']).status === 0;
/** Graphviz is in scripts/setup.sh: CI must have it; elsewhere the DOT checks say why they are skipped. */
const skipDot = hasDot || process.env.CI ? false : 'no Graphviz dot on PATH (apt-get install graphviz)';

function dotSvg(text: string): string {
  const run = spawnSync('dot', ['-Tsvg'], { input: text, encoding: 'utf8' });
  assert.equal(run.status, 0, `dot rejected:\n${text}\n${run.stderr}`);
  assert.equal(run.stderr, '', run.stderr);
  return run.stdout;
}

const decodeXml = (s: string) =>
  s
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(Number.parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\u00a0/g, ' ');

/** The text lines Graphviz drew in each node, in the order the nodes were declared. */
function dotNodeTexts(svg: string): string[][] {
  // Graphviz numbers nodes in declaration order (node1, node2, ...) but may write them in another order.
  const groups = [...svg.matchAll(/<g id="node(\d+)" class="node">([\s\S]*?)<\/g>/g)];
  groups.sort((a, b) => Number(a[1]) - Number(b[1]));
  return groups.map((g) => [...g[2].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decodeXml(m[1])));
}

const DIAGRAM: Diagram = {
  nodes: [
    { id: 'net@dev', label: 'net', group: 'dev' },
    { id: 'web@dev', label: 'web', group: 'dev' },
    { id: 'web@prod', label: 'web', group: 'prod' },
    { id: 'end', label: 'a "quoted" [bracketed]\nsecond line' },
  ],
  edges: [
    { from: 'net@dev', to: 'web@dev' },
    { from: 'net@dev', to: 'web@prod' },
    { from: 'net@dev', to: 'web@prod' },
    { from: 'web@dev', to: 'nowhere' },
  ],
  groups: [
    { id: 'dev', label: 'stack dev' },
    { id: 'prod', label: 'stack prod' },
  ],
};

test('Mermaid: safe ids, labels with entity codes, groups as subgraphs, each edge once', () => {
  const text = toMermaid(DIAGRAM);
  assert.equal(
    text,
    [
      'flowchart TD',
      '  n3_end["a #34;quoted#34; #91;bracketed#93;<br>second line"]',
      '  subgraph g0_dev["stack dev"]',
      '    n0_net_dev["net"]',
      '    n1_web_dev["web"]',
      '  end',
      '  subgraph g1_prod["stack prod"]',
      '    n2_web_prod["web"]',
      '  end',
      '  n0_net_dev --> n1_web_dev',
      '  n0_net_dev --> n2_web_prod',
      '',
    ].join('\n'),
  );
});

test('DOT: names as quoted ids, labels escaped, groups as clusters; Graphviz draws every label as written', {
  skip: skipDot,
}, () => {
  const text = toDot(DIAGRAM);
  assert.match(text, /^digraph "strata" \{\n/);
  assert.match(text, /subgraph cluster_0 \{\n {4}label="stack dev";/);
  assert.match(text, / {2}"end" \[label="a \\"quoted\\" \[bracketed\]\\nsecond line"\];/);
  assert.equal(text.match(/->/g)?.length, 2, 'the duplicate and the dangling edge are left out');
  const drawn = dotNodeTexts(dotSvg(text));
  assert.deepEqual(drawn, [['a "quoted" [bracketed]', 'second line'], ['net'], ['web'], ['web']]);
});

/** Names as people and tools write them, and as an attacker might: quotes, backslashes, brackets, controls, emoji. */
const nameArbitrary = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.stringMatching(/^[a-z0-9_./@-]{1,16}$/),
  fc.constantFrom('"', '\\', '\\"', '[x]', 'a\nb', 'end', 'subgraph', '{}', '->', '<b>', '#35;', ';', 'o', 'x--'),
);

test('property: arbitrary node names give DOT that Graphviz parses and Mermaid ids that are plain and unique', {
  skip: skipDot,
}, () => {
  // Every run's DOT goes to one `dot` process at the end (one graph after another): a process per run is slow.
  const cases: Array<{ names: string[]; dot: string }> = [];
  fc.assert(
    fc.property(
      fc.uniqueArray(nameArbitrary, { minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
      (names, pairs) => {
        const diagram: Diagram = {
          nodes: names.map((id) => ({ id })),
          edges: pairs.map(([a, b]) => ({ from: names[a % names.length], to: names[b % names.length] })),
        };
        const ids = [...mermaidIds(names).values()];
        assert.equal(new Set(ids).size, names.length);
        for (const id of ids) assert.match(id, /^n\d+(_[A-Za-z0-9_]+)?$/);
        for (const name of names) assert.match(mermaidLabel(name), /^[A-Za-z0-9 _.,:@/+=#;<>-]*$/);
        for (const line of toMermaid(diagram).split('\n').slice(1, -1))
          assert.match(line, /^ {2}(n\d+\S*\["[^"\n]*"\]|n\d+\S* --> n\d+\S*)$/);
        cases.push({ names, dot: toDot(diagram) });
      },
    ),
    { numRuns: 100 },
  );
  assert.ok(cases.length >= 100);
  const svgs = dotSvg(cases.map((c) => c.dot).join('\n'))
    .split('<?xml')
    .slice(1);
  assert.equal(svgs.length, cases.length, 'one picture per graph');
  cases.forEach(({ names }, n) => {
    const drawn = dotNodeTexts(svgs[n]);
    assert.equal(drawn.length, names.length, `one node per name: ${JSON.stringify(names)}`);
    drawn.forEach((lines, i) => {
      const expected = printableLabel(names[i])
        .split('\n')
        .filter((l) => l.trim() !== '');
      assert.deepEqual(
        lines.filter((l) => l.trim() !== '').map((l) => l.trim()),
        expected.map((l) => l.trim()),
        JSON.stringify(names[i]),
      );
    });
  });
});

test('SVG layout: dependencies above dependents, one box per node, one curve per edge, cycles tolerated', () => {
  const diagram: Diagram = {
    nodes: ['a', 'b', 'c', 'd', 'x', 'y'].map((id) => ({ id })),
    edges: [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'a', to: 'c' },
      { from: 'x', to: 'y' },
      { from: 'y', to: 'x' },
    ],
  };
  const { placed } = layout(diagram);
  const at = new Map(placed.map((p) => [p.id, p]));
  assert.ok((at.get('a')?.y ?? 0) < (at.get('b')?.y ?? 0));
  assert.ok((at.get('b')?.y ?? 0) < (at.get('c')?.y ?? 0));
  assert.equal(at.get('d')?.layer, 0);
  assert.equal(at.get('x')?.layer, at.get('y')?.layer, 'a cycle goes in one row after the rest');
  const svg = diagramSvg(diagram, { status: new Map([['a', 'failed']]) });
  assert.equal(svg.match(/<g class="node[ "]/g)?.length, 6);
  assert.equal(svg.match(/<path class="edge"/g)?.length, 5);
  assert.match(svg, /<g class="node status-failed" data-id="a"/);
  const hostile = diagramSvg({ nodes: [{ id: '<script>"&\'' }], edges: [] });
  assert.match(hostile, /data-id="&lt;script&gt;&quot;&amp;&#39;"/);
  assert.doesNotMatch(hostile, /<script/);
});
