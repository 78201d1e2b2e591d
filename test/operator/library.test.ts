// strata as a library: runManifest from the package entry, against a simulator started in this process, no CLI.
// The simulator's state (GET /_sim/state on the outer host and on each nested host) is the judge.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent, fetch } from 'undici';
import { stringify } from 'yaml';
import {
  type ManifestEvent,
  type ProxmoxConnection,
  type RunManifestRequest,
  runManifest,
  simulatorLocator,
} from '../../src/index.ts';
import { startSimulator } from '../../src/proxmox/simulator/index.ts';
import { NESTED, PRESETS } from './helpers.ts';

type RunningSimulator = Awaited<ReturnType<typeof startSimulator>>;
type SimState = { vms: Array<{ name: string; template: boolean; status: string }> };

/** A project with one stack ("lab": its Proxmox node, presets and images; no endpoint) and the nested manifest. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-library-'));
  mkdirSync(join(dir, 'stacks', 'deploy'), { recursive: true });
  mkdirSync(join(dir, 'stacks', 'manifests'), { recursive: true });
  writeFileSync(
    join(dir, 'atmos.yaml'),
    stringify({
      base_path: '.',
      stacks: { base_path: 'stacks', included_paths: ['deploy/**/*'], name_pattern: '{stage}' },
    }),
  );
  writeFileSync(
    join(dir, 'stacks', 'deploy', 'lab.yaml'),
    stringify({
      vars: { stage: 'lab', presets: PRESETS, images: { 'debian-12': 'debian-12-cloud' }, proxmox: { node: 'pve' } },
      components: { terraform: { noop: { vars: {} } } },
    }),
  );
  writeFileSync(join(dir, 'stacks', 'manifests', 'lab.yaml'), NESTED.replace('verify_ssh: false', 'verify_ssh: true'));
  return dir;
}

async function simState(url: string, ca: string | undefined): Promise<SimState> {
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const response = await fetch(`${url}/_sim/state`, { dispatcher });
    assert.equal(response.status, 200);
    return ((await response.json()) as { data: SimState }).data;
  } finally {
    await dispatcher.close();
  }
}

/** Running non-template VMs per host: the outer host, then each nested host that is up. */
async function runningVms(sim: RunningSimulator): Promise<{ outer: string[]; nested: string[] }> {
  const names = (state: SimState) =>
    state.vms
      .filter((vm) => !vm.template && vm.status === 'running')
      .map((vm) => vm.name)
      .sort();
  const outer = names(await simState(sim.url, sim.ca));
  const nested: string[] = [];
  for (const host of sim.nested()) nested.push(...names(await simState(host.url, host.ca)));
  return { outer, nested: nested.sort() };
}

test('runManifest drives create, test and destroy against an in-process simulator, without the CLI', async () => {
  const sim = await startSimulator({ latencyScale: 0 });
  const dir = project();
  const events: ManifestEvent[] = [];
  let closed = 0;
  const connection: ProxmoxConnection = {
    endpoint: { url: sim.url, tokenId: sim.tokenId, tokenSecret: sim.tokenSecret, ca: sim.ca },
    pollMs: 10,
    nestedLocator: simulatorLocator,
    portProbe: { unreachable: 'simulator: no TCP to guests' },
  };
  const request = (verb: RunManifestRequest['verb']): RunManifestRequest => ({
    verb,
    manifest: { name: 'lab' },
    stack: 'lab',
    project: { config: join(dir, 'atmos.yaml') },
    connection: async () => ({ ...connection, close: async () => void closed++ }),
    options: { scratchState: true, reportDir: join(dir, 'out') },
    onEvent: (event) => events.push(event),
  });
  try {
    const created = await runManifest(request('create'));
    assert.equal(created.exitCode, 0, created.run?.error);
    assert.deepEqual(await runningVms(sim), { outer: ['lab-host', 'lab-util'], nested: ['lab-db', 'lab-web'] });
    assert.deepEqual(events[0], {
      type: 'start',
      verb: 'create',
      manifest: 'lab',
      stack: 'lab',
      nodes: ['host', 'util', 'web', 'db'],
      dryRun: false,
    });
    assert.ok(events.some((e) => e.type === 'node' && e.progress.node === 'web' && e.progress.status === 'completed'));

    // Scratch state went away with the run: a destroy finds the VMs through the API (name and marker) alone.
    const destroyed = await runManifest(request('destroy'));
    assert.equal(destroyed.exitCode, 0, destroyed.run?.error);
    assert.deepEqual(await runningVms(sim), { outer: [], nested: [] });
    assert.deepEqual(sim.nested(), [], 'the nested host is gone with its VM');

    const tested = await runManifest(request('test'));
    assert.equal(tested.status, 'passed', tested.run?.error);
    assert.deepEqual(
      tested.run?.phases.map((p) => [p.name, p.status]),
      [
        ['create', 'passed'],
        ['verify', 'passed'],
        ['destroy', 'passed'],
      ],
    );
    assert.deepEqual(await runningVms(sim), { outer: [], nested: [] });
    assert.ok(tested.reports?.json && existsSync(tested.reports.json), 'JSON report written');
    assert.ok(tested.reports?.md && existsSync(tested.reports.md), 'markdown report written');
    assert.equal(existsSync(join(dir, '.strata')), false, 'scratch state stays out of the project');
    assert.equal(closed, 3, 'the connection is closed after every run');
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resume: false starts a new execution state and adopts the VMs already there, cloning nothing', async () => {
  const sim = await startSimulator({ latencyScale: 0 });
  const dir = project();
  const stateDir = join(dir, 'state');
  const connection: ProxmoxConnection = {
    endpoint: { url: sim.url, tokenId: sim.tokenId, tokenSecret: sim.tokenSecret, ca: sim.ca },
    pollMs: 10,
    nestedLocator: simulatorLocator,
  };
  const clones = async () =>
    (
      (await simState(sim.url, sim.ca)) as unknown as { requests: Array<{ method: string; path: string }> }
    ).requests.filter((r) => r.method === 'POST' && r.path.endsWith('/clone')).length;
  const create = (resume: boolean) =>
    runManifest({
      verb: 'create',
      manifest: { name: 'lab' },
      stack: 'lab',
      project: { config: join(dir, 'atmos.yaml') },
      connection,
      options: { stateDir, workDir: dir, resume },
    });
  const startedAt = () => JSON.parse(readFileSync(join(stateDir, 'lab--lab.json'), 'utf8')).started_at as number;
  try {
    assert.equal((await create(true)).exitCode, 0);
    const first = startedAt();
    const cloned = await clones();
    const again = await create(false);
    assert.equal(again.exitCode, 0, again.run?.error);
    assert.ok(startedAt() > first, 'a new execution state');
    assert.equal(await clones(), cloned, 'outer VMs adopted, not cloned again');
    assert.deepEqual(await runningVms(sim), { outer: ['lab-host', 'lab-util'], nested: ['lab-db', 'lab-web'] });
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runManifest plans a dry run as a DryRunPlan and validates without any endpoint', async () => {
  const dir = project();
  try {
    const base = { manifest: { name: 'lab' }, stack: 'lab', project: { config: join(dir, 'atmos.yaml') } };
    const plan = await runManifest({ ...base, verb: 'destroy', options: { dryRun: true } });
    assert.equal(plan.run?.plan?.title, 'DRY-RUN DESTROY: lab (stack lab)');
    assert.deepEqual(
      plan.run?.plan?.actions.map((a) => [a.subject, a.needs ?? []]),
      [
        ['db', []],
        ['web', []],
        ['util', []],
        ['host', ['web', 'db']],
      ],
    );
    const valid = await runManifest({ ...base, verb: 'validate' });
    assert.deepEqual([valid.status, valid.manifest.nodes], ['passed', 4]);
    const order = await runManifest({ ...base, verb: 'plan' });
    assert.deepEqual(order.order?.levels, [
      ['host', 'util'],
      ['web', 'db'],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
