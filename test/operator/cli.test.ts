// The CLI as a user runs it, against the PVE simulator over HTTPS; the simulator's state is the judge.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { type RunningSimulator, startSimulator } from '../../src/proxmox/simulator/index.ts';
import { type CliResult, runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';
import { NESTED, PRESETS } from './helpers.ts';

/** A project folder with one stack ("lab") pointing at the simulator, and the nested manifest. */
function project(sim: RunningSimulator | undefined, extraManifests: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-operator-cli-'));
  mkdirSync(join(dir, 'stacks', 'deploy'), { recursive: true });
  mkdirSync(join(dir, 'stacks', 'manifests'), { recursive: true });
  mkdirSync(join(dir, 'components', 'terraform', 'noop'), { recursive: true });
  writeFileSync(
    join(dir, 'atmos.yaml'),
    stringify({
      base_path: '.',
      components: { terraform: { base_path: 'components/terraform' } },
      stacks: { base_path: 'stacks', included_paths: ['deploy/**/*'], name_pattern: '{stage}' },
    }),
  );
  const proxmox = sim
    ? { endpoint: sim.url, node: 'pve', fingerprint: sim.fingerprint, poll_ms: 20, nested: { locator: 'simulator' } }
    : { endpoint: 'https://127.0.0.1:1', node: 'pve' };
  writeFileSync(
    join(dir, 'stacks', 'deploy', 'lab.yaml'),
    stringify({
      vars: { stage: 'lab', presets: PRESETS, images: { 'debian-12': 'debian-12-cloud' }, proxmox },
      components: { terraform: { noop: { vars: {} } } },
    }),
  );
  writeFileSync(join(dir, 'stacks', 'manifests', 'lab.yaml'), NESTED);
  for (const [name, text] of Object.entries(extraManifests))
    writeFileSync(join(dir, 'stacks', 'manifests', `${name}.yaml`), text);
  return dir;
}

function tokenEnv(sim: RunningSimulator): NodeJS.ProcessEnv {
  return { STRATA_PVE_TOKEN: `${sim.tokenId}=${sim.tokenSecret}` };
}

/**
 * runCli without blocking: the simulator lives in this process, so a synchronous spawn would stop it from
 * answering the very CLI it waits for.
 */
function runCliAsync(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'strata.js'), ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

type Vm = { vmid: number; name: string; template: boolean };

/** Every non-template VM on the outer host and on every nested host: name -> count. */
function allVms(sim: RunningSimulator): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (vms: Vm[]) => {
    for (const vm of vms) if (!vm.template) counts.set(vm.name, (counts.get(vm.name) ?? 0) + 1);
  };
  add((sim.state as { vms: Vm[] }).vms);
  for (const vm of (sim.state as { vms: Vm[] }).vms) {
    const inner = sim.simulator.nested(vm.vmid);
    if (inner) add(inner.state.vms);
  }
  return counts;
}

test('validate and plan need no stack; plan --format json prints the orders and levels', () => {
  const dir = project(undefined);
  try {
    const valid = runCli(['manifest', 'validate', 'lab'], { cwd: dir });
    assert.equal(valid.code, 0, valid.stderr);
    assert.equal(valid.stdout, "Manifest 'lab' is valid (4 nodes)\n");
    const plan = runCli(['manifest', 'plan', 'lab', '--format', 'json'], { cwd: dir });
    assert.equal(plan.code, 0, plan.stderr);
    assert.deepEqual(JSON.parse(plan.stdout), {
      create_order: ['host', 'util', 'web', 'db'],
      destroy_order: ['db', 'web', 'util', 'host'],
      levels: [
        ['host', 'util'],
        ['web', 'db'],
      ],
    });
    writeFileSync(
      join(dir, 'bad.yaml'),
      'schema_version: 2\nname: bad\nnodes:\n  - {name: a, type: vm, parent: hots}\n',
    );
    const bad = runCli(['manifest', 'validate', '--manifest-file', 'bad.yaml'], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Error: Node 'a' references unknown parent 'hots'\n {2}at .*bad\.yaml:4:33/);
    assert.doesNotMatch(bad.stderr, /\n\s+at .*\.ts:\d+/, 'no stack trace');
    const missing = runCli(['manifest', 'plan', 'lba'], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Manifest 'lba' not found .* Available: lab/);
    assert.match(missing.stderr, /Did you mean 'lab'\?/);
    const noStack = runCli(['manifest', 'create', 'lab'], { cwd: dir });
    assert.equal(noStack.code, 2);
    assert.match(noStack.stderr, /needs a stack: -s <stack>/);
    const dry = runCli(['manifest', 'create', 'lab', '-s', 'lab', '--dry-run'], { cwd: dir });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /DRY-RUN CREATE: lab \(stack lab\)/);
    assert.match(dry.stdout, /\[1\] web: vm on nested PVE 'host' via proxmox-api: clone 'debian-12-cloud'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('manifest test --json-output: seed schema on stdout, reports written, nothing left behind', async () => {
  const sim = await startSimulator({ latencyScale: 0 });
  const dir = project(sim);
  try {
    const result = await runCliAsync(['manifest', 'test', 'lab', '-s', 'lab', '--json-output'], {
      cwd: dir,
      env: tokenEnv(sim),
    });
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.equal(json.scenario, 'manifest-test-lab');
    assert.equal(json.success, true);
    assert.equal(typeof json.duration_seconds, 'number');
    assert.deepEqual(
      json.phases.map((p: { name: string }) => p.name),
      ['create', 'verify', 'destroy'],
    );
    assert.match(json.context.host_ip, /^10\.77\./);
    const reports = readdirSync(join(dir, 'reports')).sort();
    assert.equal(reports.length, 2);
    assert.match(reports[0], /^\d{8}-\d{6}\.passed\.json$/);
    assert.match(reports[1], /^\d{8}-\d{6}\.passed\.md$/);
    assert.match(readFileSync(join(dir, 'reports', reports[1]), 'utf8'), /\*\*Status\*\*: PASSED/);
    assert.equal(allVms(sim).size, 0);
    assert.doesNotMatch(
      result.stdout + result.stderr,
      new RegExp(sim.tokenSecret),
      'the token secret is never printed',
    );
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('preflight: every check passes on the simulator; a bad token fails with a fix', async () => {
  const sim = await startSimulator({ latencyScale: 0 });
  const dir = project(sim);
  try {
    const ok = await runCliAsync(['preflight', '-s', 'lab', '--manifest', 'lab'], { cwd: dir, env: tokenEnv(sim) });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /✓ privileges: 14 required privileges granted/);
    assert.match(ok.stdout, /✓ image debian-12: template 'debian-12-cloud'/);
    assert.match(ok.stdout, /✓ nested-virtualization: CPU exposes vmx/);
    const bad = await runCliAsync(['preflight', '-s', 'lab', '--format', 'json'], {
      cwd: dir,
      env: { STRATA_PVE_TOKEN: `${sim.tokenId}=wrong-secret` },
    });
    assert.equal(bad.code, 1);
    const token = JSON.parse(bad.stdout).checks.find((c: { name: string }) => c.name === 'token');
    assert.equal(token.status, 'fail');
    assert.match(token.hint, /pveum user token add/);
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs `strata manifest create` and kills it with SIGKILL as soon as stderr shows `trigger`. */
function createAndKill(dir: string, env: NodeJS.ProcessEnv, trigger: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'strata.js'), 'manifest', 'create', 'lab', '-s', 'lab'],
      {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (!killed && trigger.test(err)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the run ended before ${trigger} (${signal ?? _code}):\n${err}`));
      else resolve(err);
    });
  });
}

test('kill -9 mid-run, then the same command again: nothing duplicated, nothing orphaned', async () => {
  // Tasks long enough for the kills to land inside them (clone 150 ms, start 75 ms); the kill points are no boots, so
  // the guest agent answers 100 ms after a start rather than 400 (each run boots the host, then its children).
  const sim = await startSimulator({ latencyScale: 0.05, bootDelayMs: 2000 });
  const dir = project(sim);
  try {
    const env = tokenEnv(sim);
    // Kill points: during a clone, during a start, while a nested host's children are being created.
    for (const trigger of [/host running \(clone\)/, /util running \(start\)/, /web running \((clone|configure)\)/]) {
      await createAndKill(dir, env, trigger);
      const state = JSON.parse(readFileSync(join(dir, '.strata', 'state', 'lab--lab.json'), 'utf8'));
      assert.ok(Object.values(state.nodes).some((n) => (n as { status: string }).status !== 'completed'));
      const again = await runCliAsync(['manifest', 'create', 'lab', '-s', 'lab'], { cwd: dir, env });
      assert.equal(again.code, 0, `${trigger}: ${again.stdout}${again.stderr}`);
      assert.deepEqual(
        [...allVms(sim).entries()].sort(),
        [
          ['lab-db', 1],
          ['lab-host', 1],
          ['lab-util', 1],
          ['lab-web', 1],
        ],
        `${trigger}: exactly one VM per node`,
      );
      assert.equal(existsSync(join(dir, '.strata', 'state', 'lab--lab.lock')), false);
      const destroyed = await runCliAsync(['manifest', 'destroy', 'lab', '-s', 'lab', '--yes'], { cwd: dir, env });
      assert.equal(destroyed.code, 0, destroyed.stderr);
      assert.equal(allVms(sim).size, 0, `${trigger}: nothing orphaned`);
    }
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
