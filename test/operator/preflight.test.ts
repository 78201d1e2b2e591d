// Preflight against the PVE simulator over HTTPS, with seeds that break one requirement at a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifest } from '../../src/operator/manifest.ts';
import { type PreflightResult, runPreflight } from '../../src/operator/preflight.ts';
import { defaultSeed, type SimSeed, startSimulator } from '../../src/proxmox/simulator/index.ts';

const TIERED = parseManifest(
  'schema_version: 2\nname: t\nnodes:\n  - {name: h, type: pve, image: debian-12}\n  - {name: c, type: vm, image: debian-12, parent: h}\n',
  't.yaml',
);

async function check(
  seed: SimSeed,
  proxmox: Record<string, unknown> = {},
  token?: (sim: { tokenId: string; tokenSecret: string }) => string,
): Promise<PreflightResult> {
  const sim = await startSimulator({ latencyScale: 0, seed });
  try {
    const context = {
      stack: 'lab',
      vars: { images: { 'debian-12': 'debian-12-cloud' } },
      settings: { proxmox: { endpoint: sim.url, node: 'pve', fingerprint: sim.fingerprint, ...proxmox } },
    };
    const env = { STRATA_PVE_TOKEN: token ? token(sim) : `${sim.tokenId}=${sim.tokenSecret}` };
    return await runPreflight(context, { manifest: TIERED, env });
  } finally {
    await sim.close();
  }
}

const statusOf = (result: PreflightResult, name: string) => result.checks.find((c) => c.name === name);

test('all checks pass on the default lab', async () => {
  const result = await check(defaultSeed(), { storage: 'local-lvm', snippets_storage: 'local' });
  assert.equal(result.success, true, JSON.stringify(result.checks, null, 2));
  assert.deepEqual(
    result.checks.map((c) => [c.name, c.status]),
    [
      ['configuration', 'ok'],
      ['api', 'ok'],
      ['token', 'ok'],
      ['privileges', 'ok'],
      ['node', 'ok'],
      ['storage', 'ok'],
      ['image debian-12', 'ok'],
      ['snippets', 'ok'],
      ['nested-virtualization', 'ok'],
    ],
  );
});

test('each broken requirement fails with a fix', async () => {
  const weak = defaultSeed();
  weak.users = [
    {
      userid: 'ops@pve',
      privileges: { '/': ['VM.Audit', 'Sys.Audit', 'Datastore.Audit'] },
      tokens: [{ id: 'ci', privsep: false }],
    },
  ];
  const privileges = statusOf(await check(weak), 'privileges');
  assert.equal(privileges?.status, 'fail');
  assert.match(privileges?.message ?? '', /missing: VM\.Allocate \(create and delete VMs\), VM\.Clone/);
  assert.match(privileges?.hint ?? '', /pveum role add StrataOperator/);

  const node = statusOf(await check(defaultSeed(), { node: 'pve1' }), 'node');
  assert.equal(node?.status, 'fail');
  assert.equal(node?.hint, "Did you mean 'pve'?");

  const noTemplate = defaultSeed();
  noTemplate.vms = [];
  const image = statusOf(await check(noTemplate), 'image debian-12');
  assert.equal(image?.status, 'fail');
  assert.match(image?.hint ?? '', /qm template/);

  const noVirt = defaultSeed();
  noVirt.nodes = [{ node: 'pve', cpuFlags: ['fpu', 'sse2'] }];
  const nested = statusOf(await check(noVirt), 'nested-virtualization');
  assert.equal(nested?.status, 'fail');
  assert.match(nested?.hint ?? '', /kvm_intel nested=1/);

  const snippets = statusOf(await check(defaultSeed(), { snippets_storage: 'local-lvm' }), 'snippets');
  assert.equal(snippets?.status, 'fail');
  assert.match(snippets?.hint ?? '', /pvesm set local-lvm --content images,rootdir,snippets/);

  const token = await check(defaultSeed(), {}, (sim) => `${sim.tokenId}=nope`);
  assert.equal(statusOf(token, 'token')?.status, 'fail');
  assert.equal(token.success, false);

  const down = await runPreflight(
    {
      stack: 'lab',
      vars: {},
      settings: { proxmox: { endpoint: 'https://127.0.0.1:1', node: 'pve', timeout_ms: 500 } },
    },
    { env: { STRATA_PVE_TOKEN: 'root@pam!x=y' } },
  );
  assert.equal(statusOf(down, 'api')?.status, 'fail');
  assert.match(statusOf(down, 'api')?.hint ?? '', /pveproxy/);

  const unconfigured = await runPreflight({ stack: 'lab', vars: {}, settings: {} }, { env: {} });
  assert.equal(statusOf(unconfigured, 'configuration')?.status, 'fail');
  assert.match(statusOf(unconfigured, 'configuration')?.hint ?? '', /settings\.proxmox\.endpoint/);
});
