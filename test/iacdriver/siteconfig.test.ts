// An iac-driver site-config read as ConfigResolver reads it: the PVE node as the operator's context, foreign keys
// with iac-driver's wording and the manifest's line, the layouts and hosts refused with the way forward, SOPS secrets.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadManifest } from '../../src/operator/manifest.ts';
import {
  checkSiteReferences,
  loadSiteConfig,
  siteConfigDir,
  siteHost,
  siteStackContext,
} from '../../src/operator/siteconfig.ts';
import { encryptSops } from '../../src/secrets/sops.ts';
import { specToAnsibleVars } from '../../src/services/iacdriver-node.ts';
import { firstNodes } from '../../src/services/siteconfig.ts';
import { repoRoot } from '../helpers/shared.ts';
import { ageKeygen } from '../secrets/helpers.ts';

const FIXTURE = join(repoRoot, 'test', 'fixtures', 'iac-driver-site', 'config');
const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function copy(): string {
  const root = mkdtempSync(join(tmpdir(), 'strata-iacd-'));
  roots.push(root);
  cpSync(FIXTURE, join(root, 'config'), { recursive: true });
  return join(root, 'config');
}

test('a PVE node of the site-config becomes the operator’s context', async () => {
  const site = await loadSiteConfig(FIXTURE);
  const host = siteHost(site, 'root@pve');
  assert.equal(host.kind, 'node');
  assert.equal(host.hostUser, 'root');
  const manifest = await loadManifest({ name: 'n1-push' }, site.manifestsDir);
  const context = siteStackContext(site, host, manifest);
  assert.deepEqual(context.settings.proxmox, {
    endpoint: 'https://127.0.0.1:8006',
    node: 'pve',
    storage: 'local-lvm',
    bridge: 'vmbr0',
    ciuser: 'homestak',
    ssh_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE alice@laptop'],
    insecure: true,
    nameserver: '192.0.2.1',
  });
  assert.deepEqual(context.vars.presets, {
    'vm-small': { cores: 2, memory: 2048, disk: 10 },
    'vm-xsmall': { cores: 1, memory: 1024, disk: 8 },
  });
  assert.deepEqual(context.vars.images, { 'debian-12': 'debian-12' });
});

test('foreign keys: iac-driver’s wording, the file and line that names them', async () => {
  const dir = copy();
  const site = await loadSiteConfig(dir);
  const file = join(dir, 'manifests', 'n1-pull.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('preset: vm-small', 'preset: vm-huge'));
  const manifest = await loadManifest({ name: 'n1-pull' }, site.manifestsDir);
  assert.throws(
    () => checkSiteReferences(site, manifest),
    (e: Error & { location?: { file: string; line?: number } }) =>
      e.message === 'Preset not found: presets/vm-huge.yaml' && e.location?.file === file && e.location.line === 10,
  );
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('preset: vm-huge', 'preset: vm-small').replace('spec: base', 'spec: basic'),
  );
  const renamed = await loadManifest({ name: 'n1-pull' }, site.manifestsDir);
  assert.throws(() => checkSiteReferences(site, renamed), { message: 'Spec not found: basic' });
  writeFileSync(join(dir, 'specs', 'basic.yaml'), 'access: {posture: hardened}\n');
  const withSpec = await loadSiteConfig(dir);
  assert.throws(
    () => checkSiteReferences(withSpec, renamed),
    (e: Error & { location?: { line?: number } }) =>
      e.message === 'Posture not found: hardened' && e.location?.line === 1,
  );
});

test('hosts, layouts and folders refused with the way forward', async () => {
  const dir = copy();
  const site = await loadSiteConfig(dir);
  assert.throws(
    () => siteHost(site, 'father'),
    /Host 'father' not found: neither .*nodes\/father.yaml nor .*hosts\/father.yaml/,
  );
  mkdirSync(join(dir, 'hosts'));
  writeFileSync(
    join(dir, 'hosts', 'bare1.yaml'),
    'host: bare1\nnetwork: {interfaces: {vmbr0: {address: 192.0.2.5/24}}}\naccess: {host_user: root}\n',
  );
  const bare = siteHost(site, 'bare1');
  assert.equal(bare.sshHost, '192.0.2.5');
  assert.throws(() => siteStackContext(site, bare), /hosts\/ \(SSH only, no PVE yet\)/);
  writeFileSync(join(dir, 'nodes', 'pve2.yaml'), 'api_endpoint: https://192.0.2.11:8006\n');
  assert.throws(
    () => siteStackContext(site, siteHost(site, 'pve2')),
    /Node 'pve2' missing required 'datastore' in nodes\/pve2.yaml. Run 'make node-config FORCE=1' in config to regenerate./,
  );
  assert.throws(
    () => siteConfigDir(undefined, { HOMESTAK_ROOT: join(dir, 'nowhere') }),
    /config not found at .*nowhere\/config$/,
  );
  assert.equal(siteConfigDir(undefined, { HOMESTAK_ROOT: join(dir, '..') }), dir);
  assert.equal(siteConfigDir(undefined, { HOMESTAK_SITE_CONFIG: dir, HOMESTAK_ROOT: '/nowhere' }), dir);
  assert.equal(siteConfigDir(dir, { HOMESTAK_SITE_CONFIG: '/nowhere' }), dir);
  const legacy = mkdtempSync(join(tmpdir(), 'strata-iacd-legacy-'));
  roots.push(legacy);
  mkdirSync(join(legacy, 'envs'));
  await assert.rejects(loadSiteConfig(legacy), /legacy site-config layout \(envs\/, vms\/\)/);
});

test('SOPS-encrypted secrets.yaml.enc is read with strata’s own SOPS reader', async () => {
  const dir = copy();
  const key = ageKeygen(join(dir, '..'));
  const plain = readFileSync(join(dir, 'secrets.yaml'), 'utf8');
  writeFileSync(
    join(dir, 'secrets.yaml.enc'),
    await encryptSops(plain, { file: 'secrets.yaml', format: 'yaml', recipients: [key.recipient] }),
  );
  rmSync(join(dir, 'secrets.yaml'));
  const site = await loadSiteConfig(dir, { ...process.env, SOPS_AGE_KEY_FILE: key.file });
  assert.equal(
    (site.secrets.api_tokens as Record<string, string>).pve,
    'root@pam!tofu=00000000-0000-0000-0000-000000000000',
  );
});

test('--depth keeps the first n nodes and refuses a child cut off from its parent', async () => {
  const site = await loadSiteConfig(FIXTURE);
  const manifest = await loadManifest({ name: 'n2-flat' }, site.manifestsDir);
  assert.deepEqual(
    firstNodes(manifest, 1).nodes.map((n) => n.name),
    ['web'],
  );
  assert.equal(firstNodes(manifest, 5), manifest);
  const nested = { ...manifest, nodes: [manifest.nodes[0], { ...manifest.nodes[1], parent: 'missing' }] };
  assert.throws(
    () => firstNodes({ ...nested, nodes: [nested.nodes[1], nested.nodes[0]] }, 1),
    /Node 'db' references unknown parent 'missing'/,
  );
});

test('a spec becomes Ansible variables as iac-driver’s spec_to_ansible_vars', () => {
  assert.deepEqual(specToAnsibleVars({}), {});
  assert.deepEqual(
    specToAnsibleVars({
      platform: { packages: ['htop'], services: { enable: ['ssh'], disable: ['rpcbind'] } },
      config: { timezone: 'UTC' },
      access: {
        users: [
          { name: 'ops', sudo: true, ssh_keys: ['k1'] },
          { name: 'b', ssh_keys: ['k2'] },
        ],
        _posture: {
          ssh: { port: 2222 },
          sudo: { nopasswd: false },
          fail2ban: { enabled: true },
          packages: ['htop', 'fail2ban'],
        },
      },
    }),
    {
      packages: ['htop', 'fail2ban'],
      timezone: 'UTC',
      local_user: 'ops',
      user_sudo: true,
      ssh_authorized_keys: ['k1', 'k2'],
      ssh_port: 2222,
      sudo_nopasswd: false,
      fail2ban_enabled: true,
      services_enable: ['ssh'],
      services_disable: ['rpcbind'],
    },
  );
});
