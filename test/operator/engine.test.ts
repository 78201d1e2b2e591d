// Every test drives the operator against the PVE simulator over HTTPS; the simulator's state is the judge.
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { statePaths } from '../../src/operator/state.ts';
import { flat, type Lab, manifest, NESTED, startLab } from './helpers.ts';

type SimVm = { vmid: number; name: string; template: boolean; tags: string[]; status: string };

function innerVms(lab: Lab): string[] {
  const names: string[] = [];
  for (const endpoint of (lab.sim.state as { nested: Array<{ vmid: number }> }).nested) {
    const inner = lab.sim.simulator.nested(endpoint.vmid);
    for (const vm of inner?.state.vms ?? []) if (!vm.template) names.push(vm.name);
  }
  return names.sort();
}

function cloneRequests(lab: Lab): number {
  return (lab.sim.state as { requests: Array<{ method: string; path: string }> }).requests.filter(
    (r) => r.method === 'POST' && r.path.endsWith('/clone'),
  ).length;
}

test('nested manifest: parents first, children on the inner host, re-run keeps everything, destroy cleans up', async () => {
  const lab = await startLab();
  try {
    const m = manifest(NESTED);
    const created = await lab.run('create', m);
    assert.equal(created.success, true, created.error);
    assert.deepEqual(
      created.nodes.map((n) => [n.name, n.status]),
      [
        ['host', 'completed'],
        ['util', 'completed'],
        ['web', 'completed'],
        ['db', 'completed'],
      ],
    );
    assert.deepEqual([...lab.vms().keys()].sort(), ['lab-host', 'lab-util']);
    assert.deepEqual(innerVms(lab), ['lab-db', 'lab-web']);
    const hostDone = lab.events.find((e) => e.node === 'host' && e.status === 'completed')?.at ?? Infinity;
    const childStart = Math.min(...lab.events.filter((e) => e.node === 'web' || e.node === 'db').map((e) => e.at));
    assert.ok(hostDone <= childStart, 'children start only after their PVE host is completed');
    const vm = (lab.sim.state as { vms: SimVm[] }).vms.find((v) => v.name === 'lab-host');
    assert.deepEqual(vm?.tags.sort(), ['pve', 'strata', 'strata-lab']);
    assert.equal(created.context.host_ip, created.nodes[0].ip);

    const clones = cloneRequests(lab);
    const again = await lab.run('create', m);
    assert.equal(again.success, true, again.error);
    assert.equal(cloneRequests(lab), clones, 'nothing is cloned again');
    assert.deepEqual([...lab.vms().values()], [1, 1]);

    const destroyed = await lab.run('destroy', m);
    assert.equal(destroyed.success, true, destroyed.error);
    assert.deepEqual(
      destroyed.nodes.map((n) => n.status),
      ['destroyed', 'destroyed', 'destroyed', 'destroyed'],
    );
    assert.equal(lab.vms().size, 0);
    assert.deepEqual((lab.sim.state as { nested: unknown[] }).nested, []);
  } finally {
    await lab.close();
  }
});

test('siblings run in parallel: 4 VMs with max-concurrency 4 take far less than one at a time', async () => {
  const lab = await startLab({ latencyScale: 0.03 });
  try {
    const m = flat(4);
    const serial = await lab.run('create', m, { maxConcurrency: 1 });
    assert.equal(serial.success, true, serial.error);
    assert.equal((await lab.run('destroy', m)).success, true);
    lab.events.length = 0;
    const parallel = await lab.run('create', m, { maxConcurrency: 4 });
    assert.equal(parallel.success, true, parallel.error);
    assert.ok(
      parallel.duration_seconds < serial.duration_seconds * 0.6,
      `parallel ${parallel.duration_seconds}s vs serial ${serial.duration_seconds}s`,
    );
    const firstDone = Math.min(...lab.events.filter((e) => e.status === 'completed').map((e) => e.at));
    const started = new Set(lab.events.filter((e) => e.status === 'running' && e.at < firstDone).map((e) => e.node));
    assert.equal(started.size, 4, 'all four were running before the first finished');
    assert.equal(new Set([...lab.vms().keys()]).size, 4);
    await lab.run('destroy', m);
  } finally {
    await lab.close();
  }
});

const THREE = (onError: string) =>
  manifest(`schema_version: 2
name: three
settings: { verify_ssh: false, on_error: ${onError} }
nodes:
  - { name: a, type: vm, image: debian-12, vmid: 301 }
  - { name: b, type: vm, image: debian-12, vmid: 302 }
  - { name: c, type: vm, image: debian-12, vmid: 303 }
`);

test('on_error stop: the failed node stops the run, later nodes stay pending, created ones stay', async () => {
  const lab = await startLab();
  try {
    lab.sim.inject({ kind: 'task-failure', taskType: 'qmstart', vmid: 302 });
    const result = await lab.run('create', THREE('stop'), { maxConcurrency: 1 });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.nodes.map((n) => n.status),
      ['completed', 'failed', 'pending'],
    );
    assert.match(result.nodes[1].error ?? '', /qmstart 302 on pve failed: command failed/);
    assert.match(result.error ?? '', /^Failed node\(s\): b/);
    assert.deepEqual([...lab.vms().keys()].sort(), ['three-a', 'three-b']);
    // Re-running the same command finishes the job: b's half-created VM is cleaned and made again, a is kept.
    const resumed = await lab.run('create', THREE('stop'), { maxConcurrency: 1 });
    assert.equal(resumed.success, true, resumed.error);
    assert.deepEqual([...lab.vms().entries()].sort(), [
      ['three-a', 1],
      ['three-b', 1],
      ['three-c', 1],
    ]);
  } finally {
    await lab.close();
  }
});

test('on_error rollback: everything this run created is destroyed in reverse, including the half-created VM', async () => {
  const lab = await startLab();
  try {
    lab.sim.inject({ kind: 'task-failure', taskType: 'qmstart', vmid: 303 });
    const result = await lab.run('create', THREE('rollback'), { maxConcurrency: 1 });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.nodes.map((n) => n.status),
      ['destroyed', 'destroyed', 'destroyed'],
    );
    assert.equal(lab.vms().size, 0);
    const order = lab.events.filter((e) => e.phase === 'rolled_back').map((e) => e.node);
    assert.deepEqual(order, ['c', 'b', 'a']);
  } finally {
    await lab.close();
  }
});

test('on_error continue: a failed PVE host skips its children, independent nodes are still created', async () => {
  const lab = await startLab();
  try {
    lab.sim.inject({ kind: 'task-failure', taskType: 'qmclone', times: 1 });
    const m = manifest(NESTED.replace('on_error: stop', 'on_error: continue'));
    const result = await lab.run('create', m, { maxConcurrency: 1 });
    assert.equal(result.success, false);
    const status = Object.fromEntries(result.nodes.map((n) => [n.name, n.status]));
    assert.deepEqual(status, { host: 'failed', util: 'completed', web: 'skipped', db: 'skipped' });
    assert.match(result.nodes.find((n) => n.name === 'web')?.error ?? '', /'host' \(or an ancestor\) failed/);
    assert.ok(lab.vms().has('lab-util'));
  } finally {
    await lab.close();
  }
});

test('destroy without state finds the VMs by name and marker, and leaves foreign VMs alone', async () => {
  const lab = await startLab();
  try {
    const m = manifest(NESTED);
    assert.equal((await lab.run('create', m)).success, true);
    // Same names, other stack: must not be touched by this stack's destroy.
    const other = await startLabContextCopy(lab, 'other');
    assert.equal((await other.run('create', flat(1))).success, true);
    const paths = statePaths(join(lab.dir, 'state'), 'lab', 'lab');
    rmSync(paths.state);
    const result = await lab.run('destroy', m);
    assert.equal(result.success, true, result.error);
    assert.deepEqual([...lab.vms().keys()], ['flat-vm0']);
    assert.deepEqual((lab.sim.state as { nested: unknown[] }).nested, []);
  } finally {
    await lab.close();
  }
});

/** The same simulator seen from another stack (its own state folder). */
async function startLabContextCopy(lab: Lab, stack: string): Promise<Pick<Lab, 'run'>> {
  const { runOperator } = await import('../../src/operator/engine.ts');
  const context = { ...lab.context, stack };
  return {
    run: (verb, m, extra = {}) =>
      runOperator(verb, {
        manifest: m,
        context,
        env: lab.env,
        stateDir: join(lab.dir, `state-${stack}`),
        workDir: lab.dir,
        ...extra,
      }),
  };
}

/** Every API call the operator makes, broken in turn: a clear error naming the call, then a clean resume. */
const CALLS: Array<{ name: string; method: string; path: string; status?: number; verb?: 'create' | 'test' }> = [
  { name: 'list VMs', method: 'GET', path: '^/cluster/resources' },
  { name: 'next id', method: 'GET', path: '^/cluster/nextid' },
  { name: 'clone', method: 'POST', path: '/qemu/9000/clone$' },
  { name: 'set config', method: 'POST', path: '/qemu/\\d+/config$' },
  { name: 'read config', method: 'GET', path: '/qemu/\\d+/config$' },
  { name: 'resize', method: 'PUT', path: '/resize$' },
  { name: 'start', method: 'POST', path: '/status/start$' },
  { name: 'task status', method: 'GET', path: '/tasks/.*/status$' },
  { name: 'agent interfaces', method: 'GET', path: '/agent/network-get-interfaces$', status: 403 },
  { name: 'agent ping', method: 'POST', path: '/agent/ping$', status: 403, verb: 'test' },
  { name: 'VM status', method: 'GET', path: '/status/current$', verb: 'test' },
  { name: 'delete', method: 'DELETE', path: '/qemu/\\d+$', verb: 'test' },
  { name: 'stop', method: 'POST', path: '/status/stop$', verb: 'test' },
];

test('fault injection on each API call the operator makes: clear error, then resume without duplicates', async () => {
  const lab = await startLab({}, { timeout_ms: 2000 });
  // GETs are still retried (3 times) before the error; a 1 ms first back-off instead of 200 ms keeps each failing
  // GET from waiting 1.4 s (the back-off itself is asserted in test/proxmox/client.test.ts).
  const connection = {
    endpoint: {
      url: lab.sim.url,
      tokenId: lab.sim.tokenId,
      tokenSecret: lab.sim.tokenSecret,
      fingerprint: lab.sim.fingerprint,
      retryBaseMs: 1,
    },
  };
  try {
    const m = manifest(`schema_version: 2
name: faults
settings: { verify_ssh: false, timeouts: { wait_ip: 2, task: 10, verify: 0.25 } }
nodes:
  - { name: a, type: vm, preset: small, image: debian-12 }
`);
    // verify: 0.25 s: a broken agent ping fails verify when its deadline passes (the agent is up, so a working ping
    // passes at its first try).
    for (const call of CALLS) {
      lab.sim.clearFaults();
      lab.sim.inject({
        kind: 'http-error',
        method: call.method,
        path: call.path,
        status: call.status ?? 500,
        times: 1_000_000,
      });
      const broken = await lab.run(call.verb ?? 'create', m, { connection });
      assert.equal(broken.success, false, `${call.name}: expected a failure`);
      const text = `${broken.error} ${broken.nodes.map((n) => n.error ?? '').join(' ')}`;
      assert.match(
        text,
        new RegExp(`Proxmox API ${call.method} \\S+ failed: HTTP ${call.status ?? 500}`),
        `${call.name}: ${text}`,
      );
      lab.sim.clearFaults();
      const fixed = await lab.run('create', m, { connection });
      assert.equal(fixed.success, true, `${call.name}: resume failed: ${fixed.error}`);
      assert.deepEqual([...lab.vms().entries()], [['faults-a', 1]], `${call.name}: one VM, nothing duplicated`);
      const gone = await lab.run('destroy', m, { connection });
      assert.equal(gone.success, true, `${call.name}: ${gone.error}`);
      assert.equal(lab.vms().size, 0, `${call.name}: nothing orphaned`);
    }
  } finally {
    await lab.close();
  }
});

test('nested PVE: a token is created on the inner host; an inner API that never answers fails the host node', async () => {
  const lab = await startLab();
  try {
    const m = manifest(NESTED);
    assert.equal((await lab.run('create', m)).success, true);
    const inner = lab.sim.simulator.nested((lab.sim.state as { nested: Array<{ vmid: number }> }).nested[0].vmid);
    const tokens = inner?.state.users.find((u) => u.userid === 'root@pam')?.tokens.map((t) => t.id) ?? [];
    assert.ok(
      tokens.some((t) => t.startsWith('strata-')),
      `a strata token on the inner host: ${tokens}`,
    );
    assert.equal((await lab.run('destroy', m)).success, true);
  } finally {
    await lab.close();
  }
  // Without the simulator's directory of nested hosts, https://<guest ip>:8006 is unreachable here.
  const real = await startLab({}, { nested: { locator: 'address', port: 8006 } });
  try {
    const m = manifest(NESTED.replace('verify_ssh: false', 'verify_ssh: false, timeouts: { inner_api: 0.3 }'));
    const result = await real.run('create', m, { maxConcurrency: 1 });
    assert.equal(result.success, false);
    const host = result.nodes.find((n) => n.name === 'host');
    assert.equal(host?.status, 'failed');
    assert.match(host?.error ?? '', /Nested PVE 'host': its API did not answer/);
    assert.equal(host?.vm_id !== undefined, true, 'the host VM is recorded so destroy finds it');
    assert.equal((await real.run('destroy', m)).success, true);
    assert.equal(real.vms().size, 0);
  } finally {
    await real.close();
  }
});

test('timeouts: a hung clone hits the client timeout; an agent that never answers hits wait_ip', async () => {
  const lab = await startLab({ bootDelayMs: 100_000_000, latencyScale: 0.01 }, { timeout_ms: 300 });
  try {
    lab.sim.inject({ kind: 'hang', method: 'POST', path: '/clone$', times: 1 });
    const m = manifest(`schema_version: 2
name: slow
settings: { verify_ssh: false, timeouts: { wait_ip: 0.5, task: 30 } }
nodes:
  - { name: a, type: vm, image: debian-12 }
`);
    const hung = await lab.run('create', m, { pollMs: 50 });
    assert.equal(hung.success, false);
    assert.match(hung.nodes[0].error ?? '', /POST \S+\/clone failed: no answer within 300 ms/);
    const started = performance.now();
    const noAgent = await lab.run('create', m, { pollMs: 50 });
    assert.equal(noAgent.success, false);
    assert.match(noAgent.nodes[0].error ?? '', /no IP after 1 s \(QEMU guest agent is not running\)/);
    assert.ok(performance.now() - started < 20_000);
  } finally {
    await lab.close();
  }
});

test('test verb: verify reaches the TCP port; a closed port fails verify and cleanup removes everything', async () => {
  const lab = await startLab();
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const ok = verifyManifest(port, 2);
    const passed = await lab.run('test', ok);
    assert.equal(passed.success, true, passed.error);
    assert.deepEqual(
      passed.phases.map((p) => [p.name, p.status]),
      [
        ['create', 'passed'],
        ['verify', 'passed'],
        ['destroy', 'passed'],
      ],
    );
    assert.match(passed.phases[1].message ?? '', new RegExp(`port ${port} reachable`));
    assert.equal(passed.context.a_ip, '127.0.0.1');
    assert.equal(lab.vms().size, 0);

    await new Promise((resolve) => server.close(resolve));
    // The same manifest with a shorter verify deadline: a closed port fails only once the deadline has passed.
    const failed = await lab.run('test', verifyManifest(port, 0.25));
    assert.equal(failed.success, false);
    assert.equal(failed.phases[1].status, 'failed');
    assert.match(failed.error ?? '', new RegExp(`port ${port} not reachable`));
    assert.equal(failed.phases[2].message, 'Cleaned up after failure');
    assert.equal(lab.vms().size, 0);

    const noCleanup = await lab.run('test', manifestWith(`cleanup_on_failure: false`, port));
    assert.equal(noCleanup.success, false);
    assert.equal(noCleanup.phases[2].status, 'skipped');
    assert.equal(lab.vms().size, 1, 'left for inspection');
  } finally {
    server.close();
    await lab.close();
  }
});

function verifyManifest(port: number, verify: number) {
  return manifest(`schema_version: 2
name: verify
settings: { verify_ssh: true, verify_port: ${port}, timeouts: { verify: ${verify} } }
nodes:
  - { name: a, type: vm, image: debian-12, ip: 127.0.0.1/8 }
`);
}

function manifestWith(extra: string, port: number) {
  return manifest(`schema_version: 2
name: keep
settings: { verify_ssh: true, verify_port: ${port}, ${extra}, timeouts: { verify: 0.25 } }
nodes:
  - { name: a, type: vm, image: debian-12, ip: 127.0.0.1/8 }
`);
}

test('lock: a live run blocks a second one; a lock left by a dead process is taken over', async () => {
  const lab = await startLab();
  try {
    const m = flat(1);
    const paths = statePaths(join(lab.dir, 'state'), 'flat', 'lab');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(lab.dir, 'state'), { recursive: true });
    writeFileSync(
      paths.lock,
      JSON.stringify({ pid: process.pid, host: hostname(), started_at: 'now', command: 'other' }),
    );
    await assert.rejects(lab.run('create', m), /Another strata run \(pid \d+ on .*: other\) holds the lock/);
    writeFileSync(
      paths.lock,
      JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started_at: 'then', command: 'dead' }),
    );
    const result = await lab.run('create', m);
    assert.equal(result.success, true, result.error);
    assert.equal(existsSync(paths.lock), false, 'released after the run');
  } finally {
    await lab.close();
  }
});
