// The simulator's PVE rules at the HTTP level, each as pveproxy, JSONSchema or qemu-server applies it: request
// parsing, the order of checks (403, then 400, then 500, then the task), pending changes, storages per node,
// cross-node clones and migration, templates, snapshots, the task list, tickets with CSRF tokens and the lagging
// cluster view.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, fetch } from 'undici';
import { type RunningSimulator, startSimulator } from '../../src/proxmox/simulator/index.ts';

interface Answer {
  status: number;
  reason: string;
  data: unknown;
  errors?: Record<string, string>;
}

function caller(sim: RunningSimulator) {
  const dispatcher = new Agent({ connect: { ca: sim.ca } });
  const token = `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`;
  const call = async (
    method: string,
    path: string,
    options: { query?: string; form?: string; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = { Authorization: token, ...options.headers };
    let body: string | undefined;
    if (options.form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = options.form;
    } else if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const url = `${sim.url}/api2/json${path}${options.query ? `?${options.query}` : ''}`;
    const response = await fetch(url, { method, headers, body, dispatcher });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as { data: unknown; errors?: Record<string, string> }) : { data: null };
    return { status: response.status, reason: response.statusText, data: parsed.data, errors: parsed.errors };
  };
  const task = async (upid: unknown): Promise<string> => {
    if (typeof upid !== 'string') throw new Error(`no UPID: ${JSON.stringify(upid)}`);
    const node = upid.split(':')[1];
    for (let i = 0; i < 100; i++) {
      const status = (await call('GET', `/nodes/${node}/tasks/${encodeURIComponent(String(upid))}/status`)).data as {
        status: string;
        exitstatus?: string;
      };
      if (status.status === 'stopped') return String(status.exitstatus);
    }
    throw new Error(`task ${upid} did not end`);
  };
  return { call, task, close: () => dispatcher.close() };
}

describe('PVE request handling and check order', () => {
  let sim: RunningSimulator;
  let api: ReturnType<typeof caller>;

  before(async () => {
    sim = await startSimulator({
      latencyScale: 0,
      seed: {
        nodes: [{ node: 'pve' }],
        storages: [
          { storage: 'local', type: 'dir', content: ['iso', 'snippets'] },
          {
            storage: 'local-lvm',
            type: 'lvmthin',
            content: ['images'],
            items: [{ volid: 'local-lvm:base-9000-disk-0', content: 'images', size: 2 * 1024 ** 3 }],
          },
        ],
        vms: [
          {
            vmid: 9000,
            name: 'tmpl',
            template: true,
            config: {
              agent: 1,
              scsi0: 'local-lvm:base-9000-disk-0,size=2G',
              net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0',
            },
          },
        ],
        users: [
          {
            userid: 'root@pam',
            password: 'secret-pw',
            privileges: { '/': ['Administrator'] },
            tokens: [{ id: 't', privsep: false }],
          },
          {
            userid: 'viewer@pve',
            privileges: { '/vms': ['VM.Audit'] },
            tokens: [{ id: 'ro', secret: 'viewer-1', privsep: false }],
          },
        ],
      },
    });
    api = caller(sim);
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/pve/qemu/9000/clone', { form: 'newid=100&name=web&full=1' })).data,
      ),
      'OK',
    );
  });

  after(async () => {
    await api.close();
    await sim.close();
  });

  test('the query string wins over the body; a repeated key is NUL-joined and judged by the schema', async () => {
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'cores=2', query: 'cores=3' })).data,
      ),
      'OK',
    );
    assert.equal(((await api.call('GET', '/nodes/pve/qemu/100/config')).data as { cores: number }).cores, 3);
    const twice = await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'cores=2&cores=4' });
    assert.equal(twice.status, 400);
    assert.equal(twice.errors?.cores, "type check ('integer') failed - got '2\u00004'");
    // List formats split on NUL: `delete` given twice deletes both keys.
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'onboot=1&protection=0' })).data),
      'OK',
    );
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'delete=onboot&delete=protection' })).data,
      ),
      'OK',
    );
    const config = (await api.call('GET', '/nodes/pve/qemu/100/config')).data as Record<string, unknown>;
    assert.equal(config.onboot, undefined);
    assert.equal(config.protection, undefined);
    const unknownDelete = await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'delete=nosuchkey' });
    assert.deepEqual(unknownDelete.errors, { delete: "unknown option 'nosuchkey'" });
  });

  test('booleans: 0/1 or JSON booleans at the top level; yes/no/on/off only inside property strings', async () => {
    const yes = await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'onboot=yes' });
    assert.deepEqual(yes.errors, { onboot: "type check ('boolean') failed - got 'yes'" });
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/100/config', { json: { onboot: true } })).data),
      'OK',
    );
    const intFromBool = await api.call('POST', '/nodes/pve/qemu/100/config', { json: { cores: true } });
    assert.deepEqual(intFromBool.errors, { cores: "type check ('integer') failed - got JSON::PP::Boolean" });
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'net1=e1000,bridge=vmbr0,firewall=off' })).data,
      ),
      'OK',
    );
    const net1 = String(((await api.call('GET', '/nodes/pve/qemu/100/config')).data as { net1: string }).net1);
    assert.match(net1, /^e1000=BC:24:11:[0-9A-F:]{8},bridge=vmbr0,firewall=0$/, 'a new NIC gets a MAC');
    const model = await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'net2=rtl9999,bridge=vmbr0' });
    assert.match(
      model.errors?.net2 ?? '',
      /^invalid format - format error\nnet2\.model: value 'rtl9999' does not have a value in the enumeration 'e1000, /,
    );
    const cpu = await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'cpu=pentium9' });
    assert.match(cpu.errors?.cpu ?? '', /Built-in cputype 'pentium9' is not defined/);
  });

  test('order of checks: permission (403) before the VM lookup (500) before the parameters (400); unknown routes 501', async () => {
    const viewer = caller({ ...sim, tokenId: 'viewer@pve!ro', tokenSecret: 'viewer-1' } as RunningSimulator);
    try {
      const denied = await viewer.call('POST', '/nodes/pve/qemu/555/status/start', { form: 'bogus=1' });
      assert.deepEqual([denied.status, denied.reason], [403, 'Permission check failed (/vms/555, VM.PowerMgmt)']);
    } finally {
      await viewer.close();
    }
    const badParam = await api.call('POST', '/nodes/pve/qemu/555/status/start', { form: 'bogus=1' });
    assert.deepEqual(badParam.errors, {
      bogus: 'property is not defined in schema and the schema does not allow additional properties',
    });
    const node = await api.call('POST', '/nodes/nowhere/qemu/100/status/start');
    assert.match(node.reason, /^hostname lookup 'nowhere' failed/);
    const conflict = await api.call('POST', '/nodes/pve/qemu/100/status/start', { form: 'vmid=101' });
    assert.deepEqual(conflict.errors, {
      vmid: 'duplicate parameter (already defined in URI) with conflicting values!',
    });
    assert.equal((await api.call('GET', '/nodes/pve/lxc')).status, 501);
    // Inside the task: a missing VM, a template start, a shrinking resize, a missing disk.
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/555/status/start')).data),
      "Configuration file 'nodes/pve/qemu-server/555.conf' does not exist",
    );
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/9000/status/start')).data),
      "you can't start a vm if it's a template",
    );
    assert.equal(
      await api.task((await api.call('PUT', '/nodes/pve/qemu/100/resize', { form: 'disk=scsi0&size=1G' })).data),
      'shrinking disks is not supported',
    );
    assert.equal(
      await api.task((await api.call('PUT', '/nodes/pve/qemu/100/resize', { form: 'disk=scsi5&size=%2B1G' })).data),
      "disk 'scsi5' does not exist",
    );
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/100/status/shutdown')).data),
      'OK',
      'a stopped VM shuts down fine',
    );
    const linked = await api.call('POST', '/nodes/pve/qemu/100/clone', { form: 'newid=120&full=0' });
    assert.equal(linked.reason, "Linked clone feature is not supported for 'local-lvm:vm-100-disk-0' (scsi0)");
  });

  test('disks from storage:size, storage allocation, pending changes on a running VM', async () => {
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'scsi1=local-lvm:1' })).data),
      'OK',
    );
    const config = (await api.call('GET', '/nodes/pve/qemu/100/config')).data as Record<string, string>;
    assert.equal(config.scsi1, 'local-lvm:vm-100-disk-1,size=1G');
    const nowhere = await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'scsi2=nope:1' });
    assert.equal(await api.task(nowhere.data), "storage 'nope' does not exist", JSON.stringify(nowhere));
    const allocated = await api.call('POST', '/nodes/pve/storage/local-lvm/content', {
      form: 'vmid=100&filename=vm-100-disk-7&size=512M',
    });
    assert.equal(allocated.data, 'local-lvm:vm-100-disk-7');
    assert.equal(await api.task((await api.call('POST', '/nodes/pve/qemu/100/status/start')).data), 'OK');
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'memory=4096&description=now' })).data,
      ),
      'OK',
    );
    const pending = (await api.call('GET', '/nodes/pve/qemu/100/pending')).data as Array<{
      key: string;
      value?: unknown;
      pending?: unknown;
    }>;
    assert.deepEqual(
      pending.find((p) => p.key === 'memory'),
      { key: 'memory', pending: 4096 },
    );
    assert.equal(pending.find((p) => p.key === 'description')?.value, 'now', 'hot-pluggable options apply at once');
    assert.equal(
      ((await api.call('GET', '/nodes/pve/qemu/100/config', { query: 'current=1' })).data as { memory?: number })
        .memory,
      undefined,
    );
    assert.equal(await api.task((await api.call('POST', '/nodes/pve/qemu/100/status/reboot')).data), 'OK');
    assert.equal(
      ((await api.call('GET', '/nodes/pve/qemu/100/config', { query: 'current=1' })).data as { memory: number }).memory,
      4096,
    );
    assert.equal(await api.task((await api.call('POST', '/nodes/pve/qemu/100/status/stop')).data), 'OK');
  });

  test('snapshots, template conversion and the task list', async () => {
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/pve/qemu/100/snapshot', { form: 'snapname=before&description=x' })).data,
      ),
      'OK',
    );
    const snaps = (await api.call('GET', '/nodes/pve/qemu/100/snapshot')).data as Array<{ name: string }>;
    assert.deepEqual(
      snaps.map((s) => s.name),
      ['before', 'current'],
    );
    const refused = await api.call('POST', '/nodes/pve/qemu/100/template');
    assert.equal(refused.reason, 'unable to create template, because VM contains snapshots');
    assert.equal(await api.task((await api.call('DELETE', '/nodes/pve/qemu/100/snapshot/before')).data), 'OK');
    assert.equal(await api.task((await api.call('POST', '/nodes/pve/qemu/100/template')).data), 'OK');
    const config = (await api.call('GET', '/nodes/pve/qemu/100/config')).data as Record<string, unknown>;
    assert.equal(config.template, 1);
    assert.match(String(config.scsi0), /^local-lvm:base-100-disk-0,/);
    const tasks = (await api.call('GET', '/nodes/pve/tasks', { query: 'vmid=100&limit=3' })).data as Array<{
      type: string;
      status: string;
    }>;
    assert.deepEqual(
      tasks.map((t) => [t.type, t.status]),
      [
        ['qmtemplate', 'OK'],
        ['qmdelsnapshot', 'OK'],
        ['qmsnapshot', 'OK'],
      ],
    );
  });

  test('more of PVE refusals: reboot, digest, skiplock, pools, bridges, base volumes in use, volumes in use', async () => {
    const reboot = await api.call('POST', '/nodes/pve/qemu/555/status/reboot');
    assert.equal(reboot.reason, 'unable to find configuration file for VM 555 - no such machine');
    const digest = await api.call('POST', '/nodes/pve/qemu/9000/config', { form: 'description=x&digest=0123' });
    assert.equal(digest.reason, 'checksum mismatch (file change by other user?)');
    const skip = await api.call('POST', '/nodes/pve/qemu/9000/status/stop', { form: 'skiplock=1' });
    assert.deepEqual(skip.errors, { skiplock: 'Only root may use this option.' }, 'a token is not root@pam');
    const pool = await api.call('POST', '/nodes/pve/qemu/9000/clone', { form: 'newid=130&pool=nopool' });
    assert.equal(pool.reason, "pool 'nopool' does not exist");
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/9000/clone', { form: 'newid=131&name=linked' })).data),
      'OK',
    );
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/131/config', { form: 'net0=virtio,bridge=vmbr7' })).data),
      'OK',
    );
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/131/status/start')).data),
      "bridge 'vmbr7' does not exist",
    );
    assert.equal(
      await api.task((await api.call('DELETE', '/nodes/pve/qemu/9000')).data),
      "base volume 'local-lvm:base-9000-disk-0' is still in use by linked cloned",
    );
    const inUse = await api.call(
      'DELETE',
      '/nodes/pve/storage/local-lvm/content/local-lvm:base-9000-disk-0%2Fvm-131-disk-0',
    );
    assert.equal(
      inUse.reason,
      "unable to delete 'local-lvm:base-9000-disk-0/vm-131-disk-0' - volume is still in use (VM 131)",
    );
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/131/snapshot', { form: 'snapname=s1' })).data),
      'OK',
    );
    assert.equal(
      await api.task((await api.call('POST', '/nodes/pve/qemu/131/config', { form: 'cores=4' })).data),
      'OK',
    );
    assert.equal(await api.task((await api.call('POST', '/nodes/pve/qemu/131/snapshot/s1/rollback')).data), 'OK');
    const rolled = (await api.call('GET', '/nodes/pve/qemu/131/config')).data as { cores?: number; parent?: string };
    assert.deepEqual([rolled.cores, rolled.parent], [undefined, 's1']);
    assert.equal(await api.task((await api.call('DELETE', '/nodes/pve/qemu/131')).data), 'OK');
  });

  test('password tickets: writes need the CSRF token; failed logins get 401 without a body', async () => {
    const login = await api.call('POST', '/access/ticket', {
      form: 'username=root@pam&password=secret-pw',
      headers: { Authorization: '' },
    });
    const { ticket, CSRFPreventionToken } = login.data as { ticket: string; CSRFPreventionToken: string };
    assert.match(ticket, /^PVE:root@pam:[0-9A-F]{8}::/);
    const cookie = { Authorization: '', Cookie: `PVEAuthCookie=${encodeURIComponent(ticket)}` };
    assert.equal((await api.call('GET', '/version', { headers: cookie })).status, 200);
    const noCsrf = await api.call('POST', '/nodes/pve/qemu/100/config', { form: 'description=x', headers: cookie });
    assert.deepEqual(
      [noCsrf.status, noCsrf.reason, noCsrf.data],
      [401, 'Permission denied - invalid csrf token', null],
    );
    const withCsrf = await api.call('PUT', '/nodes/pve/qemu/100/config', {
      form: 'description=x',
      headers: { ...cookie, CSRFPreventionToken },
    });
    assert.equal(withCsrf.status, 200);
    const wrong = await api.call('POST', '/access/ticket', {
      form: 'username=root@pam&password=nope',
      headers: { Authorization: '' },
    });
    assert.deepEqual([wrong.status, wrong.reason], [401, 'authentication failure']);
    const viaHeader = await api.call('GET', '/version', { headers: { Authorization: `PVEAuthCookie=${ticket}` } });
    assert.equal(viaHeader.status, 200, 'a ticket in the Authorization header works too');
    const realm = await api.call('POST', '/access/ticket', {
      form: 'username=root&realm=pam&password=secret-pw',
      headers: { Authorization: '' },
    });
    assert.equal((realm.data as { username: string }).username, 'root@pam');
    const forged = await api.call('GET', '/version', {
      headers: { Authorization: '', Cookie: 'PVEAuthCookie=PVE:root@pam:00000000::forged' },
    });
    assert.deepEqual([forged.status, forged.reason], [401, 'permission denied - invalid PVE ticket']);
  });
});

describe('two nodes: local and shared storage, cross-node clones, migration, the lagging cluster view', () => {
  let sim: RunningSimulator;
  let api: ReturnType<typeof caller>;

  before(async () => {
    sim = await startSimulator({
      latencyScale: 0.01,
      statusLagMs: 50_000,
      seed: {
        nodes: [{ node: 'alpha' }, { node: 'beta' }],
        storages: [
          {
            storage: 'local-lvm',
            type: 'lvmthin',
            content: ['images'],
            items: [{ volid: 'local-lvm:base-9000-disk-0', content: 'images', size: 1024 ** 3 }],
          },
          {
            storage: 'nfs',
            type: 'nfs',
            content: ['images'],
            items: [{ volid: 'nfs:9100/base-9100-disk-0.qcow2', content: 'images', size: 1024 ** 3 }],
          },
          { storage: 'alpha-only', type: 'zfspool', content: ['images'], nodes: ['alpha'] },
        ],
        vms: [
          {
            vmid: 9000,
            name: 'local-tmpl',
            node: 'alpha',
            template: true,
            config: { scsi0: 'local-lvm:base-9000-disk-0,size=1G' },
          },
          {
            vmid: 9100,
            name: 'shared-tmpl',
            node: 'alpha',
            template: true,
            config: { scsi0: 'nfs:9100/base-9100-disk-0.qcow2,size=1G' },
          },
        ],
      },
    });
    api = caller(sim);
  });

  after(async () => {
    await api.close();
    await sim.close();
  });

  test('a template on local storage cannot be cloned to another node; on shared storage it can', async () => {
    const local = await api.call('POST', '/nodes/alpha/qemu/9000/clone', { form: 'newid=200&target=beta&full=1' });
    assert.deepEqual([local.status, local.reason], [500, "can't clone VM to node 'beta' (VM uses local storage)"]);
    const toLocal = await api.call('POST', '/nodes/alpha/qemu/9100/clone', {
      form: 'newid=200&target=beta&full=1&storage=local-lvm',
    });
    assert.equal(toLocal.reason, "can't clone to non-shared storage 'local-lvm'");
    const upid = (await api.call('POST', '/nodes/alpha/qemu/9100/clone', { form: 'newid=200&target=beta&name=shared' }))
      .data;
    // During the clone the placeholder sits on the source node; the config moves to the target at the end.
    const during = (await api.call('GET', '/cluster/resources', { query: 'type=vm' })).data as Array<
      Record<string, unknown>
    >;
    assert.deepEqual(
      during.find((r) => r.vmid === 200),
      { id: 'qemu/200', type: 'qemu', vmid: 200, node: 'alpha', template: 0, lock: 'clone', status: 'unknown' },
    );
    assert.equal(await api.task(upid), 'OK');
    assert.equal((await api.call('GET', '/nodes/beta/qemu/200/config')).status, 200);
    assert.equal(
      (await api.call('GET', '/nodes/alpha/qemu/200/config')).reason,
      "Configuration file 'nodes/alpha/qemu-server/200.conf' does not exist",
    );
    // pvestatd has not published the new VM yet: no name in the cluster view, though its config has one.
    const after = (await api.call('GET', '/cluster/resources', { query: 'type=vm' })).data as Array<
      Record<string, unknown>
    >;
    assert.equal(after.find((r) => r.vmid === 200)?.name, undefined);
  });

  test('clone locally then migrate offline: local disks move; a linked clone cannot', async () => {
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/alpha/qemu/9000/clone', { form: 'newid=300&name=full&full=1' })).data,
      ),
      'OK',
    );
    assert.equal(
      await api.task((await api.call('POST', '/nodes/alpha/qemu/300/migrate', { form: 'target=beta' })).data),
      'OK',
    );
    const moved = (await api.call('GET', '/nodes/beta/storage/local-lvm/content')).data as Array<{ volid: string }>;
    assert.ok(moved.some((v) => v.volid === 'local-lvm:vm-300-disk-0'));
    const alphaLeft = (await api.call('GET', '/nodes/alpha/storage/local-lvm/content')).data as Array<{
      volid: string;
    }>;
    assert.ok(!alphaLeft.some((v) => v.volid === 'local-lvm:vm-300-disk-0'));
    assert.equal(
      await api.task((await api.call('POST', '/nodes/alpha/qemu/9000/clone', { form: 'newid=301&name=linked' })).data),
      'OK',
    );
    const linked = await api.task(
      (await api.call('POST', '/nodes/alpha/qemu/301/migrate', { form: 'target=beta' })).data,
    );
    assert.equal(
      linked,
      "can't migrate 'local-lvm:base-9000-disk-0/vm-301-disk-0' as it's a clone of 'base-9000-disk-0'",
    );
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/alpha/qemu/9000/clone', { form: 'newid=302&name=hot&full=1' })).data,
      ),
      'OK',
    );
    assert.equal(await api.task((await api.call('POST', '/nodes/alpha/qemu/302/status/start')).data), 'OK');
    const running = await api.call('POST', '/nodes/alpha/qemu/302/migrate', { form: 'target=beta' });
    assert.equal(running.reason, "can't migrate running VM without --online");
    const noNode = await api.call('POST', '/nodes/alpha/qemu/300/migrate', { form: 'target=gamma' });
    assert.equal(noNode.reason, "no such cluster node 'gamma'");
    assert.equal(
      await api.task(
        (await api.call('POST', '/nodes/alpha/qemu/9000/clone', { form: 'newid=303&full=1&storage=alpha-only' })).data,
      ),
      'OK',
    );
    const noStorage = await api.call('POST', '/nodes/alpha/qemu/303/migrate', { form: 'target=beta' });
    assert.equal(noStorage.reason, "storage 'alpha-only' is not available on node 'beta'");
    const definitions = (await api.call('GET', '/storage')).data as Array<{ storage: string; shared?: number }>;
    assert.deepEqual(
      definitions.map((d) => [d.storage, d.shared ?? 0]),
      [
        ['local-lvm', 0],
        ['nfs', 1],
        ['alpha-only', 0],
      ],
    );
    const self = await api.call('POST', '/nodes/alpha/qemu/301/migrate', { form: 'target=alpha' });
    assert.deepEqual(self.errors, { target: 'target is local node.' });
  });
});

test('failed logins are answered after 3 s × the latency scale, as pveproxy delays them', async () => {
  const sim = await startSimulator({ latencyScale: 0.1, tls: false });
  try {
    const started = performance.now();
    const response = await globalThis.fetch(`${sim.url}/api2/json/version`, {
      headers: { Authorization: `PVEAPIToken=${sim.tokenId}=wrong` },
    });
    const elapsed = performance.now() - started;
    assert.deepEqual([response.status, response.statusText, await response.text()], [401, 'invalid token value!', '']);
    assert.ok(elapsed >= 290, `answered after ${Math.round(elapsed)} ms`);
  } finally {
    await sim.close();
  }
});
