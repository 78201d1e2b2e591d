// The npm `proxmox-api` client (generated from PVE's API schema) against the simulator, with a token and with a
// password ticket: a full VM lifecycle, task polling, the guest agent, and PVE's refusals as the client reports them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import proxmoxApi from 'proxmox-api';
import { Agent, fetch } from 'undici';
import { type Pve, startPve } from './helpers.ts';

/** The client with the simulator's CA trusted for its own requests only (no process-wide TLS setting). */
function client(pve: Pve, auth: { tokenID: string; tokenSecret: string } | { username: string; password: string }) {
  const dispatcher = new Agent({ connect: { ca: pve.sim.ca } });
  const trusted = ((url: string, init: Record<string, unknown>) => fetch(url, { ...init, dispatcher })) as never;
  return { api: proxmoxApi({ host: '127.0.0.1', port: pve.port, fetch: trusted, ...auth }), dispatcher };
}

async function waitTask(api: ReturnType<typeof proxmoxApi>, upid: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const status = await api.nodes.$('pve').tasks.$(upid).status.$get();
    if (status.status === 'stopped') return String(status.exitstatus);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`task ${upid} did not end`);
}

test('proxmox-api (npm): clone, configure, resize, start, agent, shutdown, delete with a token', async () => {
  const pve = await startPve();
  const { api, dispatcher } = client(pve, { tokenID: pve.sim.tokenId, tokenSecret: pve.sim.tokenSecret });
  try {
    const node = api.nodes.$('pve');
    const vmid = Number(await api.cluster.nextid.$get());
    const upid = await node.qemu.$(9000).clone.$post({ newid: vmid, name: 'npm-vm', full: true });
    assert.equal(await waitTask(api, upid), 'OK');
    assert.equal(await waitTask(api, (await node.qemu.$(vmid).config.$post({ cores: 2, agent: '1' })) as string), 'OK');
    assert.equal(await waitTask(api, await node.qemu.$(vmid).resize.$put({ disk: 'scsi0', size: '5G' })), 'OK');
    assert.equal((await node.qemu.$(vmid).config.$get()).scsi0, 'local-lvm:vm-100-disk-0,size=5G');
    assert.equal(await waitTask(api, await node.qemu.$(vmid).status.start.$post()), 'OK');
    let result: unknown;
    for (let i = 0; i < 200 && !result; i++) {
      try {
        result = (await node.qemu.$(vmid).agent['get-osinfo'].$get()).result;
      } catch (error) {
        assert.match(String(error), /500 QEMU guest agent is not running/);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.equal((result as { id: string }).id, 'debian');
    const listed = (await node.qemu.$get()).find((v) => v.vmid === vmid);
    assert.equal(listed?.status, 'running');
    assert.ok(Number(listed?.maxdisk) === 5 * 1024 ** 3 && Number(listed?.cpus) === 2, JSON.stringify(listed));
    assert.equal(await waitTask(api, await node.qemu.$(vmid).status.shutdown.$post({ timeout: 30 })), 'OK');
    assert.equal(await waitTask(api, await node.qemu.$(vmid).$delete({ purge: true })), 'OK');
    assert.deepEqual(
      pve.state().vms.map((v) => v.vmid),
      [9000],
    );

    // PVE's refusals, as this client words them.
    await assert.rejects(
      node.qemu.$(9000).clone.$post({ newid: 99 }),
      /return Error 400 Parameter verification failed.*"newid":"value must have a minimum value of 100"/,
    );
    // vm_reboot checks before it forks: a VM that is not running is refused at once.
    await assert.rejects(node.qemu.$(9000).status.reboot.$post(), /return Error 500 VM 9000 not running/);
    await assert.rejects(
      node.qemu.$(vmid).status.current.$get(),
      /return Error 500 Configuration file 'nodes\/pve\/qemu-server\/100.conf' does not exist/,
    );
    const denied = client(pve, { tokenID: pve.sim.tokenId, tokenSecret: '00000000-0000-0000-0000-000000000000' });
    await assert.rejects(denied.api.version.$get(), /return Error 401 invalid token value!/);
    await denied.dispatcher.close();
  } finally {
    await dispatcher.close();
    await pve.close();
  }
});

test('proxmox-api (npm): a password login gets a ticket and sends the CSRF token on writes', async () => {
  const pve = await startPve();
  const { api, dispatcher } = client(pve, { username: pve.sim.user, password: pve.sim.password });
  try {
    const upid = await api.nodes.$('pve').qemu.$(9000).clone.$post({ newid: 700, name: 'ticket-vm' });
    assert.equal(await waitTask(api, upid), 'OK');
    assert.equal(pve.state().tasks.at(-1)?.user, 'root@pam', 'a ticket is the user itself, not a token');
    const wrong = client(pve, { username: pve.sim.user, password: 'wrong' });
    // PVE answers 401 "authentication failure"; this client turns a failed login into its own message.
    await assert.rejects(
      wrong.api.version.$get(),
      /Auth https:\/\/127\.0\.0\.1:\d+\/api2\/json\/access\/ticket Failed!/,
    );
    await wrong.dispatcher.close();
    assert.deepEqual(
      pve
        .state()
        .requests.filter((r) => r.path === '/access/ticket')
        .map((r) => r.status),
      [200, 401],
    );
  } finally {
    await dispatcher.close();
    await pve.close();
  }
});
