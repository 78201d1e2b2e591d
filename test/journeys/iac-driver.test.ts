// Journey: an iac-driver user's site-config folder, unchanged, driven by the installed strata with iac-driver's
// command lines: manifests on `strata pve-sim` (checked in the simulator's state), the server daemon with its pid
// file, nodes fetching their spec with tokens minted the iac-driver way, and `config apply` running Ansible here.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/shared.ts';
import { findSecrets, type Journey, journey, waitFor } from './helpers.ts';

const FIXTURE = join(repoRoot, 'test', 'fixtures', 'iac-driver-site');
const SIGNING_KEY = '0123456789abcdef'.repeat(4);
const PVE_SECRET = '00000000-0000-0000-0000-000000000000';
const PORT = String(45000 + (process.pid % 2000));

let j: Journey;
let sim: ChildProcess | undefined;
let simUrl = '';
let home = '';
let config = '';
let env: NodeJS.ProcessEnv;

/** iac-driver's _mint_provisioning_token, written from its description (not strata's code). */
function mint(n: string, s: string, key = SIGNING_KEY): string {
  const payload = Buffer.from(JSON.stringify({ v: 1, n, s, iat: Math.floor(Date.now() / 1000) })).toString('base64url');
  return `${payload}.${createHmac('sha256', Buffer.from(key, 'hex')).update(payload).digest('base64url')}`;
}

before(async () => {
  j = await journey('iac-driver');
  home = join(j.root, 'home');
  config = join(home, 'config');
  cpSync(join(FIXTURE, 'config'), config, { recursive: true });
  const started = j.start(
    [
      'pve-sim',
      '--port',
      '0',
      '--latency-scale',
      '0',
      '--seed-file',
      join(FIXTURE, 'pve-sim-seed.yaml'),
      '--format',
      'json',
    ],
    { timeoutMs: 1_800_000 },
  );
  sim = started.child;
  let text = '';
  started.child.stdout?.on('data', (chunk) => {
    text += chunk;
  });
  const parsed = () => {
    try {
      simUrl = (JSON.parse(text) as { url: string }).url;
      return true;
    } catch {
      return false;
    }
  };
  assert.ok(await waitFor(parsed, 60_000), 'the simulator printed its connection details');
  const node = join(config, 'nodes', 'pve.yaml');
  writeFileSync(node, readFileSync(node, 'utf8').replace('https://127.0.0.1:8006', simUrl));
  env = { HOMESTAK_ROOT: home };
});

after(async () => {
  await j?.strata(['server', 'stop', '-p', PORT], { env });
  if (sim && sim.exitCode === null) {
    sim.kill('SIGTERM');
    await new Promise((resolve) => sim?.once('close', resolve));
  }
  j?.cleanup();
});

interface SimVm {
  vmid: number;
  template?: boolean;
  guestFiles?: Record<string, string>;
}

async function simVms(): Promise<number[]> {
  return (await simState())
    .filter((vm) => !vm.template)
    .map((vm) => vm.vmid)
    .sort();
}

async function simState(): Promise<SimVm[]> {
  const answer = await new Promise<string>((resolve, reject) => {
    request(`${simUrl}/_sim/state`, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  return (JSON.parse(answer) as { data: { vms: SimVm[] } }).data.vms;
}

function serverGet(path: string, token?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    request(
      `https://127.0.0.1:${PORT}${path}`,
      { rejectUnauthorized: false, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
      },
    )
      .on('error', reject)
      .end();
  });
}

test('manifest test -M -H on the simulator prints iac-driver’s --json-output and leaves nothing behind', async () => {
  const run = await j.strata(['manifest', 'test', '-M', 'n1-push', '-H', 'pve', '--json-output'], { env });
  assert.equal(run.code, 0, run.stderr);
  const output = JSON.parse(run.stdout) as {
    verb: string;
    success: boolean;
    duration_seconds: number;
    nodes: Array<Record<string, unknown>>;
  };
  assert.deepEqual(Object.keys(output), ['verb', 'success', 'duration_seconds', 'nodes']);
  assert.equal(output.verb, 'test');
  assert.equal(output.success, true);
  assert.deepEqual(
    output.nodes.map((n) => [n.name, n.vm_id, typeof n.ip]),
    [['edge', 99001, 'string']],
  );
  assert.deepEqual(await simVms(), []);
  assert.ok(
    readdirSync(join(home, 'logs')).some((f) => f.endsWith('.passed.json')),
    'the report is in $HOMESTAK_ROOT/logs',
  );
});

test('manifest apply --depth and destroy -y create and remove exactly the kept nodes', async () => {
  const applied = await j.strata(['manifest', 'apply', '-M', 'n2-flat', '-H', 'pve', '--depth', '1', '--json-output'], {
    env,
  });
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual(await simVms(), [99011]);
  const destroyed = await j.strata(['manifest', 'destroy', '-M', 'n2-flat', '-H', 'pve', '--depth', '1', '-y'], {
    env,
  });
  assert.equal(destroyed.code, 0, destroyed.stderr);
  assert.deepEqual(await simVms(), []);
});

test('--manifest-json runs a manifest given inline, as delegation passes it', async () => {
  const manifest = JSON.stringify({
    schema_version: 2,
    name: 'inline',
    nodes: [{ name: 'solo', type: 'vm', preset: 'vm-xsmall', image: 'debian-12', vmid: 99100 }],
    settings: { verify_ssh: false },
  });
  const applied = await j.strata(
    ['manifest', 'apply', '--manifest-json', manifest, '-H', 'pve', '--skip-preflight', '--json-output'],
    { env },
  );
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual(await simVms(), [99100]);
  const destroyed = await j.strata(
    ['manifest', 'destroy', '--manifest-json', manifest, '-H', 'pve', '--yes', '--json-output'],
    { env },
  );
  assert.equal((JSON.parse(destroyed.stdout) as { verb: string }).verb, 'destroy');
  assert.deepEqual(await simVms(), []);
});

test('validate, foreign keys and unknown hosts answer as iac-driver does', async () => {
  const valid = await j.strata(['manifest', 'validate', '-M', 'n2-flat'], { env });
  assert.equal(valid.stdout, "Manifest 'n2-flat' is valid (2 nodes)\n");
  writeFileSync(
    join(config, 'manifests', 'bad.yaml'),
    'schema_version: 2\nname: bad\nnodes:\n  - name: a\n    type: vm\n    preset: vm-huge\n',
  );
  const bad = await j.strata(['manifest', 'validate', '-M', 'bad'], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Preset not found: presets\/vm-huge.yaml/);
  assert.match(bad.stderr, /bad.yaml:6/);
  const host = await j.strata(['manifest', 'apply', '-M', 'n1-push', '-H', 'father', '--json-output'], { env });
  assert.equal(host.code, 1);
  assert.equal((JSON.parse(host.stdout) as { success: boolean }).success, false);
  assert.match(host.stderr, /Host 'father' not found[\s\S]*Available hosts: pve/);
  const scenario = await j.strata(['scenario', 'run', 'push-vm-roundtrip'], { env });
  assert.equal(scenario.code, 2);
  assert.match(scenario.stderr, /strata manifest test -M n1-push -H <host>/);
});

test('server start|status|stop, config fetch with iac-driver tokens, config apply runs the playbook here', async () => {
  const started = await j.strata(['server', 'start', '-p', PORT, '--json'], { env });
  assert.equal(started.code, 0, started.stderr);
  const pid = Number(readFileSync(join(home, '.run', `server-${PORT}.pid`), 'utf8'));
  assert.equal((JSON.parse(started.stdout) as { pid: number }).pid, pid);
  const status = await j.strata(['server', 'status', '-p', PORT, '--json'], { env });
  assert.deepEqual(JSON.parse(status.stdout), { running: true, pid, healthy: true });

  const token = mint('edge', 'edge');
  const server = `https://127.0.0.1:${PORT}`;
  const nodeEnv = { ...env, HOMESTAK_SERVER: server, HOMESTAK_TOKEN: token, HOMESTAK_INSECURE: '1' };
  const fetched = await j.strata(['config', 'fetch', '--identity', 'edge'], { env: nodeEnv });
  assert.equal(fetched.code, 0, fetched.stderr);
  const specFile = join(home, '.state', 'config', 'spec.yaml');
  // Resolved as iac-driver's SpecResolver: site defaults filled in, the user's keys by name from secrets.yaml.
  const fetchedSpec = readFileSync(specFile, 'utf8');
  assert.match(fetchedSpec, /hostname: edge\n\s+domain: lab.example/);
  assert.match(fetchedSpec, /timezone: UTC/);
  assert.match(fetchedSpec, /ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE alice@laptop/);
  const again = await j.strata(['config', 'fetch', '--identity', 'edge'], { env: nodeEnv });
  assert.equal(again.code, 0);
  assert.ok(existsSync(`${specFile}.prev`), 'the previous spec is kept');

  for (const [wrong, code] of [
    [mint('edge', 'edge', 'ab'.repeat(32)), 'E301'],
    [mint('web', 'edge'), 'E301'],
    [`${token.slice(0, -2)}xx`, 'E30'],
  ] as const) {
    const refused = await j.strata(['config', 'fetch', '--identity', 'edge'], {
      env: { ...nodeEnv, HOMESTAK_TOKEN: wrong },
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(code));
  }
  assert.deepEqual(await serverGet('/spec/edge'), {
    status: 400,
    body: { error: { code: 'E300', message: 'Provisioning token required' } },
  });
  const site = await serverGet('/config/edge', token);
  assert.equal(site.status, 200);
  assert.deepEqual(Object.keys(site.body as object).sort(), ['secrets', 'site']);
  assert.deepEqual(Object.keys((site.body as { secrets: object }).secrets).sort(), ['auth', 'ssh_keys']);
  assert.deepEqual((await serverGet('/specs')).body, { specs: ['base', 'edge'] });
  // The site-config's legacy tokens: a node token for its own spec, the site token for specs not behind node_token.
  assert.equal((await serverGet('/spec/edge', 'node-token-edge-0123456789')).status, 200);
  assert.equal((await serverGet('/spec/base', 'site-token-0123456789abcdef')).status, 200);
  assert.deepEqual(await serverGet('/spec/edge', 'site-token-0123456789abcdef'), {
    status: 401,
    body: { error: { code: 'E301', message: 'Site token not accepted for this spec' } },
  });
  assert.deepEqual(await serverGet('/nothing'), {
    status: 400,
    body: { error: { code: 'E100', message: 'Unknown endpoint: /nothing' } },
  });
  const inspected = await j.strata(['token', 'inspect', token, '--verify'], { env });
  assert.equal(inspected.code, 0, inspected.stderr);
  assert.match(inspected.stdout, /n: "edge"[\s\S]*Signature: VALID/);
  const forged = await j.strata(['token', 'inspect', mint('edge', 'edge', 'cd'.repeat(32)), '--verify'], { env });
  assert.equal(forged.code, 1);
  assert.match(forged.stdout, /Signature: INVALID \(E301/);

  const playbook = join(j.root, 'ansible', 'playbooks', 'config-apply.yml');
  mkdirSync(dirname(playbook), { recursive: true });
  cpSync(join(FIXTURE, 'config-apply.yml'), playbook);
  const applied = await j.strata(['config', 'apply', '--playbook', playbook, '--json-output'], {
    env: { ...nodeEnv, APPLY_OUT: j.out },
  });
  assert.equal(applied.code, 0, applied.stderr);
  const written = JSON.parse(readFileSync(join(j.out, 'applied.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(written, { packages: ['htop', 'curl'], user: 'ops', services: ['ssh'] });
  const marker = JSON.parse(readFileSync(join(home, '.state', 'config', 'complete.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(marker.status, 'complete');
  assert.deepEqual(marker.users, ['ops']);
  const report = JSON.parse(applied.stdout) as { success: boolean; phase: string; users: string[] };
  assert.deepEqual([report.phase, report.success, report.users], ['config', true, ['ops']]);

  // A pull-mode node is handed the server and a token for its spec; with it, the node fetches that spec.
  const pull = await j.strata(['manifest', 'apply', '-M', 'n1-pull', '-H', 'pve'], {
    env: { ...env, HOMESTAK_SERVER: server },
  });
  assert.equal(pull.code, 0, pull.stderr);
  const handed =
    (await simState()).find((vm) => vm.vmid === 99950)?.guestFiles?.['/etc/homestak/provisioning.env'] ?? '';
  assert.match(handed, new RegExp(`^HOMESTAK_SERVER=${server}\nHOMESTAK_TOKEN=\\S+\n$`));
  const nodeToken = /HOMESTAK_TOKEN=(\S+)/.exec(handed)?.[1] as string;
  const pulled = await j.strata(['config', 'fetch', '--identity', 'edge'], {
    env: { ...nodeEnv, HOMESTAK_TOKEN: nodeToken },
  });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(readFileSync(specFile, 'utf8'), /hostname: base/);
  assert.equal((await j.strata(['manifest', 'destroy', '-M', 'n1-pull', '-H', 'pve', '-y'], { env })).code, 0);
  assert.deepEqual(await simVms(), []);

  const stopped = await j.strata(['server', 'stop', '-p', PORT], { env });
  assert.equal(stopped.code, 0);
  const after = await j.strata(['server', 'status', '-p', PORT], { env });
  assert.equal(after.code, 1);
  assert.equal(existsSync(join(home, '.run', `server-${PORT}.pid`)), false);

  // The simulator prints its own token by design; everything strata printed is checked.
  const printed = j.printed.filter((text) => !text.includes('"tokenSecret"'));
  const hits = findSecrets(
    [PVE_SECRET, SIGNING_KEY, token, nodeToken],
    [join(home, '.state'), join(home, 'logs')],
    printed,
  );
  assert.deepEqual(hits, []);
});
