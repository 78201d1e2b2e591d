import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { loadSeedFile, PveSimulator } from '../../src/proxmox/simulator/index.ts';
import { repoRoot } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-pve-seed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function seedFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('the seed example in docs/proxmox-simulator.md loads and builds the state it describes', async () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'proxmox-simulator.md'), 'utf8');
  const block = /## Seed file\n\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'the docs carry a YAML seed example');
  const sim = new PveSimulator({ seed: await loadSeedFile(seedFile('doc.yaml', block)), tls: false });
  assert.deepEqual(
    sim.state.nodes.map((n) => n.node),
    ['alpha', 'beta'],
  );
  assert.equal(sim.state.vms[0].template, true);
  assert.equal(sim.state.users[0].tokens[0].secret, 'lab-secret-123456');
  assert.ok(sim.state.users[0].privileges['/'].includes('VM.Clone'), 'Administrator expands to every privilege');
  assert.equal(sim.state.users[1].tokens[0].privsep, true);
  assert.equal(sim.state.users[0].password, 'lab-password');
  assert.deepEqual(
    sim.state.storages.map((st) => [st.storage, st.shared, st.nodes]),
    [
      ['tank', false, undefined],
      ['nas', true, ['alpha', 'beta']],
    ],
    'zfspool is local, nfs shared',
  );
  assert.equal(sim.state.storages[0].items[0].node, 'beta', "a local volume lives on its owner VM's node");
  assert.deepEqual(sim.state.nodes[1].bridges, ['vmbr0', 'vmbr1']);
  assert.deepEqual(sim.state.nodes[0].bridges, ['vmbr0']);
});

test('seed errors name the file and what is wrong', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown-key.yaml', 'nodez: []\n', /Unknown key "nodez" in simulator seed/],
    ['not-a-map.yaml', '- node: a\n', /must be a mapping/],
    [
      'bad-vm-node.yaml',
      'nodes: [{ node: pve }]\nvms: [{ vmid: 100, name: x, node: other }]\n',
      /VM 100 is on node "other", which the seed does not define/,
    ],
    ['dup-vmid.yaml', 'vms: [{ vmid: 100, name: a }, { vmid: 100, name: b }]\n', /vmid 100 is used twice/],
    ['low-vmid.yaml', 'vms: [{ vmid: 99, name: a }]\n', /vmid 99 must be an integer >= 100/],
    [
      'bad-priv.yaml',
      'users: [{ userid: a@pve, privileges: { "/": [VM.Teleport] } }]\n',
      /unknown privilege "VM.Teleport" on \//,
    ],
    ['bad-user.yaml', 'users: [{ userid: nobody }]\n', /user id "nobody" must be user@realm/],
    ['bad-node.yaml', 'nodes: [{ node: "bad_name" }]\n', /node name "bad_name" is not a valid host name/],
  ];
  for (const [name, text, message] of cases) {
    const path = seedFile(name, text);
    await assert.rejects(loadSeedFile(path), (e: unknown) => {
      assert.ok(e instanceof StrataError, name);
      assert.match(`${e.message} ${e.location?.file ?? ''}`, message);
      assert.ok(e.message.includes(path) || e.location?.file === path, `${name}: names the file`);
      return true;
    });
  }
  await assert.rejects(loadSeedFile(join(dir, 'missing.yaml')), /Cannot read simulator seed file .*missing\.yaml/);
});
