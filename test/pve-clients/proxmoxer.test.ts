// proxmoxer 1.2 (Debian's python3-proxmoxer) against the simulator: a full VM lifecycle and PVE's error cases, each
// asserted as PVE's API schema and qemu-server's code define them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Pve, run, startPve } from './helpers.ts';

const SCRIPT = join(import.meta.dirname, 'fixtures', 'proxmoxer_lifecycle.py');

async function lifecycle(pve: Pve): Promise<Record<string, unknown>> {
  const [user, tokenName] = pve.sim.tokenId.split('!');
  // Debian's interpreter: the one that has python3-proxmoxer and python3-requests.
  const ran = await run('/usr/bin/python3', [SCRIPT], {
    input: JSON.stringify({
      host: pve.host,
      user,
      token_name: tokenName,
      token_value: pve.sim.tokenSecret,
      password: pve.sim.password,
      ca: pve.caFile,
    }),
    timeoutMs: 90_000,
  });
  assert.equal(ran.code, 0, `proxmoxer script failed:\n${ran.stderr}\n${ran.stdout}`);
  return JSON.parse(ran.stdout) as Record<string, unknown>;
}

test('proxmoxer: clone, configure, resize, start, guest agent, shutdown, delete, and PVE errors', async () => {
  // A clone of no duration ends at its second status poll, not on a timer: the script reads the placeholder and starts
  // the VM being cloned before it polls the clone, so both reach the simulator while the clone runs, however busy the
  // machine (unpolled, it would end after a minute).
  const pve = await startPve({ taskMs: { qmclone: 0 }, unpolledTaskMs: 60_000 });
  try {
    const out = await lifecycle(pve);
    assert.equal(out.version, '8.4.1');
    assert.equal(out.upid_type, 'qmclone');
    // qemu-server's clone worker writes "# qmclone temporary file\nlock: clone\n" before copying anything.
    assert.deepEqual(out.placeholder, { lock: 'clone' });
    for (const step of ['clone', 'config', 'resize', 'start', 'shutdown', 'shutdown_again', 'delete']) {
      assert.equal(out[step], 'OK', `${step} task`);
    }
    // A NIC without a MAC gets one (print_net); `storage:size` allocates a volume; sshkeys stay URL-encoded.
    assert.match(String(out.net1), /^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$/);
    assert.match(String(out.scsi1), /^local-lvm:vm-\d+-disk-1,size=2G$/);
    assert.equal(out.sshkeys, 'ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIGx%20ops%40laptop');
    assert.match(String(out.scsi0), /,size=4G$/);
    assert.deepEqual(out.agent_errors_while_booting, ['QEMU guest agent is not running']);
    assert.deepEqual(out.ipv4, ['127.0.0.1', '10.1.2.3']);
    assert.equal(out.osinfo, 'debian');
    assert.deepEqual(out.ping, { result: {} });
    // The first id /cluster/nextid hands out is 100.
    assert.deepEqual(out.running_delete, { status: 500, reason: 'VM 100 is running - destroy failed', errors: null });
    assert.equal(out.status, 'stopped');
    assert.equal((out.after_delete as { status: number }).status, 500);
    assert.match(
      String((out.after_delete as { reason: string }).reason),
      /^Configuration file 'nodes\/pve\/qemu-server\/\d+\.conf' does not exist$/,
    );
    // A qmclone task carries the source's id (9000), so the new VM's task list starts with its first config.
    assert.deepEqual(out.tasks_listed, ['qmconfig', 'qmdestroy', 'qmshutdown', 'qmstart', 'resize']);

    // Inside the task, not before the UPID (qemu-server forks first, then vm_start loads the config).
    assert.equal(out.missing_start, "Configuration file 'nodes/pve/qemu-server/555.conf' does not exist");
    assert.equal(out.template_start, "you can't start a vm if it's a template");
    assert.equal(out.start_while_cloning, 'VM 602 is locked (clone)');
    assert.equal(out.shrink, 'shrinking disks is not supported');
    // Before the UPID: JSONSchema's parameter verification (additionalProperties 0; booleans are 0 or 1). proxmoxer
    // reads only `data` of an error body, so the per-parameter messages are checked in the simulator's request log.
    const verification = { status: 400, reason: 'Parameter verification failed.', errors: null };
    assert.deepEqual(out.unknown_param, verification);
    assert.deepEqual(out.yes_boolean, verification);
    assert.deepEqual(out.unknown_task, verification);
    const errors = pve
      .state()
      .requests.filter((r) => r.status === 400)
      .map((r) => r.error);
    assert.deepEqual(errors, [
      'Parameter verification failed. {"bogus":"property is not defined in schema and the schema does not allow additional properties"}',
      `Parameter verification failed. {"full":"type check ('boolean') failed - got 'yes'"}`,
      'Parameter verification failed. {"upid":"no such task"}',
    ]);
    // pveproxy answers a failed login with the reason and no body (proxmoxer then reports the empty content).
    assert.deepEqual(out.bad_token, { status: 401, reason: 'invalid token value!', errors: '' });
    // Password login: the ticket works for writes with its CSRF token, is refused without one.
    assert.equal(out.ticket_write, 'OK');
    assert.deepEqual(out.no_csrf, { status: 401, reason: 'Permission denied - invalid csrf token' });
    assert.match(String((out.bad_password as { auth: string }).auth), /Couldn't authenticate user/);
    const tickets = pve.state().requests.filter((r) => r.path === '/access/ticket');
    assert.deepEqual(
      tickets.map((r) => r.status),
      [200, 401],
    );
  } finally {
    await pve.close();
  }
});
