// Ansible's community.general proxmox modules (Debian's `ansible`: community.general 6.6 over proxmoxer) against the
// simulator: clone, configure, resize, start, guest agent, task list, shutdown, delete, and PVE's refusals.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run, startPve } from './helpers.ts';

const PLAYBOOK = join(import.meta.dirname, 'fixtures', 'ansible_lifecycle.yml');

test('ansible proxmox_kvm / proxmox_disk / proxmox_tasks_info: a full lifecycle and PVE errors', async () => {
  const pve = await startPve();
  try {
    const [user, tokenId] = pve.sim.tokenId.split('!');
    const out = join(pve.dir, 'out.json');
    const vars = {
      api_host: pve.host,
      api_user: user,
      api_token_id: tokenId,
      api_token_secret: pve.sim.tokenSecret,
      out,
      ansible_python_interpreter: '/usr/bin/python3',
    };
    const ran = await run(
      'ansible-playbook',
      ['-i', 'localhost,', '-c', 'local', '-e', JSON.stringify(vars), PLAYBOOK],
      {
        cwd: pve.dir,
        env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: join(pve.dir, 'tmp'), HOME: pve.dir },
        timeoutMs: 240_000,
      },
    );
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    const seen = JSON.parse(readFileSync(out, 'utf8')) as Record<string, Record<string, unknown>>;
    assert.equal(seen.clone.changed, true);
    assert.match(String(seen.clone.msg), /cloned from vm with vmid 9000/);
    assert.equal(seen.clone_again.changed, false, 'a VM of that name exists: nothing is cloned');
    assert.equal(seen.configure.changed, true);
    assert.equal(seen.resize.changed, true);
    assert.equal(seen.start.changed, true);
    const eth0 = (
      seen.agent as { data: { result: Array<{ name: string; 'ip-addresses': Array<{ 'ip-address': string }> }> } }
    ).data.result.find((i) => i.name === 'eth0');
    assert.ok(eth0?.['ip-addresses'].some((a) => a['ip-address'] === '10.5.0.9'));
    assert.ok((seen.tasks as unknown as string[]).includes('qmclone'));
    assert.equal(seen.stop.changed, true);
    assert.match(String(seen.current.msg), /is stopped/);
    assert.equal(seen.bad_cpu.failed, true);
    assert.match(String(seen.bad_cpu.msg), /400 Bad Request: Parameter verification failed/);
    assert.equal(seen.bad_token.failed, true);
    assert.match(String(seen.bad_token.msg), /401 Unauthorized: invalid token value!/);
    assert.equal(seen.delete.changed, true);

    const state = pve.state();
    assert.deepEqual(
      state.vms.map((v) => v.vmid),
      [9000],
      'the VM is gone',
    );
    const cpuRefusal = state.requests.find((r) => r.status === 400)?.error ?? '';
    assert.match(cpuRefusal, /Built-in cputype 'nosuchcpu' is not defined \(missing 'custom-' prefix\?\)/);
    const resize = state.tasks.find((t) => t.type === 'resize');
    assert.equal(resize?.exitstatus, 'OK');
    // Ansible's update sends name/cores/memory/ipconfig0/sshkeys/tags in one PUT; PVE keeps sshkeys URL-encoded.
    const update = state.requests.find((r) => r.method === 'PUT' && r.path === '/nodes/pve/qemu/500/config');
    assert.equal(update?.status, 200);
  } finally {
    await pve.close();
  }
});
