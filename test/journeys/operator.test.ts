// Journey: the Proxmox operator through the installed CLI against `strata pve-sim`. A create with on_error:
// rollback whose failed VM cannot be destroyed still removes every other VM (checked in the simulator's state),
// reports the one left by its id, and prints one JSON document; so does a destroy with one failing VM.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { type Journey, journey, TERRAFORM_ATMOS_YAML, waitFor } from './helpers.ts';

interface Sim {
  url: string;
  tokenId: string;
  tokenSecret: string;
}

let j: Journey;
let simProcess: ChildProcess | undefined;
let sim: Sim;
let env: NodeJS.ProcessEnv;

before(async () => {
  j = await journey('operator');
  const started = j.start(['pve-sim', '--port', '0', '--latency-scale', '0', '--no-tls', '--format', 'json']);
  simProcess = started.child;
  let text = '';
  started.child.stdout?.on('data', (chunk) => {
    text += chunk;
  });
  const parsed = () => {
    try {
      sim = JSON.parse(text) as Sim;
      return true;
    } catch {
      return false;
    }
  };
  assert.ok(await waitFor(parsed, 60_000), 'the simulator printed its connection details');
  env = { STRATA_PVE_TOKEN: `${sim.tokenId}=${sim.tokenSecret}` };
  j.write({
    'atmos.yaml': TERRAFORM_ATMOS_YAML,
    'stacks/lab.yaml': `vars:
  stage: lab
  presets:
    small: { cores: 1, memory: 1024, disk: 10 }
  images:
    debian-12: debian-12-cloud
settings:
  proxmox:
    endpoint: ${sim.url}
    node: pve
    poll_ms: 10
components:
  terraform:
    placeholder:
      metadata:
        type: abstract
`,
    'stacks/manifests/three.yaml': `schema_version: 2
name: three
nodes:
  - { name: a, type: vm, preset: small, image: debian-12, vmid: 301 }
  - { name: b, type: vm, preset: small, image: debian-12, vmid: 302 }
  - { name: c, type: vm, preset: small, image: debian-12, vmid: 303 }
settings:
  on_error: rollback
  verify_ssh: false
`,
  });
});

after(async () => {
  if (simProcess && simProcess.exitCode === null) {
    simProcess.kill('SIGTERM');
    await new Promise((resolve) => simProcess?.once('close', resolve));
  }
  j?.cleanup();
});

async function control(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as { data: unknown }).data : undefined;
}

async function vmsLeft(): Promise<number[]> {
  const state = (await control('GET', '/_sim/state')) as { vms: Array<{ vmid: number; template?: boolean }> };
  return state.vms
    .filter((vm) => !vm.template)
    .map((vm) => vm.vmid)
    .sort();
}

interface Output {
  success: boolean;
  leftover?: Array<{ node: string; vm_ids: number[] }>;
}

test('rollback with a failing destroy removes every other VM and reports the one left', async () => {
  await control('POST', '/_sim/faults', { kind: 'task-failure', taskType: 'qmstart', vmid: 303 });
  await control('POST', '/_sim/faults', { kind: 'task-failure', taskType: 'qmdestroy', vmid: 303 });
  const run = await j.strata(['manifest', 'create', 'three', '-s', 'lab', '--max-concurrency', '1', '--json-output'], {
    env,
  });
  assert.equal(run.code, 1, run.stderr);
  const output = JSON.parse(run.stdout) as Output;
  assert.equal(output.success, false);
  assert.deepEqual(await vmsLeft(), [303], 'a and b were rolled back');
  assert.deepEqual(
    output.leftover?.map((l) => [l.node, l.vm_ids]),
    [['c', [303]]],
  );
  assert.match(run.stderr, /303/);
});

test('destroy keeps going past a failing VM and reports it', async () => {
  await control('DELETE', '/_sim/faults');
  await j.strata(['manifest', 'destroy', 'three', '-s', 'lab', '--yes'], { env });
  const created = await j.strata(['manifest', 'create', 'three', '-s', 'lab', '--json-output'], { env });
  assert.equal(created.code, 0, created.stderr);
  assert.deepEqual(await vmsLeft(), [301, 302, 303]);
  await control('POST', '/_sim/faults', { kind: 'task-failure', taskType: 'qmdestroy', vmid: 302 });
  const run = await j.strata(['manifest', 'destroy', 'three', '-s', 'lab', '--yes', '--json-output'], { env });
  assert.equal(run.code, 1, run.stderr);
  const output = JSON.parse(run.stdout) as Output;
  assert.deepEqual(await vmsLeft(), [302]);
  assert.deepEqual(
    output.leftover?.map((l) => [l.node, l.vm_ids]),
    [['b', [302]]],
  );
  assert.match(run.stderr, /302/);
});

test('--json-output prints one JSON document when the run cannot start either', async () => {
  const run = await j.strata(['manifest', 'create', 'missing', '-s', 'lab', '--json-output'], { env });
  assert.notEqual(run.code, 0);
  const output = JSON.parse(run.stdout) as Output & { error: string };
  assert.equal(output.success, false);
  assert.match(output.error, /missing/);
});
