// Packer 1.6.6's built-in proxmox-clone builder (Debian's packer) against the simulator: it logs in with a password
// ticket, clones, configures, starts, shuts down and converts the VM to a template. The simulated guests run no SSH,
// so the build uses `communicator: none` (Packer then needs neither SSH nor the guest agent's address).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Pve, run, startPve } from './helpers.ts';

function template(pve: Pve, overrides: Record<string, unknown> = {}): string {
  const file = join(pve.dir, `packer-${Date.now()}.json`);
  const builder = {
    type: 'proxmox-clone',
    proxmox_url: `${pve.sim.url}/api2/json`,
    insecure_skip_tls_verify: true,
    username: pve.sim.user,
    password: pve.sim.password,
    node: 'pve',
    clone_vm: 'debian-12-cloud',
    vm_name: 'packer-build',
    vm_id: 4000,
    template_name: 'golden-image',
    template_description: 'built by packer',
    cores: 2,
    memory: 2048,
    communicator: 'none',
    network_adapters: [{ model: 'virtio', bridge: 'vmbr0' }],
    qemu_agent: true,
    cloud_init: true,
    cloud_init_storage_pool: 'local-lvm',
    ...overrides,
  };
  writeFileSync(file, JSON.stringify({ builders: [builder] }));
  return file;
}

function packer(pve: Pve, file: string) {
  return run('packer', ['build', '-color=false', file], {
    cwd: pve.dir,
    env: { ...process.env, PACKER_CACHE_DIR: join(pve.dir, 'cache'), CHECKPOINT_DISABLE: '1', HOME: pve.dir },
    timeoutMs: 120_000,
  });
}

test('packer proxmox-clone: ticket login, clone, configure, start, shutdown, template (communicator none)', async () => {
  const pve = await startPve();
  try {
    const built = await packer(pve, template(pve));
    assert.equal(built.code, 0, built.stdout + built.stderr);
    assert.match(built.stdout, /A template was created: 4000/);
    const state = pve.state();
    const vm = state.vms.find((v) => v.vmid === 4000);
    assert.ok(vm, 'VM 4000 exists');
    assert.equal(vm.template, true);
    assert.equal(vm.name, 'golden-image');
    assert.equal(vm.config.description, 'built by packer');
    assert.equal(vm.status, 'stopped');
    // template_create turned the full clone's disk into a base volume; the cloud-init drive was added afterwards.
    assert.match(String(vm.config.scsi0), /^local-lvm:base-4000-disk-0,/);
    assert.match(String(vm.config.ide2 ?? vm.config.ide0 ?? ''), /^local-lvm:vm-4000-cloudinit,media=cdrom/);
    const calls = state.requests.map((r) => `${r.method} ${r.path.replace(/UPID:[^/]+/, 'UPID')} ${r.status}`);
    for (const call of [
      'POST /access/ticket 200',
      'POST /nodes/pve/qemu/9000/clone 200',
      'POST /nodes/pve/qemu/4000/config 200',
      'POST /nodes/pve/qemu/4000/status/start 200',
      'POST /nodes/pve/qemu/4000/status/shutdown 200',
      'POST /nodes/pve/qemu/4000/template 200',
    ]) {
      assert.ok(calls.includes(call), `${call} in:\n${calls.join('\n')}`);
    }
    assert.deepEqual(
      state.requests.filter((r) => (r.status ?? 0) >= 400),
      [],
      'no request was refused',
    );
    const tasks = state.tasks.filter((t) => t.id === '4000' || t.type === 'qmclone').map((t) => [t.type, t.exitstatus]);
    assert.deepEqual(tasks, [
      ['qmclone', 'OK'],
      ['qmconfig', 'OK'],
      ['qmstart', 'OK'],
      ['qmshutdown', 'OK'],
      ['qmtemplate', 'OK'],
      ['qmconfig', 'OK'],
    ]);
    // Tickets are user logins: the tasks carry the user, not a token.
    assert.ok(state.tasks.every((t) => t.user === 'root@pam'));
  } finally {
    await pve.close();
  }
});

test('packer proxmox-clone: a wrong password and a missing clone source fail the build with PVE errors', async () => {
  const pve = await startPve();
  try {
    const denied = await packer(pve, template(pve, { password: 'wrong' }));
    assert.notEqual(denied.code, 0);
    assert.match(denied.stdout + denied.stderr, /401 authentication failure/);
    const missing = await packer(pve, template(pve, { clone_vm: 'no-such-template' }));
    assert.notEqual(missing.code, 0);
    assert.match(missing.stdout + missing.stderr, /no-such-template/);
    assert.deepEqual(
      pve.state().vms.map((v) => v.vmid),
      [9000],
      'nothing was created',
    );
  } finally {
    await pve.close();
  }
});
