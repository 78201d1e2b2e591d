import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { repoRoot, TS_CHILD_ARGS } from '../helpers/shared.ts';
import { type Daemon, get, git, insecure, startDaemon as startIn, tempDir, write } from './helpers.ts';

const siteToken = `site-${randomBytes(16).toString('hex')}`;
let root: string;
let env: NodeJS.ProcessEnv;

/** A stacks project: `prod` makes every node node_token, `dev` holds a network node and a site_token node. */
function project(dir: string): void {
  write(dir, {
    'atmos.yaml':
      'base_path: .\ncomponents:\n  terraform:\n    base_path: components/terraform\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\n',
    'components/terraform/vm/main.tf': '# vm\n',
    'stacks/prod.yaml': `vars:
  stage: prod
settings:
  controller:
    auth: node_token
components:
  terraform:
    edge-vm:
      metadata: {component: vm}
      vars: {hostname: edge, packages: [htop, curl]}
      settings:
        controller:
          identity: edge
          spec:
            platform:
              packages: [htop]
    base-vm:
      metadata: {component: vm, type: abstract}
      settings:
        controller: {identity: never-served}
`,
    'stacks/dev.yaml': `vars:
  stage: dev
components:
  terraform:
    dev-vm:
      metadata: {component: vm}
      settings:
        controller: {identity: dev1, auth: network, spec: {config: {timezone: UTC}}}
    stage-vm:
      metadata: {component: vm}
      settings:
        controller: {identity: stage1, auth: site_token}
`,
  });
}

function load(options: Record<string, unknown>): Promise<{
  requests: number;
  rps: number;
  seconds: number;
  statuses: Record<string, number>;
  errors: string[];
}> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...TS_CHILD_ARGS, join(repoRoot, 'test', 'controller', 'load-client.ts'), JSON.stringify(options)],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load client exited ${code}`)),
    );
  });
}

before(() => {
  root = tempDir('daemon');
  project(root);
  writeFileSync(join(root, 'big.bin'), randomBytes(16 * 1024 * 1024));
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', 'project');
  env = {
    ...process.env,
    NO_COLOR: '1',
    HOME: root,
    STRATA_CONTROLLER_KEY_FILE: join(root, '.keys', 'controller.key'),
    STRATA_SITE_TOKEN: siteToken,
  };
});

const startDaemon = (args: string[]): Promise<Daemon> => startIn(root, env, args);

after(async () => {
  await insecure.close();
  rmSync(root, { recursive: true, force: true });
});

test('token issue checks the identity against the stacks and verify reads it back', () => {
  const unknown = runCli(['serve', 'token', 'issue', 'egde'], { cwd: root, env });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no node 'egde' in the stacks/);
  assert.match(unknown.stderr, /Did you mean 'edge'\?/);
  const issued = runCli(['serve', 'token', 'issue', 'edge', '--ttl', '1h'], { cwd: root, env });
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stderr, /created the signing key/);
  const token = issued.stdout.trim();
  const verified = runCli(['serve', 'token', 'verify', token, '--format', 'json'], { cwd: root, env });
  assert.equal(verified.code, 0, verified.stderr);
  assert.equal(JSON.parse(verified.stdout).identity, 'edge');
  const bad = runCli(['serve', 'token', 'verify', `${token}x`], { cwd: root, env });
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /valid: false/);
});

test('strata serve: stacks postures, reload under load with SIGHUP, no token in the log, SIGTERM drains', async (t) => {
  const issued = runCli(['serve', 'token', 'issue', 'edge', '--format', 'json'], { cwd: root, env });
  assert.equal(issued.code, 0, issued.stderr);
  const token = JSON.parse(issued.stdout).token as string;
  const daemon = await startDaemon(['--rate-limit', '0']);
  try {
    const edge = await get(`${daemon.url}/spec/edge`, token);
    assert.equal(edge.status, 200);
    assert.deepEqual(JSON.parse(edge.body), { platform: { packages: ['htop'] }, identity: { hostname: 'edge' } });
    assert.equal((await get(`${daemon.url}/spec/edge`)).status, 401);
    assert.equal((await get(`${daemon.url}/spec/dev1`)).status, 200);
    assert.equal((await get(`${daemon.url}/spec/stage1`, siteToken)).status, 200);
    assert.equal(
      (await get(`${daemon.url}/spec/never-served`, siteToken)).status,
      404,
      'abstract components are not nodes',
    );
    assert.deepEqual(JSON.parse((await get(`${daemon.url}/specs`)).body), { specs: ['dev1'] });
    assert.equal((await get(`${daemon.url}/spec/late1`)).status, 401);

    // Reload under load: a second process hammers /spec/edge while SIGHUPs swap the stacks underneath.
    const plan = { url: daemon.url, path: '/spec/edge', token, concurrency: 16, fingerprint: daemon.fingerprint };
    const baseline = await load({ ...plan, durationMs: 1500 });
    t.diagnostic(`baseline without reloads: ${baseline.rps} req/s, errors ${baseline.errors.length}`);
    assert.deepEqual(baseline.errors, []);
    const running = load({ ...plan, durationMs: 4000 });
    let reloads = 0;
    const hup = setInterval(() => {
      reloads++;
      if (reloads === 4) {
        write(root, {
          'stacks/late.yaml':
            'vars: {stage: late}\ncomponents:\n  terraform:\n    late-vm:\n      metadata: {component: vm}\n      settings:\n        controller: {identity: late1, auth: network}\n',
        });
      }
      daemon.child.kill('SIGHUP');
    }, 300);
    const result = await running;
    clearInterval(hup);
    await new Promise((r) => setTimeout(r, 500));
    t.diagnostic(
      `load during ${reloads} reloads: ${result.requests} requests in ${result.seconds.toFixed(2)} s = ${result.rps} req/s, statuses ${JSON.stringify(result.statuses)}, errors ${result.errors.length}`,
    );
    assert.deepEqual(result.errors, []);
    assert.deepEqual(Object.keys(result.statuses), ['200']);
    assert.ok(result.requests > 100, `only ${result.requests} requests`);
    const reloadLines = daemon
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"event":"reload"'))
      .map((l) => JSON.parse(l));
    // Signals arriving during a reload coalesce into the next one.
    assert.ok(
      reloadLines.length >= 3 && reloadLines.length <= reloads,
      `${reloadLines.length} reloads for ${reloads} signals`,
    );
    t.diagnostic(
      `${reloadLines.length} reloads completed, mean ${Math.round(reloadLines.reduce((n, r) => n + r.ms, 0) / reloadLines.length)} ms each`,
    );
    assert.ok(
      reloadLines.every((r) => r.ok === true),
      JSON.stringify(reloadLines.find((r) => !r.ok)),
    );
    assert.equal((await get(`${daemon.url}/spec/late1`)).status, 200, 'the reload picked up the new stack');

    // SIGTERM with a download in flight: it completes, new connections are refused, the daemon exits 0.
    // (In flight means answered: a connection that has not sent its request yet is cut by the drain.)
    let answered: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const download = new Promise<number>((resolve, reject) => {
      httpsGet(
        `${daemon.url}/repo/big.bin`,
        { rejectUnauthorized: false, agent: false, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          answered();
          res.pause();
          let bytes = 0;
          setTimeout(() => {
            res.on('data', (c: Buffer) => {
              bytes += c.length;
            });
            res.on('end', () => resolve(bytes));
            res.resume();
          }, 600);
        },
      ).on('error', reject);
    });
    await inFlight;
    daemon.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(get(`${daemon.url}/health`), /ECONNREFUSED/);
    assert.equal(await download, 16 * 1024 * 1024);
    assert.equal(await daemon.exited, 0);
    const log = daemon.stderr();
    assert.match(log, /"event":"stop","drained":true/);
    for (const secret of [token, token.split('.')[1], siteToken])
      assert.ok(!log.includes(secret), 'a token reached the log');
  } finally {
    daemon.child.kill('SIGKILL');
  }
});

test('strata serve refuses a certificate without its key (usage error)', () => {
  const both = runCli(['serve', '--cert', 'x.pem'], { cwd: root, env });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--cert and --key go together/);
});
