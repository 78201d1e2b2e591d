// Drives PveClient against the PVE simulator over real HTTPS on 127.0.0.1; the simulator's /_sim/state is the judge.
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent, fetch } from 'undici';
import {
  PveApiError,
  PveClient,
  PveConnectionError,
  type PveEndpoint,
  PveTaskError,
  PveTimeoutError,
  parseUpid,
} from '../../src/proxmox/client.ts';
import { type RunningSimulator, startSimulator } from '../../src/proxmox/simulator/index.ts';
import { globalMasker, MASK } from '../../src/util/mask.ts';

type Req = { method: string; path: string; status: number | null };
type Vm = { vmid: number; name: string; status: string; lock?: string; config: Record<string, unknown>; ip?: string };

/** The judge: the simulator's state as its control endpoint serves it over HTTPS. */
async function judge(
  sim: RunningSimulator,
): Promise<{ requests: Req[]; vms: Vm[]; tasks: Array<{ upid: string; exitstatus?: string }> }> {
  const dispatcher = new Agent({ connect: { ca: sim.ca } });
  try {
    const response = await fetch(`${sim.url}/_sim/state`, { dispatcher });
    assert.equal(response.status, 200);
    return ((await response.json()) as { data: never }).data;
  } finally {
    await dispatcher.close();
  }
}

async function requests(sim: RunningSimulator): Promise<Req[]> {
  return (await judge(sim)).requests;
}

async function vms(sim: RunningSimulator): Promise<Vm[]> {
  return (await judge(sim)).vms;
}

function clientFor(sim: RunningSimulator, extra: Partial<PveEndpoint> = {}): PveClient {
  return new PveClient({
    url: sim.url,
    tokenId: sim.tokenId,
    tokenSecret: sim.tokenSecret,
    fingerprint: sim.fingerprint,
    ...extra,
  });
}

const FAST = { pollMs: 20, timeoutMs: 10_000 };

describe('PveClient against the simulator (latencyScale 0)', () => {
  let sim: RunningSimulator;
  let pve: PveClient;

  before(async () => {
    sim = await startSimulator({
      latencyScale: 0,
      seed: {
        nodes: [{ node: 'pve' }],
        storages: [
          {
            storage: 'local',
            type: 'dir',
            content: ['iso', 'snippets'],
            items: [{ volid: 'local:iso/debian.iso', content: 'iso', format: 'iso', size: 1000 }],
          },
          {
            storage: 'local-lvm',
            type: 'lvmthin',
            content: ['images'],
            items: [{ volid: 'local-lvm:base-9000-disk-0', content: 'images', format: 'raw', size: 2 * 1024 ** 3 }],
          },
        ],
        vms: [
          {
            vmid: 9000,
            name: 'tmpl',
            template: true,
            config: {
              cores: 1,
              memory: 1024,
              agent: '1',
              scsi0: 'local-lvm:base-9000-disk-0,size=2G',
              net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0',
            },
          },
        ],
        users: [
          { userid: 'root@pam', privileges: { '/': ['Administrator'] }, tokens: [{ id: 'strata', privsep: false }] },
          {
            userid: 'viewer@pve',
            privileges: { '/vms': ['VM.Audit'] },
            tokens: [{ id: 'ro', secret: 'viewer-secret-0001', privsep: false }],
          },
        ],
      },
    });
    pve = clientFor(sim);
  });

  after(async () => {
    await pve.close();
    await sim.close();
  });

  test('version, nodes, nodeStatus (cpu flags), permissions, nextId, storages, storageContent', async () => {
    assert.equal((await pve.version()).release, '8.4');
    assert.deepEqual(
      (await pve.nodes()).map((n) => [n.node, n.status]),
      [['pve', 'online']],
    );
    const status = await pve.nodeStatus('pve');
    assert.ok(status.cpuinfo.flags.includes('vmx'));
    assert.ok(status.cpuinfo.cpus > 0);
    const perms = await pve.permissions();
    assert.equal(perms['/']['VM.Clone'], 1);
    assert.equal(await pve.nextId(), 100);
    assert.deepEqual(
      (await pve.storages('pve')).map((s) => [s.storage, s.content]),
      [
        ['local', 'iso,snippets'],
        ['local-lvm', 'images'],
      ],
    );
    assert.deepEqual(
      (await pve.storageContent('pve', 'local', 'iso')).map((c) => c.volid),
      ['local:iso/debian.iso'],
    );
    assert.deepEqual(await pve.storageContent('pve', 'local', 'snippets'), []);
  });

  test('full lifecycle: clone, config (sshkeys double-encoded), resize, start, agent, shutdown, delete', async () => {
    const upid = await pve.cloneVm('pve', 9000, { newid: 120, name: 'web-1', description: 'made by a test' });
    assert.equal(parseUpid(upid).type, 'qmclone');
    // latencyScale 0 is instant but still asynchronous: the first poll sees the task running and the clone locked.
    // As PVE's worker does: a placeholder config holding only `lock: clone`; the source only takes a file lock.
    const placeholder = (await vms(sim)).find((v) => v.vmid === 120);
    assert.equal(placeholder?.lock, 'clone');
    assert.deepEqual(placeholder?.config, {});
    assert.equal((await pve.taskStatus(upid)).status, 'running');
    assert.equal((await vms(sim)).find((v) => v.vmid === 9000)?.lock, undefined);
    const task = await pve.waitForTask(upid, FAST);
    assert.equal(task.exitstatus, 'OK');
    assert.equal((await vms(sim)).find((v) => v.vmid === 120)?.lock, undefined);
    assert.equal((await vms(sim)).find((v) => v.vmid === 9000)?.lock, undefined, 'the template lock is released');

    const listed = (await pve.listVms()).find((v) => v.vmid === 120);
    assert.deepEqual(listed, {
      vmid: 120,
      name: 'web-1',
      node: 'pve',
      status: 'stopped',
      template: false,
      tags: [],
      type: 'qemu',
    });
    assert.equal((await pve.listVms()).find((v) => v.vmid === 9000)?.template, true);

    const keys = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@laptop\nssh-rsa AAAAB3NzaC1yc2E+/= ops key';
    const cfgUpid = await pve.setVmConfig('pve', 120, {
      sshkeys: keys,
      ciuser: 'ops',
      ipconfig0: 'ip=10.20.0.5/24,gw=10.20.0.1',
      cores: 4,
      onboot: true,
      tags: 'web;prod',
    });
    assert.ok(cfgUpid);
    await pve.waitForTask(cfgUpid, FAST);
    const config = await pve.vmConfig('pve', 120);
    // PVE keeps sshkeys URL-encoded in the config; decoding once gives back exactly what was sent.
    assert.equal(decodeURIComponent(String(config.sshkeys)), keys);
    assert.equal(config.cores, 4);
    assert.equal(config.onboot, 1);
    assert.equal(config.description, 'made by a test');
    assert.match(String(config.scsi0), /^local-lvm:base-9000-disk-0\/vm-120-disk-0,size=2G$/);
    assert.deepEqual((await pve.listVms()).find((v) => v.vmid === 120)?.tags, ['web', 'prod']);

    await pve.resizeDisk('pve', 120, 'scsi0', '+3G');
    assert.match(String((await pve.vmConfig('pve', 120)).scsi0), /size=5G$/);

    assert.equal(await pve.agentPing('pve', 120), false, 'agent is down while the VM is stopped');
    await pve.waitForTask(await pve.startVm('pve', 120), FAST);
    assert.equal((await pve.vmStatus('pve', 120)).status, 'running');
    assert.equal(await pve.agentPing('pve', 120), true);
    const ifaces = await pve.agentNetworkInterfaces('pve', 120);
    const eth0 = ifaces.find((i) => i.name === 'eth0');
    assert.ok(
      eth0?.['ip-addresses']?.some((a) => a['ip-address'] === '10.20.0.5' && a.prefix === 24),
      'static cloud-init IP is reported',
    );
    assert.ok(ifaces.some((i) => i.name === 'lo'));

    await assert.rejects(
      pve.deleteVm('pve', 120),
      (e: unknown) => e instanceof PveApiError && /is running - destroy failed/.test(e.pveMessage),
    );
    await pve.waitForTask(await pve.shutdownVm('pve', 120, 30), FAST);
    assert.equal((await pve.vmStatus('pve', 120)).status, 'stopped');
    await pve.waitForTask(await pve.deleteVm('pve', 120, { purge: true, destroyUnreferencedDisks: true }), FAST);
    assert.equal(
      (await vms(sim)).some((v) => v.vmid === 120),
      false,
    );
    const volids = (await pve.storageContent('pve', 'local-lvm')).map((c) => c.volid);
    assert.deepEqual(volids, ['local-lvm:base-9000-disk-0'], 'the clone disk is gone, the template base stays');
  });

  test('stopVm stops a running VM; starting a running VM fails the task', async () => {
    await pve.waitForTask(await pve.cloneVm('pve', 9000, { newid: 130, name: 'stopper' }), FAST);
    await pve.waitForTask(await pve.startVm('pve', 130), FAST);
    await assert.rejects(pve.waitForTask(await pve.startVm('pve', 130), FAST), (e: unknown) => {
      assert.ok(e instanceof PveTaskError);
      assert.equal(e.exitstatus, 'VM 130 already running');
      return true;
    });
    await pve.waitForTask(await pve.stopVm('pve', 130), FAST);
    assert.equal((await pve.vmStatus('pve', 130)).status, 'stopped');
  });

  test('at latencyScale 0 a task nobody polls still ends on its own; reboot runs as a qmreboot task', async () => {
    // Its own simulator, whose unpolled tasks end after 300 ms rather than 1 s (the shared one's tests need the 1 s).
    const alone = await startSimulator({ latencyScale: 0, unpolledTaskMs: 300, tls: false });
    try {
      const client = new PveClient({ url: alone.url, tokenId: alone.tokenId, tokenSecret: alone.tokenSecret });
      const upid = await client.cloneVm('pve', 9000, { newid: 135, name: 'unpolled' });
      const { state } = alone.simulator;
      const vm = () => state.vms.find((v) => v.vmid === 135);
      assert.equal(vm()?.lock, 'clone');
      for (let i = 0; i < 500 && vm()?.lock !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(vm()?.lock, undefined);
      const task = state.tasks.find((t) => t.upid === upid);
      assert.deepEqual([task?.exitstatus, task?.polls], ['OK', 0], 'ended on its own, never polled');
      await client.close();
    } finally {
      await alone.close();
    }

    await pve.waitForTask(await pve.cloneVm('pve', 9000, { newid: 135, name: 'unpolled' }), FAST);
    await pve.waitForTask(await pve.startVm('pve', 135), FAST);
    const dispatcher = new Agent({ connect: { ca: sim.ca } });
    try {
      const response = await fetch(`${sim.url}/api2/json/nodes/pve/qemu/135/status/reboot`, {
        method: 'POST',
        dispatcher,
        headers: { Authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` },
      });
      const { data: upid } = (await response.json()) as { data: string };
      assert.equal(parseUpid(upid).type, 'qmreboot');
      await pve.waitForTask(upid, FAST);
      assert.equal((await pve.vmStatus('pve', 135)).status, 'running');
    } finally {
      await dispatcher.close();
    }
  });

  test('PVE errors name method, path, status and PVE message', async () => {
    await assert.rejects(pve.vmConfig('pve', 555), (e: unknown) => {
      assert.ok(e instanceof PveApiError);
      assert.equal(e.status, 500);
      assert.equal(e.method, 'GET');
      assert.equal(e.path, '/nodes/pve/qemu/555/config');
      assert.equal(
        e.message,
        "Proxmox API GET /nodes/pve/qemu/555/config failed: HTTP 500 Configuration file 'nodes/pve/qemu-server/555.conf' does not exist",
      );
      return true;
    });
    await pve.waitForTask(await pve.cloneVm('pve', 9000, { newid: 140, name: 'dup' }), FAST);
    await assert.rejects(
      pve.cloneVm('pve', 9000, { newid: 140, name: 'dup2' }),
      /HTTP 500 unable to create VM 140: config file already exists/,
    );
    await assert.rejects(pve.setVmConfig('pve', 140, { cores: 'many', bogus: 1 }), (e: unknown) => {
      assert.ok(e instanceof PveApiError);
      assert.equal(e.status, 400);
      assert.match(e.pveMessage, /^Parameter verification failed\./);
      assert.match(e.pveMessage, /cores: type check \('integer'\) failed - got 'many'/);
      assert.match(e.pveMessage, /bogus: property is not defined in schema/);
      return true;
    });
    await assert.rejects(pve.nodeStatus('nowhere'), /hostname lookup 'nowhere' failed/);
  });

  test('clone locks as PVE: the new VM is locked until the task ends; a stopped source allows parallel clones', async () => {
    await pve.waitForTask(await pve.cloneVm('pve', 9000, { newid: 150, name: 'golden' }), FAST);
    // A stopped source takes a shared file lock (lock_config_shared): two full clones of it run side by side.
    const first = await pve.cloneVm('pve', 150, { newid: 151, name: 'copy-a', full: true });
    const second = await pve.cloneVm('pve', 150, { newid: 152, name: 'copy-b', full: true });
    // Starting the clone in flight is accepted; the start task fails on the placeholder's lock (check_lock in vm_start).
    const start = await pve.startVm('pve', 151);
    await assert.rejects(
      pve.waitForTask(start, FAST),
      (e: unknown) => e instanceof PveTaskError && e.exitstatus === 'VM 151 is locked (clone)',
    );
    // A config change checks the lock before its worker forks: refused at once.
    await assert.rejects(pve.setVmConfig('pve', 151, { cores: 2 }), /HTTP 500 VM 151 is locked \(clone\)/);
    await Promise.all([pve.waitForTask(first, FAST), pve.waitForTask(second, FAST)]);
    // Templates too: two linked clones at once.
    const a = await pve.cloneVm('pve', 9000, { newid: 153, name: 'lc-a' });
    const b = await pve.cloneVm('pve', 9000, { newid: 154, name: 'lc-b' });
    await Promise.all([pve.waitForTask(a, FAST), pve.waitForTask(b, FAST)]);
    // A running source takes an exclusive lock: a second clone's worker times out on it.
    await pve.waitForTask(await pve.startVm('pve', 150), FAST);
    const runningA = await pve.cloneVm('pve', 150, { newid: 155, name: 'hot-a' });
    const runningB = await pve.cloneVm('pve', 150, { newid: 156, name: 'hot-b' });
    await pve.waitForTask(runningA, FAST);
    await assert.rejects(
      pve.waitForTask(runningB, FAST),
      /can't lock file '\/var\/lock\/qemu-server\/lock-150.conf' - got timeout/,
    );
    await pve.waitForTask(await pve.stopVm('pve', 150), FAST);
  });

  test('a raw (once-encoded) sshkeys value is what PVE rejects: the client must encode twice', async () => {
    const dispatcher = new Agent({ connect: { ca: sim.ca } });
    try {
      const response = await fetch(`${sim.url}/api2/json/nodes/pve/qemu/140/config`, {
        method: 'POST',
        dispatcher,
        headers: {
          Authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: `sshkeys=${encodeURIComponent('ssh-ed25519 AAAA user@host')}`,
      });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { errors: Record<string, string> };
      assert.match(body.errors.sshkeys, /invalid urlencoded string/);
    } finally {
      await dispatcher.close();
    }
  });

  test('a failed task raises PveTaskError with exit status and log tail; the failed clone leaves no VM', async () => {
    sim.inject({ kind: 'task-failure', taskType: 'qmclone' });
    const upid = await pve.cloneVm('pve', 9000, { newid: 160, name: 'doomed' });
    await assert.rejects(pve.waitForTask(upid, FAST), (e: unknown) => {
      assert.ok(e instanceof PveTaskError);
      assert.equal(e.exitstatus, 'command failed');
      assert.equal(e.upid, upid);
      assert.deepEqual(e.logTail.at(-1), 'TASK ERROR: command failed');
      assert.match(e.message, /qmclone 9000 on pve failed: command failed/);
      return true;
    });
    assert.equal(
      (await vms(sim)).some((v) => v.vmid === 160),
      false,
    );
    const { tasks } = await judge(sim);
    assert.equal(tasks.find((t) => t.upid === upid)?.exitstatus, 'command failed');
  });

  test('GETs are retried with backoff on injected 500s; a POST is sent exactly once', async () => {
    sim.inject({ kind: 'http-error', method: 'GET', path: '^/cluster/nextid$', times: 2, message: 'proxy loop' });
    const before = (await requests(sim)).filter((r) => r.path === '/cluster/nextid').length;
    const started = Date.now();
    assert.ok((await pve.nextId()) >= 100);
    const nextIdRequests = (await requests(sim)).filter((r) => r.path === '/cluster/nextid').slice(before);
    assert.deepEqual(
      nextIdRequests.map((r) => r.status),
      [500, 500, 200],
    );
    assert.ok(Date.now() - started >= 200 + 400 - 20, 'exponential backoff between attempts (200 ms, 400 ms)');

    sim.inject({ kind: 'http-error', method: 'POST', path: '/clone$', times: 1 });
    const mark = (await requests(sim)).length;
    await assert.rejects(
      pve.cloneVm('pve', 9000, { newid: 170, name: 'once' }),
      (e: unknown) => e instanceof PveApiError && e.status === 500,
    );
    const clonePosts = (await requests(sim))
      .slice(mark)
      .filter((r) => r.method === 'POST' && r.path === '/nodes/pve/qemu/9000/clone');
    assert.deepEqual(
      clonePosts.map((r) => r.status),
      [500],
      'the clone POST was sent once, not retried',
    );
    assert.equal(
      (await vms(sim)).some((v) => v.vmid === 170),
      false,
    );

    sim.inject({ kind: 'http-error', method: 'GET', path: '^/version$', times: 10 });
    const limited = clientFor(sim, { retries: 2, retryBaseMs: 1 });
    await assert.rejects(limited.version(), /HTTP 500 simulated failure/);
    await limited.close();
    sim.clearFaults();
  });

  test('every call has a bounded timeout; a hung GET is retried, a hung POST is not', async () => {
    const quick = clientFor(sim, { timeoutMs: 100, retries: 0 });
    sim.inject({ kind: 'hang', path: '^/version$' });
    const started = Date.now();
    await assert.rejects(quick.version(), (e: unknown) => {
      assert.ok(e instanceof PveConnectionError);
      assert.equal(e.code, 'TIMEOUT');
      assert.match(e.message, /GET \/version failed: no answer within 100 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 2000);
    // A definite PVE answer (a missing VM) is not retried, even though PVE sends it as HTTP 500.
    const mark = (await requests(sim)).length;
    await assert.rejects(pve.vmConfig('pve', 999), /does not exist/);
    assert.equal((await requests(sim)).length - mark, 1);
    await quick.close();

    const retrying = clientFor(sim, { timeoutMs: 300, retries: 1, retryBaseMs: 1 });
    sim.inject({ kind: 'hang', path: '^/version$' });
    assert.equal((await retrying.version()).release, '8.4');
    sim.inject({ kind: 'hang', method: 'POST', path: '/status/start$' });
    await assert.rejects(
      retrying.startVm('pve', 140),
      (e: unknown) => e instanceof PveConnectionError && e.code === 'TIMEOUT',
    );
    assert.equal((await requests(sim)).filter((r) => r.path === '/nodes/pve/qemu/140/status/start').length, 1);

    sim.inject({ kind: 'hang', path: '/tasks/' });
    await retrying.waitForTask(await retrying.stopVm('pve', 140), FAST); // the hung poll is retried after its timeout
    await retrying.close();
  });

  test('waitForTask gives up after its own timeout without failing the task', async () => {
    const slow = await startSimulator({ latencyScale: 1, tls: false });
    try {
      const client = new PveClient({ url: slow.url, tokenId: slow.tokenId, tokenSecret: slow.tokenSecret });
      const upid = await client.cloneVm('pve', 9000, { newid: 101, name: 'slow' });
      await assert.rejects(client.waitForTask(upid, { timeoutMs: 150, pollMs: 50 }), PveTimeoutError);
      await client.close();
    } finally {
      await slow.close();
    }
  });

  test('a bad token gets 401 with PVE message; a token without privileges gets 403 naming path and privilege', async () => {
    const bad = clientFor(sim, { tokenSecret: 'wrong-secret-value' });
    await assert.rejects(bad.version(), (e: unknown) => {
      assert.ok(e instanceof PveApiError);
      assert.equal(e.status, 401);
      assert.equal(e.message, 'Proxmox API GET /version failed: HTTP 401 invalid token value!');
      assert.match(e.hint ?? '', /PVEAPIToken/);
      return true;
    });
    await bad.close();
    const viewer = clientFor(sim, { tokenId: 'viewer@pve!ro', tokenSecret: 'viewer-secret-0001' });
    assert.ok((await viewer.listVms()).length > 0, 'VM.Audit lists VMs');
    await assert.rejects(viewer.cloneVm('pve', 9000, { newid: 180, name: 'nope' }), (e: unknown) => {
      assert.ok(e instanceof PveApiError);
      assert.equal(e.status, 403);
      assert.equal(e.pveMessage, 'Permission check failed (/vms/9000, VM.Clone)');
      return true;
    });
    assert.deepEqual(await viewer.storages('pve'), [], 'storages without Datastore.Audit are hidden');
    await viewer.close();
  });

  test('the token secret is registered with the masker and never appears in errors', async () => {
    assert.equal(globalMasker.mask(`token ${sim.tokenSecret}`), `token ${MASK}`);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const bad = clientFor(sim, { url: `https://127.0.0.1:${port}`, retries: 1 });
    await assert.rejects(bad.version(), (e: unknown) => {
      assert.ok(e instanceof PveConnectionError);
      assert.ok(!e.message.includes(sim.tokenSecret));
      assert.match(e.hint ?? '', /Nothing listens/);
      return true;
    });
    await bad.close();
  });

  test('control endpoints: faults are validated, listed and cleared over HTTP', async () => {
    const dispatcher = new Agent({ connect: { ca: sim.ca } });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${sim.url}${path}`, {
        method,
        dispatcher,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        status: response.status,
        body: (await response.json()) as { data: unknown; errors?: Record<string, string> },
      };
    };
    try {
      const bad = await call('POST', '/_sim/faults', { kind: 'meteor' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.errors?.kind ?? '', /http-error, hang, task-failure, agent-lost/);
      assert.equal((await call('POST', '/_sim/faults', { kind: 'hang', path: '([' })).status, 400);
      const added = await call('POST', '/_sim/faults', { kind: 'http-error', path: '^/version$', times: 5 });
      assert.equal(added.status, 200);
      assert.deepEqual(
        ((await call('GET', '/_sim/faults')).body.data as Array<{ kind: string; remaining: number }>).map((f) => [
          f.kind,
          f.remaining,
        ]),
        [['http-error', 5]],
      );
      assert.equal((await call('DELETE', '/_sim/faults')).status, 200);
      assert.equal((await pve.version()).release, '8.4');
      assert.equal((await call('GET', '/_sim/nope')).status, 404);
      const anonymous = await fetch(`${sim.url}/api2/json/nodes/pve/lxc`, { dispatcher });
      assert.equal(anonymous.status, 401, 'the API itself needs a token');
      assert.equal(anonymous.statusText, 'No ticket');
      assert.equal(await anonymous.text(), '', 'pveproxy sends a failed login no body');
      const unknown = await fetch(`${sim.url}/api2/json/nodes/pve/lxc`, {
        dispatcher,
        headers: { Authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` },
      });
      assert.equal(unknown.status, 501);
      assert.equal(unknown.statusText, "Method 'GET /nodes/pve/lxc' not implemented");
      await unknown.text();
    } finally {
      await dispatcher.close();
    }
  });

  test('invalid endpoint settings are StrataErrors with hints', () => {
    assert.throws(() => clientFor(sim, { tokenId: 'root@pam' }), /Invalid Proxmox API token id/);
    assert.throws(() => clientFor(sim, { url: 'not a url' }), /Invalid Proxmox API URL/);
    assert.throws(() => clientFor(sim, { fingerprint: 'AB:CD' }), /Invalid TLS fingerprint/);
  });
});

describe('per-host TLS trust', () => {
  let sim: RunningSimulator;
  let other: RunningSimulator;

  before(async () => {
    [sim, other] = await Promise.all([startSimulator({ latencyScale: 0 }), startSimulator({ latencyScale: 0 })]);
  });

  after(async () => {
    await Promise.all([sim.close(), other.close()]);
  });

  const version = async (extra: Partial<PveEndpoint>) => {
    const client = clientFor(sim, { fingerprint: undefined, retries: 0, ...extra });
    try {
      return await client.version();
    } finally {
      await client.close();
    }
  };

  test('the right SHA-256 fingerprint connects, in any case and with or without colons', async () => {
    assert.equal((await version({ fingerprint: sim.fingerprint })).release, '8.4');
    assert.equal((await version({ fingerprint: sim.fingerprint?.replace(/:/g, '').toLowerCase() })).release, '8.4');
  });

  test('a wrong fingerprint is refused with a hint before any request reaches the server', async () => {
    const mark = (await requests(sim)).length;
    await assert.rejects(version({ fingerprint: other.fingerprint, retries: 3 }), (e: unknown) => {
      assert.ok(e instanceof PveConnectionError);
      assert.equal(e.code, 'ERR_TLS_FINGERPRINT_MISMATCH');
      assert.match(e.message, new RegExp(`server presented ${sim.fingerprint?.replace(/:/g, '')}`));
      assert.match(e.hint ?? '', /not the pinned one/);
      return true;
    });
    assert.equal((await requests(sim)).length, mark, 'no request reached the server');
  });

  test('CA pinning trusts the node certificate signed by that CA only', async () => {
    assert.equal((await version({ ca: sim.ca })).release, '8.4');
    await assert.rejects(
      version({ ca: other.ca }),
      (e: unknown) => e instanceof PveConnectionError && /not trusted/.test(e.hint ?? ''),
    );
  });

  test('default trust refuses the self-signed chain; insecure accepts it; no process-wide setting changes', async () => {
    await assert.rejects(
      version({}),
      (e: unknown) => e instanceof PveConnectionError && /pin its SHA-256 fingerprint/.test(e.hint ?? ''),
    );
    assert.equal((await version({ insecure: true })).release, '8.4');
    assert.equal(process.env.NODE_TLS_REJECT_UNAUTHORIZED, undefined);
    await assert.rejects(version({}), PveConnectionError);
  });
});

describe('guest agent timing and nested PVE hosts', () => {
  let sim: RunningSimulator;

  before(async () => {
    // 0.05 × (1500 ms start, 8000 ms boot): the start task takes 75 ms and the agent answers 400 ms later.
    sim = await startSimulator({ latencyScale: 0.05 });
  });

  after(async () => {
    await sim.close();
  });

  test('the agent answers only after the VM has booted; a lost agent stops answering', async () => {
    const pve = clientFor(sim);
    await pve.waitForTask(await pve.cloneVm('pve', 9000, { newid: 200, name: 'agent-test' }), FAST);
    await assert.rejects(pve.agentNetworkInterfaces('pve', 200), /HTTP 500 VM 200 is not running/);
    const started = Date.now();
    await pve.waitForTask(await pve.startVm('pve', 200), FAST);
    assert.equal(await pve.agentPing('pve', 200), false, 'booting');
    await assert.rejects(pve.agentNetworkInterfaces('pve', 200), /QEMU guest agent is not running/);
    while (!(await pve.agentPing('pve', 200))) await new Promise((r) => setTimeout(r, 25));
    const bootMs = Date.now() - started;
    // 75 ms start task + 400 ms boot is a lower bound set by timers; the upper one only guards against a stuck boot.
    assert.ok(bootMs >= 470 && bootMs < 10_000, `booted after ${bootMs} ms`);
    const ip = (await pve.agentNetworkInterfaces('pve', 200))
      .find((i) => i.name === 'eth0')
      ?.['ip-addresses']?.find((a) => a['ip-address-type'] === 'ipv4');
    assert.match(ip?.['ip-address'] ?? '', /^10\.77\.0\.\d+$/);

    const res = await fetch(`${sim.url}/_sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'agent-lost', vmid: 200 }),
      dispatcher: new Agent({ connect: { ca: sim.ca } }),
    });
    assert.equal(res.status, 200);
    assert.equal(await pve.agentPing('pve', 200), false);
    sim.clearFaults();
    assert.equal(await pve.agentPing('pve', 200), true);

    await pve.waitForTask((await pve.setVmConfig('pve', 200, { agent: 0 })) as string, FAST);
    await assert.rejects(pve.agentPing('pve', 200), /QEMU guest agent is not enabled/);
    await pve.close();
  });

  test('a VM tagged pve becomes a nested PVE endpoint after boot; a token created there works', async () => {
    const outer = clientFor(sim);
    await outer.waitForTask(await outer.cloneVm('pve', 9000, { newid: 300, name: 'inner-pve' }), FAST);
    await outer.waitForTask((await outer.setVmConfig('pve', 300, { tags: 'pve', cpu: 'host' })) as string, FAST);
    await outer.waitForTask(await outer.startVm('pve', 300), FAST);
    const res = await fetch(`${sim.url}/_sim/nested/300`, { dispatcher: new Agent({ connect: { ca: sim.ca } }) });
    assert.equal(res.status, 404, 'not up before boot');
    await res.text();

    let endpoint = sim.nested().find((n) => n.vmid === 300);
    for (let i = 0; i < 200 && !endpoint; i++) {
      await new Promise((r) => setTimeout(r, 25));
      endpoint = sim.nested().find((n) => n.vmid === 300);
    }
    assert.ok(endpoint, 'nested endpoint is listed');
    assert.equal(endpoint.node, 'inner-pve');
    assert.notEqual(endpoint.url, sim.url);
    assert.notEqual(endpoint.fingerprint, sim.fingerprint, 'the nested host has its own certificate');
    assert.match(endpoint.ip ?? '', /^10\.77\.0\.\d+$/);

    const inner = new PveClient({
      url: endpoint.url,
      tokenId: endpoint.tokenId,
      tokenSecret: endpoint.tokenSecret,
      fingerprint: endpoint.fingerprint,
    });
    assert.deepEqual(
      (await inner.nodes()).map((n) => n.node),
      ['inner-pve'],
    );
    assert.ok((await inner.nodeStatus('inner-pve')).cpuinfo.flags.includes('vmx'), 'cpu=host passes vmx through');
    const created = await inner.createApiToken('root@pam', 'operator', { privsep: false, comment: 'strata' });
    assert.equal(created.fullTokenId, 'root@pam!operator');
    assert.equal(globalMasker.mask(created.value), MASK);
    const op = new PveClient({
      url: endpoint.url,
      tokenId: created.fullTokenId,
      tokenSecret: created.value,
      fingerprint: endpoint.fingerprint,
    });
    assert.equal(await op.nextId(), 100, 'the nested host has its own, empty VM id space');
    await op.waitForTask(await op.cloneVm('inner-pve', 9000, { newid: 100, name: 'leaf' }), FAST);
    assert.deepEqual(
      (await op.listVms()).map((v) => v.vmid),
      [9000, 100],
    );
    assert.equal(
      (await vms(sim)).some((v) => v.vmid === 100),
      false,
      'the outer state is separate',
    );

    // PVE's default is privilege separation: a new token has no rights until ACLs are granted.
    const sep = await inner.createApiToken('root@pam', 'separated');
    const sepClient = new PveClient({
      url: endpoint.url,
      tokenId: sep.fullTokenId,
      tokenSecret: sep.value,
      fingerprint: endpoint.fingerprint,
    });
    assert.deepEqual(await sepClient.listVms(), []);
    await assert.rejects(inner.createApiToken('root@pam', 'operator'), /Token already exists/);

    // Stopping the VM takes the nested API away.
    await outer.waitForTask(await outer.stopVm('pve', 300), FAST);
    const gone = new PveClient({ ...op.endpoint, retries: 0, timeoutMs: 2000 });
    await assert.rejects(gone.version(), PveConnectionError);
    assert.equal(sim.nested().length, 0);

    // Started again, the host comes back on the same URL with its state: the token made earlier still works.
    await outer.waitForTask(await outer.startVm('pve', 300), FAST);
    let again = sim.nested().find((n) => n.vmid === 300);
    for (let i = 0; i < 200 && !again; i++) {
      await new Promise((r) => setTimeout(r, 25));
      again = sim.nested().find((n) => n.vmid === 300);
    }
    assert.equal(again?.url, endpoint.url);
    const back = new PveClient({ ...op.endpoint });
    assert.deepEqual(
      (await back.listVms()).map((v) => v.vmid),
      [9000, 100],
    );
    await outer.waitForTask(await outer.stopVm('pve', 300), FAST);
    await outer.waitForTask(await outer.deleteVm('pve', 300, { purge: true }), FAST);
    assert.equal(sim.nested().length, 0);
    for (const c of [outer, inner, op, sepClient, gone, back]) await c.close();
  });
});
