// Journey: the pictures through the installed CLI. `describe graph`, `manifest plan` and `workflow --dry-run` as DOT
// (parsed by Graphviz) and Mermaid; then a real `manifest test` on the in-process simulator and a real
// `plan --affected` of terraform_data components write HTML reports, which headless Chromium renders: the summary,
// one timeline bar and one graph box per node, the edges, and a screenshot kept as a test artifact.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { artifactsDir, launchChromium, skipWithoutChromium } from '../helpers/browser.ts';
import { repoRoot } from '../helpers/shared.ts';
import { type Journey, journey, TERRAFORM_ATMOS_YAML } from './helpers.ts';

const noTerraform = spawnSync('terraform', ['version']).status === 0 ? false : 'no terraform';
const noDot =
  spawnSync('dot', ['-V']).status === 0 || process.env.CI ? false : 'no Graphviz dot (apt-get install graphviz)';

const homelab = join(repoRoot, 'examples', 'homelab');

let j: Journey;
let base: string;

function component(extra = ''): string {
  return `variable "release" { type = string }
resource "terraform_data" "this" { input = var.release }
${extra}`;
}

function stack(release: string): string {
  return `vars:
  stage: lab
  presets:
    small: { cores: 1, memory: 1024, disk: 10 }
    large: { cores: 4, memory: 8192, disk: 40 }
  images:
    debian-12: local:iso/debian-12.img
    debian-13-pve: local:iso/debian-13-pve.img
settings:
  proxmox:
    endpoint: https://10.9.9.9:8006
    node: pve
    storage: vmdata
    insecure: true
components:
  terraform:
    base:
      metadata: { type: abstract }
      vars: { release: "0" }
    net:
      vars: { release: "${release}" }
    web:
      vars: { release: "${release}" }
      settings: { depends_on: { "1": { component: net } } }
    db:
      vars: { release: "${release}" }
      settings: { depends_on: { "1": { component: net } } }
`;
}

before(async () => {
  j = await journey('pictures');
  j.write({
    'atmos.yaml': `${TERRAFORM_ATMOS_YAML}workflows:\n  base_path: workflows\n`,
    '.gitignore': '.strata/\n.terraform/\nterraform.tfstate.d/\n*.tfvars.json\n*.planfile\nout/\n',
    'components/terraform/net/main.tf': component(),
    'components/terraform/web/main.tf': component(),
    // db's plan fails (a file that is not there), so the report shows a failed plan.
    'components/terraform/db/main.tf': component(
      'output "config" { value = var.release == "1" ? "" : file("no-such-file.txt") }',
    ),
    'stacks/lab.yaml': stack('1'),
    // prod's web needs lab's net: a dependency in another stack.
    'stacks/prod.yaml': `vars: { stage: prod }
components:
  terraform:
    web:
      vars: { release: "1" }
      settings: { depends_on: { "1": { component: net, stack: lab } } }
`,
    'stacks/manifests/lab.yaml': `schema_version: 2
name: lab
nodes:
  - { name: host, type: pve, preset: large, image: debian-13-pve, vmid: 901 }
  - { name: web, type: vm, preset: small, image: debian-12, vmid: 911, parent: host }
  - { name: db, type: vm, preset: small, image: debian-12, vmid: 912, parent: host }
  - { name: tools, type: vm, preset: small, image: debian-12, vmid: 921 }
settings:
  verify_ssh: false
`,
    'workflows/ship.yaml': `workflows:
  ship:
    steps:
      - { name: check, command: validate stacks }
      - { name: net, command: terraform plan net -s lab, needs: [check] }
      - { name: web, command: terraform plan web -s lab, needs: [net] }
      - { name: db, command: terraform plan db -s lab, needs: [net] }
`,
  });
  j.git('init', '-q', '-b', 'main');
  j.git('add', '-A');
  j.git('commit', '-qm', 'base');
  base = j.git('rev-parse', 'HEAD');
  j.write({ 'stacks/lab.yaml': stack('2') });
  j.git('commit', '-qam', 'release 2');
});

after(() => j?.cleanup());

function dotParses(text: string): string {
  const run = spawnSync('dot', ['-Tsvg'], { input: text, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test('describe graph, manifest plan and workflow --dry-run draw DOT that Graphviz parses, and Mermaid', {
  skip: noDot,
}, async () => {
  const graph = await j.strata(['describe', 'graph', '-s', 'lab', '--format', 'json']);
  assert.equal(graph.code, 0, graph.stderr);
  const parsed = JSON.parse(graph.stdout) as {
    nodes: Array<{ id: string }>;
    edges: Array<{ from: string; to: string }>;
  };
  assert.deepEqual(
    parsed.nodes.map((n) => n.id).sort(),
    ['db@lab', 'net@lab', 'web@lab', 'web@prod'],
    "lab's components and prod's web, which needs lab's net",
  );
  assert.deepEqual(parsed.edges, [
    { from: 'net@lab', to: 'web@lab' },
    { from: 'net@lab', to: 'db@lab' },
    { from: 'net@lab', to: 'web@prod' },
  ]);
  const dot = await j.strata(['describe', 'graph', '-s', 'lab']);
  assert.equal(dot.code, 0, dot.stderr);
  assert.match(dot.stdout, /subgraph cluster_0 \{\n {4}label="stack lab";/);
  assert.match(dotParses(dot.stdout), /<title>net@lab&#45;&gt;web@lab<\/title>/);
  const prod = await j.strata(['describe', 'graph', '-s', 'prod', '--format', 'json']);
  assert.deepEqual(JSON.parse(prod.stdout), {
    nodes: [
      { id: 'net@lab', component: 'net', stack: 'lab', type: 'terraform' },
      { id: 'web@prod', component: 'web', stack: 'prod', type: 'terraform' },
    ],
    edges: [{ from: 'net@lab', to: 'web@prod' }],
  });
  const all = await j.strata(['describe', 'graph', '--format', 'json']);
  assert.equal(JSON.parse(all.stdout).nodes.length, 4, 'every stack, abstract components left out');
  const only = await j.strata(['describe', 'graph', 'web', '--format', 'mermaid']);
  assert.equal(only.code, 0, only.stderr);
  assert.match(only.stdout, /^flowchart TD\n/);
  assert.match(only.stdout, /n\d+_net_lab --> n\d+_web_lab/);
  assert.doesNotMatch(only.stdout, /db/, 'web, what it needs (net) and what needs it (nothing); not its sibling db');
  assert.match(only.stdout, /n\d+_web_prod/, 'web of every stack');

  const manifest = await j.strata(['manifest', 'plan', 'lab', '--format', 'dot']);
  assert.equal(manifest.code, 0, manifest.stderr);
  assert.match(dotParses(manifest.stdout), /<title>host&#45;&gt;web<\/title>/);
  const mermaid = await j.strata(['manifest', 'plan', 'lab', '--format', 'mermaid']);
  assert.match(mermaid.stdout, /n1_web\["web<br>vm 911"\]\n[\s\S]*n0_host --> n1_web/);

  const flow = await j.strata(['workflow', 'ship', '--dry-run', '--format', 'dot']);
  assert.equal(flow.code, 0, flow.stderr);
  const svg = dotParses(flow.stdout);
  for (const edge of ['check&#45;&gt;net', 'net&#45;&gt;web', 'net&#45;&gt;db']) assert.match(svg, new RegExp(edge));
  assert.match(flow.stdout, /label="runs together: level 2";\n {4}"web" \[[^\n]*\n {4}"db" /);
  const wrong = await j.strata(['workflow', 'ship', '--format', 'dot']);
  assert.equal(wrong.code, 2, 'a picture needs --dry-run');
});

test("the README's describe graph and the example's sequential workflow, drawn on examples/homelab", async () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const line = /^npx strata (describe graph [^#\n]*?)\s+#/m.exec(readme);
  assert.ok(line, "README's tour has a describe graph line");
  const graph = await j.strata(line[1].split(' '), { cwd: homelab });
  assert.equal(graph.code, 0, graph.stderr);
  assert.match(graph.stdout, /^flowchart TD\n {2}subgraph g0_pve_prod\["stack pve-prod"\]\n/);
  assert.match(graph.stdout, /\["k3s-cluster"\]/);
  const flow = await j.strata(['workflow', 'lab-test', '-f', 'lab', '--dry-run', '--format', 'mermaid'], {
    cwd: homelab,
  });
  assert.equal(flow.code, 0, flow.stderr);
  assert.match(flow.stdout, /n0_validate_stacks\["validate-stacks<br>strata validate stacks"\]/);
  assert.match(flow.stdout, /n0_validate_stacks --> n1_validate_manifest\n/, 'no needs: after the previous step');
});

interface Reports {
  manifest: string;
  plan: string;
}
const reports: Partial<Reports> = {};

test('manifest test on the simulator writes an HTML report next to the JSON and markdown', async () => {
  const dir = join(j.out, 'reports');
  const run = await j.strata([
    'manifest',
    'test',
    'lab',
    '-s',
    'lab',
    '--simulator',
    '--sim-latency',
    '0',
    '--report-dir',
    dir,
    '--report-format',
    'json,md,html',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const files = readdirSync(dir).sort();
  assert.deepEqual(
    files.map((f) => f.replace(/^\d{8}-\d{6}\./, '')),
    ['passed.html', 'passed.json', 'passed.md'],
  );
  const json = JSON.parse(readFileSync(join(dir, files[1]), 'utf8')) as { nodes: Array<{ name: string }> };
  assert.equal(json.nodes.length, 4);
  reports.manifest = join(dir, files[0]);
  assert.match(run.stdout, new RegExp(`Report: ${reports.manifest.replaceAll('.', '\\.')}`));
  const bad = await j.strata(['manifest', 'test', 'lab', '-s', 'lab', '--simulator', '--report-format', 'pdf']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid --report-format 'pdf'/);
});

test('plan --affected --html writes the report of real plans, a failed one included', {
  skip: noTerraform,
}, async () => {
  const html = join(j.out, 'plan.html');
  const run = await j.strata(['plan', '--affected', '--ref', base, '--html', html, '--format', 'json'], {
    timeoutMs: 240_000,
  });
  assert.equal(run.code, 1, `db's plan fails: ${run.stderr}`);
  const result = JSON.parse(run.stdout) as { instances: Array<{ component: string; result: string }> };
  assert.deepEqual(result.instances.map((i) => `${i.component}:${i.result}`).sort(), [
    'db:failed',
    'net:succeeded',
    'web:succeeded',
  ]);
  assert.ok(existsSync(html));
  reports.plan = html;
});

test('the HTML reports render in headless Chromium: summary, one bar and one box per node, the edges', {
  skip: skipWithoutChromium,
}, async (t) => {
  assert.ok(reports.manifest, 'the manifest report was written');
  const { context, close } = await launchChromium();
  try {
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    const artifacts = artifactsDir();
    const check = async (file: string, name: string, nodes: string[], edges: string[]) => {
      await page.goto(`file://${file}`);
      const bars = await page
        .locator('#timeline .row')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
      assert.deepEqual([...bars].sort(), [...nodes].sort(), `${name}: one timeline bar per node`);
      assert.equal(await page.locator('#timeline .bar').count(), nodes.length);
      const boxes = await page.locator('svg.graph g.node').evaluateAll((g) => g.map((n) => n.getAttribute('data-id')));
      assert.deepEqual([...boxes].sort(), [...nodes].sort(), `${name}: one graph box per node`);
      const drawn = await page
        .locator('svg.graph path.edge')
        .evaluateAll((p) => p.map((e) => `${e.getAttribute('data-from')}->${e.getAttribute('data-to')}`));
      assert.deepEqual(drawn.sort(), [...edges].sort(), `${name}: the edges`);
      // The boxes were laid out and drawn: each has a size on the page.
      const sizes = await page
        .locator('svg.graph g.node rect')
        .evaluateAll((r) => r.map((e) => (e as SVGGraphicsElement).getBoundingClientRect().width));
      assert.ok(
        sizes.every((w) => w > 50),
        `${name}: boxes drawn`,
      );
      const shot = join(artifacts, `${name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${shot}`);
      return (label: string) => page.locator(`#summary [data-label="${label}"] dd`).textContent();
    };
    const manifest = await check(
      reports.manifest,
      'manifest-test-report',
      ['host', 'web', 'db', 'tools'],
      ['host->web', 'host->db'],
    );
    assert.equal(await page.locator('#verdict').textContent(), 'PASSED');
    assert.equal(await manifest('Nodes'), '4');
    assert.equal(await manifest('Failed nodes'), '0');
    if (reports.plan) {
      const plan = await check(
        reports.plan,
        'plan-affected-report',
        ['net@lab', 'web@lab', 'db@lab'],
        ['net@lab->web@lab', 'net@lab->db@lab'],
      );
      assert.equal(await plan('Instances'), '3');
      assert.equal(await plan('Failed plans'), '1');
      assert.equal(await plan('To add'), '2', 'net and web: one terraform_data each, never applied');
      assert.equal(await page.locator('svg.graph g.node.status-failed').getAttribute('data-id'), 'db@lab');
      assert.match((await page.locator('section.detail pre').textContent()) ?? '', /plan failed for db@lab/);
    }
    assert.deepEqual(requests, [], 'nothing fetched from the network');
  } finally {
    await close();
  }
});
