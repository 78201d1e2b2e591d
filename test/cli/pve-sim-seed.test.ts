// `strata pve-sim --seed <project>`: the simulator serves the project's node, storage and a template per image of its
// stacks, and prints the exports that point strata at it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent, fetch } from 'undici';
import { repoRoot } from '../helpers/shared.ts';

const insecure = new Agent({ connect: { rejectUnauthorized: false } });

test('pve-sim --seed examples/homelab: exports, and the example templates on its node', async () => {
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin', 'strata.js'),
      'pve-sim',
      '--seed',
      'examples/homelab',
      '--port',
      '0',
      '--latency-scale',
      '0',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no exports in 60s: ${stdout}`)), 60_000);
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (stdout.includes('STRATA_PVE_SIMULATOR')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('close', (code) => reject(new Error(`pve-sim ended (${code}): ${stdout}`)));
    });
    const vars = Object.fromEntries([...stdout.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
    assert.deepEqual(Object.keys(vars).sort(), [
      'PROXMOX_VE_API_TOKEN',
      'PROXMOX_VE_ENDPOINT',
      'STRATA_PVE_FINGERPRINT',
      'STRATA_PVE_SIMULATOR',
    ]);
    const response = await fetch(`${vars.PROXMOX_VE_ENDPOINT}/api2/json/cluster/resources?type=vm`, {
      dispatcher: insecure,
      headers: { Authorization: `PVEAPIToken=${vars.PROXMOX_VE_API_TOKEN}` },
    });
    const { data } = (await response.json()) as { data: Array<{ name: string; template: number; node: string }> };
    const templates = data.filter((vm) => vm.template === 1).map((vm) => vm.name);
    // Both stacks' alma9-k3s templates (pve-dev has its own), and the images nested-pve uses.
    for (const name of [
      'alma9-k3-node-amd64-v1.28.5-v1',
      'alma9-k3-node-amd64-v1.28.5-dev',
      'debian-12',
      'debian-13-pve',
    ]) {
      assert.ok(templates.includes(name), `template ${name} in ${templates.join(', ')}`);
    }
    assert.ok(data.every((vm) => vm.node === 'pve'));
  } finally {
    child.kill('SIGTERM');
  }
});
