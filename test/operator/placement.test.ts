// What the stricter simulator showed in strata: cross-node clones on local storage, clones still in flight when a run
// dies, lock conflicts that PVE reports as failed tasks, and /cluster/resources lagging behind a new VM.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SimSeed } from '../../src/proxmox/simulator/index.ts';
import { flat, type Lab, manifest, startLab } from './helpers.ts';

type Vm = { vmid: number; name: string; node: string; template: boolean; config: Record<string, unknown> };
type Storage = { storage: string; items: Array<{ volid: string; node?: string }> };

/** Two nodes, each with its own local-lvm; the template lives on alpha only (optionally a shared NFS too). */
function twoNodes(templateStorage: 'local-lvm' | 'nfs'): SimSeed {
  return {
    nodes: [{ node: 'alpha' }, { node: 'beta' }],
    storages: [
      {
        storage: 'local-lvm',
        type: 'lvmthin',
        content: ['images'],
        items:
          templateStorage === 'local-lvm'
            ? [{ volid: 'local-lvm:base-9000-disk-0', content: 'images', size: 3 * 1024 ** 3, node: 'alpha' }]
            : [],
      },
      {
        storage: 'nfs',
        type: 'nfs',
        content: ['images'],
        items:
          templateStorage === 'nfs'
            ? [{ volid: 'nfs:9000/base-9000-disk-0.qcow2', content: 'images', size: 3 * 1024 ** 3 }]
            : [],
      },
    ],
    vms: [
      {
        vmid: 9000,
        name: 'debian-12-cloud',
        node: 'alpha',
        template: true,
        config: {
          agent: 1,
          scsi0:
            templateStorage === 'nfs'
              ? 'nfs:9000/base-9000-disk-0.qcow2,size=3G'
              : 'local-lvm:base-9000-disk-0,size=3G',
          net0: 'virtio=BC:24:11:00:90:00,bridge=vmbr0',
        },
      },
    ],
  };
}

const ONE = manifest(`schema_version: 2
name: place
settings: { verify_ssh: false }
nodes:
  - { name: a, type: vm, preset: small, image: debian-12 }
`);

function vms(lab: Lab): Vm[] {
  return (lab.sim.state as { vms: Vm[] }).vms.filter((v) => !v.template);
}

function requests(lab: Lab): Array<{ method: string; path: string; status: number | null }> {
  return (lab.sim.state as { requests: Array<{ method: string; path: string; status: number | null }> }).requests;
}

test('two nodes, local storage: the template is cloned on its node and migrated; `target` is what PVE refuses', async () => {
  const lab = await startLab({ seed: twoNodes('local-lvm') }, { node: 'beta', storage: 'local-lvm' });
  try {
    const created = await lab.run('create', ONE);
    assert.equal(created.success, true, created.error);
    const [vm] = vms(lab);
    assert.equal(vm.node, 'beta', 'the VM ends on the stack node');
    const disks = (lab.sim.state as { storages: Storage[] }).storages.find((s) => s.storage === 'local-lvm')?.items;
    const disk = disks?.find((i) => i.volid === String(vm.config.scsi0).split(',')[0]);
    assert.equal(disk?.node, 'beta', 'its disk moved with it to beta');
    assert.ok(requests(lab).some((r) => r.method === 'POST' && r.path === `/nodes/alpha/qemu/${vm.vmid}/migrate`));
    assert.ok(!requests(lab).some((r) => r.method === 'POST' && r.path.endsWith('/clone') && r.status !== 200));
    assert.equal((await lab.run('destroy', ONE)).success, true);
    assert.equal(vms(lab).length, 0);
  } finally {
    await lab.close();
  }
  const forced = await startLab({ seed: twoNodes('local-lvm') }, { node: 'beta', cross_node: 'target' });
  try {
    const refused = await forced.run('create', ONE);
    assert.equal(refused.success, false);
    assert.match(refused.nodes[0].error ?? '', /HTTP 500 can't clone VM to node 'beta' \(VM uses local storage\)/);
    assert.equal(vms(forced).length, 0, 'PVE refused before any VM existed');
  } finally {
    await forced.close();
  }
});

test('two nodes, shared storage: the clone goes straight to the target node (no migration)', async () => {
  const lab = await startLab({ seed: twoNodes('nfs') }, { node: 'beta' });
  try {
    const created = await lab.run('create', ONE);
    assert.equal(created.success, true, created.error);
    assert.equal(vms(lab)[0].node, 'beta');
    const clone = requests(lab).find((r) => r.method === 'POST' && r.path.endsWith('/clone'));
    assert.equal(clone?.path, '/nodes/alpha/qemu/9000/clone');
    assert.ok(!requests(lab).some((r) => r.path.endsWith('/migrate')));
  } finally {
    await lab.close();
  }
});

test('a run killed while its clone is in flight: the re-run waits for the placeholder and leaves one VM', async () => {
  // Clone 3 s × 0.2 = 600 ms (full clone 1.2 s): long enough to stop the run while PVE shows only `lock: clone`.
  const lab = await startLab({ latencyScale: 0.2, bootDelayMs: 0 });
  try {
    const stop = new AbortController();
    const placeholderSeen = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (vms(lab).some((v) => Object.keys(v.config).length === 0)) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const first = lab.run('create', ONE, { signal: stop.signal, pollMs: 20 });
    await placeholderSeen;
    stop.abort();
    assert.equal((await first).success, false);
    const again = await lab.run('create', ONE, { pollMs: 20 });
    assert.equal(again.success, true, again.error);
    assert.deepEqual(
      vms(lab).map((v) => v.name),
      ['place-a'],
      'one VM: the in-flight clone was waited for and judged, not duplicated',
    );
  } finally {
    await lab.close();
  }
});

test('a lock conflict fails the destroy task on PVE: destroy retries it and succeeds', async () => {
  const lab = await startLab();
  try {
    const m = flat(1);
    assert.equal((await lab.run('create', m)).success, true);
    const vmid = vms(lab)[0].vmid;
    lab.sim.inject({
      kind: 'task-failure',
      taskType: 'qmdestroy',
      exitstatus: `VM ${vmid} is locked (backup)`,
      times: 2,
    });
    const gone = await lab.run('destroy', m);
    assert.equal(gone.success, true, gone.error);
    assert.equal(vms(lab).length, 0);
    const destroys = requests(lab).filter((r) => r.method === 'DELETE' && r.path === `/nodes/pve/qemu/${vmid}`);
    assert.equal(destroys.length, 3, 'two locked attempts, then the one that went through');
  } finally {
    await lab.close();
  }
});

test('lock conflicts on config and start tasks are retried too; other task failures are not', async () => {
  const lab = await startLab();
  try {
    lab.sim.inject({ kind: 'task-failure', taskType: 'qmconfig', exitstatus: 'VM 100 is locked (snapshot)' });
    lab.sim.inject({
      kind: 'task-failure',
      taskType: 'qmstart',
      exitstatus: "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout",
    });
    const created = await lab.run('create', ONE);
    assert.equal(created.success, true, created.error);
    const tasks = (lab.sim.state as { tasks: Array<{ type: string; exitstatus?: string }> }).tasks;
    assert.deepEqual(
      tasks.filter((t) => t.type === 'qmconfig' || t.type === 'qmstart').map((t) => [t.type, t.exitstatus === 'OK']),
      [
        ['qmconfig', false],
        ['qmconfig', true],
        ['qmstart', false],
        ['qmstart', true],
      ],
    );
    assert.equal((await lab.run('destroy', ONE)).success, true);
    lab.sim.inject({ kind: 'task-failure', taskType: 'qmstart', exitstatus: 'start failed: QEMU exited with code 1' });
    const failed = await lab.run('create', ONE);
    assert.equal(failed.success, false);
    assert.match(failed.nodes[0].error ?? '', /start failed: QEMU exited with code 1/);
  } finally {
    await lab.close();
  }
});

test('cluster/resources lags behind new VMs (no name yet): re-run and destroy still find them by their config', async () => {
  // 100 s × 0.01: a VM's name appears in /cluster/resources 1 s after it was made, as pvestatd's would.
  const lab = await startLab({ latencyScale: 0.01, statusLagMs: 100_000 });
  try {
    assert.equal((await lab.run('create', ONE, { pollMs: 10 })).success, true);
    const rows = (
      await (async () => {
        const { PveClient } = await import('../../src/proxmox/client.ts');
        const client = new PveClient({
          url: lab.sim.url,
          tokenId: lab.sim.tokenId,
          tokenSecret: lab.sim.tokenSecret,
          fingerprint: lab.sim.fingerprint,
        });
        try {
          return await client.listVms();
        } finally {
          await client.close();
        }
      })()
    ).filter((v) => !v.template);
    assert.deepEqual(
      rows.map((r) => [r.name, r.status]),
      [['', 'unknown']],
      'pvestatd has not published the new VM yet',
    );
    const again = await lab.run('create', ONE, { pollMs: 10 });
    assert.equal(again.success, true, again.error);
    assert.equal(vms(lab).length, 1, 'not cloned twice');
    const gone = await lab.run('destroy', ONE, { pollMs: 10 });
    assert.equal(gone.success, true, gone.error);
    assert.equal(vms(lab).length, 0, 'found and destroyed although its name was not published');
  } finally {
    await lab.close();
  }
});
