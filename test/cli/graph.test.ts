/** `describe graph` through the CLI: the library function's selections, and errors that name the way out. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { describeGraph } from '../../src/services/describe.ts';
import { runCli } from '../helpers/cli.ts';
import { makeRepo } from '../stacks/fixtures.ts';

// a <- b <- c, and d beside them, in one stack; e in another stack needs b.
const repo = makeRepo({
  'stacks/deploy/dev.yaml': `vars: {stage: dev}
components:
  terraform:
    a: {vars: {}}
    b: {settings: {depends_on: {"1": {component: a}}}}
    c: {dependencies: {components: [{component: b}]}}
    d: {settings: {depends_on: {"1": {component: a}}}}
`,
  'stacks/deploy/prod.yaml': `vars: {stage: prod}
components:
  terraform:
    e: {settings: {depends_on: {"1": {component: b, stack: deploy/dev}}}}
`,
});
after(() => repo.cleanup());

test('describeGraph: a component keeps its lineage, not its siblings; a stack keeps its neighbours elsewhere', async () => {
  const engine = await repo.engine();
  const ids = async (options: { component?: string; stack?: string }) =>
    (await describeGraph(engine, options)).nodes.map((n) => n.id);
  assert.deepEqual(await ids({ component: 'b' }), ['a@deploy/dev', 'b@deploy/dev', 'c@deploy/dev', 'e@deploy/prod']);
  assert.deepEqual(await ids({ stack: 'deploy/prod' }), ['b@deploy/dev', 'e@deploy/prod']);
  const all = await describeGraph(engine);
  assert.equal(all.nodes.length, 5);
  assert.deepEqual(all.edges.map((e) => `${e.from}>${e.to}`).sort(), [
    'a@deploy/dev>b@deploy/dev',
    'a@deploy/dev>d@deploy/dev',
    'b@deploy/dev>c@deploy/dev',
    'b@deploy/dev>e@deploy/prod',
  ]);
});

test('describe graph: an unknown component is an error with a suggestion; a bad --format a usage error', () => {
  const unknown = runCli(['describe', 'graph', 'bb', '-s', 'deploy/dev'], { cwd: repo.dir });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /component 'bb' is not in stack 'deploy\/dev'/);
  assert.match(unknown.stderr, /'b'/);
  const format = runCli(['describe', 'graph', '--format', 'png'], { cwd: repo.dir });
  assert.equal(format.code, 2);
  assert.match(format.stderr, /invalid --format 'png'[\s\S]*dot, mermaid, json/);
  const help = runCli(['describe', 'graph', '--help'], { cwd: repo.dir });
  assert.match(help.stdout, /Examples:\n {2}strata describe graph -s pve-prod \| dot -Tsvg > pve-prod\.svg/);
});
