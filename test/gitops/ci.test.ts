import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parse } from 'yaml';
import { COMMENT_MARKER, ciInit, ciTemplates } from '../../src/gitops/ci.ts';
import { CI_SECRETS } from '../../src/gitops/ci-templates.ts';
import { VERSION } from '../../src/util/version.ts';
import { runCli } from '../helpers/cli.ts';
import { node24Bin } from '../helpers/node24.ts';
import { repoRoot } from '../helpers/shared.ts';

const temp: string[] = [];
after(() => {
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

/** The CLI run asynchronously: the HTTP server below lives in this process and must keep answering. */
function runCliAsync(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'strata.js'), ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const hasYamllint = (() => {
  try {
    execFileSync('yamllint', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** GitHub's own workflow parser and schema (@actions/workflow-parser, what GitHub's language service uses). */
async function actionsErrors(content: string): Promise<string[]> {
  const result = parseWorkflow({ name: 'strata.yml', content }, new NoOperationTraceWriter());
  if (result.value) await convertWorkflowTemplate(result.context, result.value);
  return result.context.errors.getErrors().map((e) => e.message);
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field below
type Doc = Record<string, any>;
/** `${{ expression }}` as the workflow holds it. */
const gh = (expression: string) => `$${'{{'} ${expression} }}`;
const runsOf = (job: Doc): string[] => (job.steps as Array<{ run?: string }>).map((step) => step.run ?? '');

test('ci init github/gitea: valid against the published workflow schema; least permissions; no expression in scripts', async () => {
  for (const forge of ['github', 'gitea']) {
    const [file] = ciTemplates(forge, { workingDirectory: 'infra', maxParallel: 3 });
    assert.equal(file.path, `.${forge}/workflows/strata.yml`);
    assert.deepEqual(await actionsErrors(file.content), [], forge);
    const doc = parse(file.content, { strict: true, uniqueKeys: true }) as Doc;
    assert.ok(!file.content.includes('&a'), 'no YAML anchors (Actions runners differ in support)');
    assert.deepEqual(doc.permissions, {});
    const { affected, plan, summary, apply } = doc.jobs;
    assert.deepEqual(affected.permissions, { contents: 'read' });
    assert.deepEqual(plan.permissions, { contents: 'read' });
    assert.deepEqual(summary.permissions, { contents: 'read', 'pull-requests': 'write' });
    assert.deepEqual(apply.permissions, { contents: 'read', actions: 'read', 'pull-requests': 'read' });
    for (const job of Object.values(doc.jobs) as Doc[]) {
      // Values reach scripts through env only: an expression inside `run:` is a script-injection risk.
      for (const run of runsOf(job)) assert.ok(!run.includes('${{'), run);
    }
    // Pinned install from npm (no package.json in the user's repository), from the folder holding atmos.yaml.
    assert.equal(doc.env.STRATA_PACKAGE, `strata-iac@${VERSION}`);
    assert.equal(doc.defaults.run['working-directory'], 'infra');
    assert.ok(runsOf(plan).some((r) => r.includes('npm install --global') && r.includes('"$STRATA_PACKAGE"')));
    assert.ok(!file.content.includes('npm ci') && !file.content.includes('npx'));
    // The matrix: fed by describe affected --format matrix, bounded by max-parallel.
    assert.ok(runsOf(affected).some((r) => r.includes('strata describe affected') && r.includes('--format matrix')));
    assert.equal(plan.strategy.matrix, gh('fromJSON(needs.affected.outputs.matrix)'));
    assert.equal(plan.strategy['max-parallel'], 3);
    assert.ok(runsOf(plan).some((r) => r.includes('strata plan --affected') && r.includes('--instance "$INSTANCE"')));
    // Secrets by name, in the jobs that run Terraform.
    for (const { name } of CI_SECRETS) {
      assert.equal(plan.env[name], gh(`secrets.${name}`));
      assert.equal(apply.env[name], gh(`secrets.${name}`));
    }
    // One summary: gathered, posted, kept as the artifact keyed by the head commit.
    assert.ok(runsOf(summary).some((r) => r.includes('strata ci summary')));
    assert.ok(runsOf(summary).some((r) => r.includes(`strata ci comment ${forge}`)));
    const kept = summary.steps.find((step: Doc) => String(step.uses).startsWith('actions/upload-artifact'));
    assert.equal(kept.with.name, `strata-plans-${gh('github.event.pull_request.head.sha')}`);
    assert.equal(kept.with.path, 'infra/.strata/plans');
    // Apply on merge: exactly the reviewed plans.
    assert.match(apply.if, /push/);
    assert.ok(
      runsOf(apply).some((r) => r.includes(`strata ci fetch-plans ${forge}`) && r.includes('--commit "$COMMIT"')),
    );
    assert.ok(runsOf(apply).some((r) => r.includes('strata apply --affected --ref "$BEFORE" --require-plan')));
    assert.deepEqual(doc.on.push.branches, ['main']);
  }
  // The schema check bites: a misspelt key is an error.
  const [github] = ciTemplates('github');
  assert.notDeepEqual(await actionsErrors(github.content.replace('runs-on:', 'run-on:')), []);
});

/** GitLab's published CI schema, as gitlab-ci-local validates against it (it needs Node 22+: run on Node 24). */
async function gitlabErrors(content: string): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-gitlab-'));
  temp.push(dir);
  writeFileSync(join(dir, '.gitlab-ci.yml'), content);
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  const node = join(await node24Bin(), 'node');
  const cli = join(repoRoot, 'node_modules', 'gitlab-ci-local', 'dist', 'index.js');
  const result = spawnSync(node, [cli, '--list'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { ok: result.status === 0, output: result.stdout + result.stderr };
}

test("ci init gitlab: valid against GitLab's CI schema; shards, gathered summary, reviewed plans applied on merge", async () => {
  const [file] = ciTemplates('gitlab', { workingDirectory: 'infra', maxParallel: 3 });
  assert.equal(file.path, '.gitlab-ci.yml');
  const validated = await gitlabErrors(file.content);
  assert.ok(validated.ok, validated.output);
  assert.match(validated.output, /json schema validated/);
  const broken = await gitlabErrors(file.content.replace('resource_group:', 'resource_groupe:'));
  assert.ok(!broken.ok && /'resource_groupe' property is not expected/.test(broken.output), broken.output);
  const doc = parse(file.content, { strict: true, uniqueKeys: true }) as Doc;
  assert.equal(doc.variables.STRATA_PACKAGE, `strata-iac@${VERSION}`);
  assert.equal(doc.variables.STRATA_DIR, 'infra');
  assert.ok(doc['.strata'].before_script.includes('cd "$STRATA_DIR"'));
  assert.equal(doc['strata-plan'].parallel, 3);
  assert.match(doc['strata-plan'].script[1], /--shard "\$CI_NODE_INDEX\/\$CI_NODE_TOTAL"/);
  assert.match(doc['strata-plan'].rules[0].if, /merge_request_event/);
  assert.deepEqual(doc['strata-summary'].needs, ['strata-plan']);
  assert.match(doc['strata-apply'].rules[0].if, /\$CI_COMMIT_BRANCH == \$CI_DEFAULT_BRANCH/);
  assert.match(doc['strata-apply'].script[0], /strata ci fetch-plans gitlab/);
  assert.match(doc['strata-apply'].script[1], /--ref "\$CI_COMMIT_BEFORE_SHA" --require-plan/);
  const one = parse(ciTemplates('gitlab', { maxParallel: 1 })[0].content) as Doc;
  assert.equal(one['strata-plan'].parallel, undefined);
  assert.match(one['strata-plan'].script[1], /--shard 1\/1/);
});

test('docs/gitops.md lists exactly the secrets the pipelines read', () => {
  const docs = readFileSync(join(repoRoot, 'docs', 'gitops.md'), 'utf8');
  const section = docs.slice(docs.indexOf('### CI secrets'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('|')));
  const names = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(names, [...CI_SECRETS.map((s) => s.name), 'STRATA_GITLAB_TOKEN']);
});

test('ci init writes files, refuses to overwrite without --force; yamllint accepts them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-ci-'));
  temp.push(dir);
  const r = runCli(['ci', 'init', 'github'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote \.github\/workflows\/strata\.yml/);
  ciInit({ forge: 'gitea', dir });
  ciInit({ forge: 'gitlab', dir });
  assert.throws(() => ciInit({ forge: 'github', dir }), /already exists/);
  ciInit({ forge: 'github', dir, force: true });
  const bad = runCli(['ci', 'init', 'jenkins'], { cwd: dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /github, gitea, gitlab/);
  if (hasYamllint) {
    const files = ['.github/workflows/strata.yml', '.gitea/workflows/strata.yml', '.gitlab-ci.yml'];
    assert.ok(files.every((f) => existsSync(join(dir, f))));
    execFileSync('yamllint', ['-d', '{extends: relaxed, rules: {line-length: disable}}', ...files], { cwd: dir });
  }
});

test('ci comment creates the summary comment once, then updates it (real HTTP, GitHub and GitLab routes)', async () => {
  const comments: Array<{ id: number; body: string }> = [];
  const seen: string[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((r) => {
      let b = '';
      req.on('data', (d) => {
        b += d;
      });
      req.on('end', () => r(b));
    });
  const server = createServer(async (req, res) => {
    const body = await read(req);
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? req.headers['private-token']}`);
    res.setHeader('content-type', 'application/json');
    const url = req.url ?? '';
    if (req.method === 'GET') return res.end(JSON.stringify([{ id: 1, body: 'LGTM' }, ...comments]));
    if (req.method === 'POST') {
      comments.push({ id: 100 + comments.length, body: JSON.parse(body).body });
      return res.end(JSON.stringify(comments.at(-1)));
    }
    const id = Number(url.split('/').pop());
    const target = comments.find((c) => c.id === id);
    if (!target) return res.writeHead(404).end('{}');
    target.body = JSON.parse(body).body;
    res.end(JSON.stringify(target));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'strata-ci-'));
    temp.push(dir);
    writeFileSync(join(dir, 'summary.md'), '## plan 1\n');
    const env = { STRATA_FORGE_TOKEN: 'tok', STRATA_FORGE_API: `http://127.0.0.1:${port}` };
    const args = ['ci', 'comment', 'github', '--repo', 'acme/infra', '--pr', '7', '--file', 'summary.md'];
    const first = await runCliAsync(args, dir, env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /created comment 100/);
    writeFileSync(join(dir, 'summary.md'), '## plan 2\n');
    const second = await runCliAsync(args, dir, env);
    assert.match(second.stdout, /updated comment 100/);
    assert.equal(comments.length, 1);
    assert.equal(comments[0].body, `${COMMENT_MARKER}\n## plan 2\n`);
    assert.deepEqual(seen.slice(0, 4), [
      'GET /repos/acme/infra/issues/7/comments?per_page=100 token tok',
      'POST /repos/acme/infra/issues/7/comments token tok',
      'GET /repos/acme/infra/issues/7/comments?per_page=100 token tok',
      'PATCH /repos/acme/infra/issues/comments/100 token tok',
    ]);
    const gitlab = await runCliAsync(
      ['ci', 'comment', 'gitlab', '--repo', 'acme/infra', '--pr', '3', '--file', 'summary.md'],
      dir,
      env,
    );
    const down = await runCliAsync(args, dir, { ...env, STRATA_FORGE_API: 'http://127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:1/);
    assert.match(gitlab.stdout, /updated comment 100/);
    assert.equal(seen.at(-1), 'PUT /projects/acme%2Finfra/merge_requests/3/notes/100 tok');
    assert.equal(readFileSync(join(dir, 'summary.md'), 'utf8'), '## plan 2\n');
  } finally {
    server.close();
  }
});
