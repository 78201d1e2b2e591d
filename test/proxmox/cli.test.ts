// Runs `strata pve-sim` as a real process, talks HTTPS to it, and stops it with a signal.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PveClient } from '../../src/proxmox/client.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-pve-sim-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  info: { url: string; tokenId: string; tokenSecret: string; fingerprint: string; ca: string };
  stderr: () => string;
}

async function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'strata.js'), 'pve-sim', ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const info = await new Promise<Started['info']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pve-sim did not start: ${stderr}`)), 20_000);
    child.stdout?.on('data', (d) => {
      stdout += d;
      try {
        const parsed = JSON.parse(stdout);
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // the JSON document is not complete yet
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pve-sim exited with ${code}: ${stderr}`));
    });
  });
  return { child, info, stderr: () => stderr };
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

test('strata pve-sim prints URL, token and fingerprint, serves the API, and stops on SIGTERM', async () => {
  const seedFile = join(dir, 'lab.yaml');
  writeFileSync(
    seedFile,
    [
      'nodes:',
      '  - node: alpha',
      '  - node: beta',
      '    cpuFlags: [fpu, sse2]',
      'storages:',
      '  - { storage: tank, type: zfspool, content: [images] }',
      'vms:',
      '  - { vmid: 9100, name: ubuntu-tmpl, node: beta, template: true, config: { scsi0: "tank:base-9100-disk-0,size=4G" } }',
      'users:',
      '  - userid: root@pam',
      '    privileges: { "/": [Administrator] }',
      '    tokens: [{ id: lab, secret: lab-secret-123456, privsep: false }]',
      '',
    ].join('\n'),
  );
  const { child, info } = await startCli([
    '--port',
    '0',
    '--latency-scale',
    '0',
    '--seed-file',
    seedFile,
    '--format',
    'json',
  ]);
  try {
    assert.match(info.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.tokenId, 'root@pam!lab');
    assert.equal(info.tokenSecret, 'lab-secret-123456');
    assert.match(info.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const pve = new PveClient({
      url: info.url,
      tokenId: info.tokenId,
      tokenSecret: info.tokenSecret,
      fingerprint: info.fingerprint,
    });
    assert.deepEqual(
      (await pve.nodes()).map((n) => n.node),
      ['alpha', 'beta'],
    );
    assert.equal((await pve.nodeStatus('beta')).cpuinfo.flags.includes('vmx'), false);
    assert.deepEqual(
      (await pve.listVms()).map((v) => [v.vmid, v.node, v.template]),
      [[9100, 'beta', true]],
    );
    await pve.close();
  } finally {
    const exited = exitCode(child);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});

test('strata pve-sim --no-tls serves plain HTTP and stops on SIGINT', async () => {
  const { child, info, stderr } = await startCli(['--port', '0', '--no-tls', '--format', 'json']);
  const exited = exitCode(child);
  try {
    assert.match(info.url, /^http:\/\//);
    assert.equal(info.fingerprint, null);
    const pve = new PveClient({ url: info.url, tokenId: info.tokenId, tokenSecret: info.tokenSecret });
    assert.equal((await pve.version()).version, '8.4.1');
    await pve.close();
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0);
  assert.match(stderr(), /PVE simulator stopped/);
});

test('strata pve-sim rejects bad flags (exit 2) and bad seed files (exit 1) with actionable messages', () => {
  const port = runCli(['pve-sim', '--port', '70000']);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /invalid --port '70000'/);
  assert.match(port.stderr, /use an integer from 0 to 65535/);

  const badYaml = join(dir, 'bad.yaml');
  writeFileSync(badYaml, 'nodes:\n  - node: a\n   bad: [\n');
  const yaml = runCli(['pve-sim', '--seed-file', badYaml]);
  assert.equal(yaml.code, 1);
  assert.match(yaml.stderr, /Invalid YAML in simulator seed/);
  assert.match(yaml.stderr, /bad\.yaml:\d+/);
  assert.doesNotMatch(yaml.stderr, /\(\S+\.ts:\d+:\d+\)|node:internal/, 'no stack trace');
});

test('strata pve-sim --help shows an example', () => {
  const help = runCli(['pve-sim', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /strata pve-sim --port 0 --latency-scale 0/);
});
