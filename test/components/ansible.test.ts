// Drives Debian's ansible-playbook with a local connection (no SSH, no network).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inventoryFromValue, runAnsible } from '../../src/components/ansible/index.ts';
import { runTerraform } from '../../src/components/terraform/runner.ts';
import type { ComponentInstance } from '../../src/data/instance.ts';
import { secretTempRoot } from '../../src/secrets/tempfile.ts';
import { renderPlanText } from '../../src/util/plan.ts';
import { makeConfig, makeInstance, tempDir, writeTree } from './helpers.ts';

const skip =
  spawnSync('ansible-playbook', ['--version']).status === 0
    ? false
    : 'ansible-playbook is not installed (apt-get install ansible-core)';

const dir = tempDir('ansible');
const config = makeConfig(dir.path);
const out = join(dir.path, 'out');
// A secret folder of its own: test files running alongside make strata-ansible-* folders in the shared one.
process.env.STRATA_SECRET_TMPDIR = join(dir.path, 'secret-tmp');
mkdirSync(process.env.STRATA_SECRET_TMPDIR, { recursive: true });

const PLAYBOOK = `- name: strata test
  hosts: all
  gather_facts: false
  tasks:
    - name: out dir
      ansible.builtin.file:
        path: "{{ out_dir }}"
        state: directory
        mode: "0755"
    - name: extra vars file mode while running
      ansible.builtin.shell: "stat -c %a {{ tmp }}/strata-ansible-*/extra-vars.json > {{ out_dir }}/mode-{{ inventory_hostname }}.txt"
    - name: write
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ inventory_hostname }}.txt"
        content: "{{ greeting }} {{ cluster.name }} password={{ db_password }}\\n"
        mode: "0644"
`;

before(() => {
  writeTree(dir.path, {
    'components/ansible/site/site.yml': PLAYBOOK,
    'components/terraform/hosts/main.tf': 'output "hosts" {\n  value = { node1 = "127.0.0.1" }\n}\n',
  });
});
after(() => dir.cleanup());

// The extra vars live in a private folder under the secret temp root (/dev/shm, or STRATA_SECRET_TMPDIR).
const workDirs = () => readdirSync(secretTempRoot()).filter((n) => n.startsWith('strata-ansible-'));

function site(settings: Record<string, unknown>): ComponentInstance {
  return makeInstance(config, {
    kind: 'ansible',
    name: 'site',
    stack: 'dev',
    vars: {
      greeting: 'hello',
      cluster: { name: 'k3s' },
      db_password: 'ansible-secret-123', // strata:allow-secret (test fixture)
      out_dir: out,
      tmp: secretTempRoot(),
    },
    env: { ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False' },
    settings: { ansible: settings },
  });
}

test('playbook with stack vars as extra vars from a 0600 file that is gone afterwards', { skip }, async () => {
  const before = workDirs();
  const lines: string[] = [];
  const result = await runAnsible(config, site({ inventory: 'localhost,' }), {
    verb: 'playbook',
    args: ['-c', 'local'],
    color: false,
    onLine: (l) => lines.push(l),
  });
  assert.equal(result.exitCode, 0, lines.join('\n'));
  assert.equal(readFileSync(join(out, 'localhost.txt'), 'utf8'), 'hello k3s password=ansible-secret-123\n');
  assert.equal(readFileSync(join(out, 'mode-localhost.txt'), 'utf8').trim(), '600');
  assert.deepEqual(workDirs(), before);
  assert.match(lines.join('\n'), /ok=3 +changed=\d+ +unreachable=0 +failed=0/);
});

test('inventory generated from a Terraform output (map of host -> address)', { skip }, async () => {
  const hosts = makeInstance(config, { name: 'hosts', stack: 'dev' });
  assert.equal((await runTerraform(config, hosts, { verb: 'deploy', color: false, onLine: () => {} })).exitCode, 0);
  const engine = {
    config,
    describeComponent: async () => hosts,
  };
  const instance = site({
    inventory_from_terraform: {
      component: 'hosts',
      output: 'hosts',
      group: 'nodes',
      host_vars: { ansible_connection: 'local' },
    },
  });
  const lines: string[] = [];
  const result = await runAnsible(config, instance, {
    verb: 'playbook',
    engine,
    color: false,
    onLine: (l) => lines.push(l),
  });
  assert.equal(result.exitCode, 0, lines.join('\n'));
  assert.equal(readFileSync(join(out, 'node1.txt'), 'utf8'), 'hello k3s password=ansible-secret-123\n');
});

test('inventory shapes from Terraform outputs', () => {
  assert.deepEqual(inventoryFromValue('10.0.0.1', 'all'), { all: { hosts: { '10.0.0.1': {} } } });
  assert.deepEqual(inventoryFromValue(['a', 'b'], 'k3s'), { all: { children: { k3s: { hosts: { a: {}, b: {} } } } } });
  assert.throws(() => inventoryFromValue(null, 'all'), /is null/);
});

test('a failing play returns ansible-playbook exit code; dry run shows the command', { skip }, async () => {
  const instance = site({ inventory: 'localhost,' });
  instance.description.vars = { out_dir: out };
  const lines: string[] = [];
  const result = await runAnsible(config, instance, {
    verb: 'playbook',
    args: ['-c', 'local'],
    onLine: (l) => lines.push(l),
  });
  assert.equal(result.exitCode, 2, lines.join('\n'));
  const dry = await runAnsible(config, site({ inventory: 'localhost,' }), { verb: 'playbook', dryRun: true });
  assert.match(
    renderPlanText(dry.dryRun ?? { actions: [] }),
    /ansible-playbook -i localhost, -e @\S+\/extra-vars\.json site\.yml/,
  );
  assert.match(renderPlanText(dry.dryRun ?? { actions: [] }), /# write \S+\/extra-vars\.json \(mode 600\)/);
});
