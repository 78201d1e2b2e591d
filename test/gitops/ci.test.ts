import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { COMMENT_MARKER, ciInit, ciTemplates } from '../../src/gitops/ci.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';

const temp: string[] = [];
after(() => {
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

const permission = { enum: ['read', 'write', 'none'] };
const step = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    if: { type: 'string' },
    uses: { type: 'string', pattern: '^[\\w.-]+/[\\w.-]+@v\\d+$' },
    run: { type: 'string' },
    with: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    env: { type: 'object', additionalProperties: { type: 'string' } },
  },
  additionalProperties: false,
  oneOf: [{ required: ['uses'] }, { required: ['run'] }],
};
/** The subset of the GitHub/Gitea Actions workflow syntax the templates use, with its rules. */
const actionsSchema = {
  type: 'object',
  required: ['name', 'on', 'permissions', 'jobs'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    on: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pull_request: { type: 'object', properties: { branches: { type: 'array', items: { type: 'string' } } } },
        push: { type: 'object', properties: { branches: { type: 'array', items: { type: 'string' } } } },
      },
    },
    permissions: { type: 'object', maxProperties: 0 },
    concurrency: {
      type: 'object',
      required: ['group'],
      properties: { group: { type: 'string' }, 'cancel-in-progress': { type: 'boolean' } },
    },
    jobs: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['runs-on', 'permissions', 'steps'],
        additionalProperties: false,
        properties: {
          if: { type: 'string' },
          'runs-on': { type: 'string' },
          environment: { type: 'string' },
          permissions: {
            type: 'object',
            propertyNames: { enum: ['contents', 'pull-requests', 'issues', 'id-token', 'checks'] },
            additionalProperties: permission,
          },
          steps: { type: 'array', minItems: 1, items: step },
        },
      },
    },
  },
};
const gitlabSchema = {
  type: 'object',
  required: ['stages', 'strata-plan', 'strata-apply'],
  properties: {
    stages: { const: ['plan', 'apply'] },
    variables: { type: 'object', additionalProperties: { type: 'string' } },
    workflow: { type: 'object', required: ['rules'] },
  },
  patternProperties: {
    '^strata-': {
      type: 'object',
      required: ['stage', 'image', 'rules', 'script'],
      properties: {
        stage: { enum: ['plan', 'apply'] },
        image: { type: 'string' },
        rules: {
          type: 'array',
          items: {
            type: 'object',
            required: ['if'],
            properties: { if: { type: 'string' } },
            additionalProperties: false,
          },
        },
        before_script: { type: 'array', items: { type: 'string' } },
        script: { type: 'array', minItems: 1, items: { type: 'string' } },
        after_script: { type: 'array', items: { type: 'string' } },
        artifacts: { type: 'object' },
        resource_group: { type: 'string' },
        environment: { type: 'object', required: ['name'] },
      },
      additionalProperties: false,
    },
  },
};

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

const ajv = new Ajv2020.default({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const hasYamllint = (() => {
  try {
    execFileSync('yamllint', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('ci init github/gitea: valid workflows with least permissions and no expression in shell scripts', () => {
  const validate = ajv.compile(actionsSchema);
  for (const forge of ['github', 'gitea']) {
    const [file] = ciTemplates(forge);
    assert.equal(file.path, `.${forge}/workflows/strata.yml`);
    const doc = parse(file.content, { strict: true, uniqueKeys: true });
    assert.ok(validate(structuredClone(doc)), `${forge}: ${ajv.errorsText(validate.errors)}`);
    assert.ok(!file.content.includes('&a'), 'no YAML anchors (Actions runners differ in support)');
    const { plan, apply } = doc.jobs;
    assert.deepEqual(plan.permissions, { contents: 'read', 'pull-requests': 'write' });
    assert.deepEqual(apply.permissions, { contents: 'read' });
    assert.match(plan.if, /pull_request/);
    assert.match(apply.if, /push/);
    assert.deepEqual(doc.on.push.branches, ['main']);
    const runs: string[] = Object.values(doc.jobs).flatMap((j) =>
      (j as { steps: Array<{ run?: string }> }).steps.map((s) => s.run ?? ''),
    );
    // Values reach scripts through env only: an expression inside `run:` is a script-injection risk.
    for (const run of runs) assert.ok(!run.includes('${{'), run);
    assert.ok(runs.some((r) => r.includes('strata plan --affected')));
    assert.ok(runs.some((r) => r.includes(`strata ci comment ${forge}`)));
    assert.ok(runs.some((r) => r.includes('strata apply --affected --ref "$BEFORE"')));
    assert.equal(plan.steps[0].with['fetch-depth'], 0, 'full history for the merge-base');
  }
});

test('ci init gitlab: valid pipeline: plan on merge requests, apply on the default branch', () => {
  const [file] = ciTemplates('gitlab');
  assert.equal(file.path, '.gitlab-ci.yml');
  const doc = parse(file.content, { strict: true, uniqueKeys: true });
  const validate = ajv.compile(gitlabSchema);
  assert.ok(validate(structuredClone(doc)), ajv.errorsText(validate.errors));
  assert.match(doc['strata-plan'].rules[0].if, /merge_request_event/);
  assert.match(doc['strata-apply'].rules[0].if, /\$CI_COMMIT_BRANCH == \$CI_DEFAULT_BRANCH/);
  assert.match(doc['strata-apply'].script[0], /--ref "\$CI_COMMIT_BEFORE_SHA"/);
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
