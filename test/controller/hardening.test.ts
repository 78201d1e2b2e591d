/**
 * The controller as an attacker and a careless committer meet it (issue 13): sockets that never finish TLS or never
 * send a request are freed, SIGTERM exits at once when nothing is in flight, an early SIGHUP does not kill it, and
 * no request (authenticated or not) gets the signing key, a site token or a git-ignored file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { LoadedSpecSource, startController } from '../../src/controller/index.ts';
import { isCredentialFile, snapshotRepo } from '../../src/controller/repo.ts';
import { issueToken } from '../../src/controller/tokens.ts';
import { encodedForms } from '../../src/util/mask.ts';
import { repoRoot } from '../helpers/shared.ts';
import { type Daemon, get, git, insecure, rawGet, startDaemon, tempDir, write } from './helpers.ts';

const key = randomBytes(32);
const siteToken = `site-${randomBytes(16).toString('hex')}`;
const repoToken = `repo-${randomBytes(16).toString('hex')}`;
const ignoredMarker = `ignored-${randomBytes(8).toString('hex')}`;
let root: string;
let repo: string;
let env: NodeJS.ProcessEnv;

/** A project whose `leak` node (network posture: anyone reads it) tries every way the engine has to print them. */
function hostileProject(dir: string): void {
  write(dir, {
    'atmos.yaml':
      'base_path: .\ncomponents:\n  terraform:\n    base_path: components/terraform\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\ntemplates:\n  settings:\n    enabled: true\n',
    'components/terraform/vm/main.tf': '# vm\n',
    'stacks/dev.yaml': `vars: {stage: dev}
components:
  terraform:
    leak-vm:
      metadata: {component: vm}
      settings:
        controller:
          identity: leak
          auth: network
          spec:
            # Written into the stack by mistake: served masked. (env, !env, !exec and outside files are refused
            # at load: see the controller context test below.)
            committed: '${siteToken}'
            template_b64: '{{ "${siteToken}" | b64enc }}'
            template_repo: 'token="${repoToken}"'
            nested: { list: ['${siteToken}', 12] }
`,
    'README.md': '# hostile fixture\n',
    'notes.md': `the site token is ${siteToken} and the key ${key.toString('hex')}\n`,
    '.gitignore': 'secrets.dec.yaml\n',
    'secrets.dec.yaml': `password: ${ignoredMarker}\n`,
    // A careless commit: the site token itself, and a key named like one.
    'site.token': `${siteToken}\n`,
    'deploy/controller.key': `${key.toString('hex')}\n`,
  });
  symlinkSync('secrets.dec.yaml', join(dir, 'x'));
  symlinkSync('.git/config', join(dir, 'y'));
  symlinkSync('site.token', join(dir, 'z'));
  symlinkSync('README.md', join(dir, 'ok-link.md'));
}

before(() => {
  root = tempDir('hardening');
  repo = join(root, 'repo');
  write(root, { 'outside/controller.key': `${key.toString('hex')}\n` });
  hostileProject(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'hostile');
  env = {
    ...process.env,
    NO_COLOR: '1',
    HOME: root,
    STRATA_CONTROLLER_KEY: key.toString('hex'),
    STRATA_SITE_TOKEN: siteToken,
    STRATA_REPO_TOKEN: repoToken,
  };
});

after(async () => {
  await insecure.close();
  rmSync(root, { recursive: true, force: true });
});

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Polls `read` every 20 ms until `done` holds or `ms` pass; gives the last value and the time it took. */
async function until<T>(read: () => T, done: (value: T) => boolean, ms: number): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let value = read();
  while (!done(value) && performance.now() - started < ms) {
    await new Promise((r) => setTimeout(r, 20));
    value = read();
  }
  return { value, ms: Math.round(performance.now() - started) };
}

function connectRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** A TLS connection that completes its handshake and then sends nothing. */
function connectSilentTls(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

async function stopAndTime(daemon: Daemon): Promise<{ code: number | null; ms: number }> {
  const started = performance.now();
  daemon.child.kill('SIGTERM');
  const code = await daemon.exited;
  return { code, ms: Math.round(performance.now() - started) };
}

test('half-open and silent connections are freed after their timeouts; SIGTERM then exits at once', async (t) => {
  const daemon = await startDaemon(repo, env, ['--no-repo', '--handshake-timeout', '0.3s', '--header-timeout', '0.5s']);
  const pid = daemon.child.pid!;
  const clients: Socket[] = [];
  try {
    assert.equal((await rawGet(daemon.port, '/health')).status, 200);
    const baseline = (
      await until(
        () => openFds(pid),
        () => false,
        300,
      )
    ).value;
    // 50 connections that never send a ClientHello, 10 that finish TLS and never send a request.
    let peak = baseline;
    for (let i = 0; i < 60; i++) {
      clients.push(await (i < 50 ? connectRaw(daemon.port) : connectSilentTls(daemon.port)));
      peak = Math.max(peak, openFds(pid));
    }
    const back = await until(
      () => openFds(pid),
      (n) => n <= baseline,
      5_000,
    );
    t.diagnostic(
      `server fds: baseline ${baseline}, with 60 idle connections ${peak}, back to ${back.value} in ${back.ms} ms (handshake and header timeouts 1 s)`,
    );
    assert.ok(peak >= baseline + 40, `the connections were accepted (${peak} fds at most)`);
    assert.equal(back.value, baseline, 'every descriptor is freed while the clients still hold their ends');

    // Connections still mid-handshake at SIGTERM: nothing is in flight, so the drain ends at once.
    for (let i = 0; i < 50; i++) clients.push(await connectRaw(daemon.port));
    const stopped = await stopAndTime(daemon);
    t.diagnostic(`SIGTERM with 50 half-open connections: exit ${stopped.code} after ${stopped.ms} ms`);
    assert.equal(stopped.code, 0);
    assert.ok(stopped.ms < 2_000, `exit took ${stopped.ms} ms (drain timeout 10 s)`);
    assert.match(daemon.stderr(), /"event":"stop","drained":true/);
  } finally {
    for (const socket of clients) socket.destroy();
    daemon.child.kill('SIGKILL');
  }
});

/** `strata serve` spawned without waiting for it: what it printed so far, and whether it handles a signal yet. */
function spawnServe(args: string[]) {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'bin', 'strata.js'), 'serve', '--port', '0', '--json', ...args],
    {
      cwd: repo,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  /** Whether the process has a handler for this signal (SigCgt in /proc). */
  const handles = (signal: number) => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const caught = BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'}`);
      return ((caught >> BigInt(signal - 1)) & 1n) === 1n;
    } catch {
      return false;
    }
  };
  return { child, exited, handles, stdout: () => stdout, stderr: () => stderr };
}

test('a SIGHUP while the daemon starts never kills it; it reloads once up', async (t) => {
  const serve = spawnServe(['--no-repo']);
  try {
    // As soon as the process handles SIGHUP at all (the CLI is still loading), send one every 10 ms until it listens.
    const handled = await until(() => serve.handles(1), Boolean, 20_000);
    assert.ok(handled.value, 'the process never handled SIGHUP');
    let sent = 0;
    while (!serve.stdout().includes('\n') && serve.child.exitCode === null && sent < 2_000) {
      serve.child.kill('SIGHUP');
      sent++;
      await new Promise((r) => setTimeout(r, 10));
    }
    t.diagnostic(`SIGHUP handled ${handled.ms} ms after spawn; ${sent} SIGHUPs sent before it listened`);
    assert.equal(serve.child.exitCode, null, `the daemon died: ${serve.stderr()}`);
    assert.ok(sent > 0);
    const info = JSON.parse(serve.stdout().split('\n')[0]) as { url: string };
    assert.equal((await get(`${info.url}/health`)).status, 200);
    const reloaded = await until(serve.stderr, (s) => s.includes('"event":"reload"'), 10_000);
    assert.match(reloaded.value, /"event":"reload","ok":true/);
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
  } finally {
    serve.child.kill('SIGKILL');
  }
});

test('a SIGTERM while the stacks load stops the daemon as soon as it listens', async () => {
  const serve = spawnServe(['--no-repo']);
  try {
    // `serve` handles SIGTERM from its `starting` line on (before, while the CLI loads, there is nothing to drain).
    const starting = await until(serve.stderr, (s) => s.includes('"event":"starting"'), 20_000);
    assert.match(starting.value, /"event":"starting"/);
    assert.equal(serve.stdout(), '', 'the daemon listened before the signal: nothing early about it');
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
    assert.match(serve.stderr(), /"event":"stop","drained":true/);
  } finally {
    serve.child.kill('SIGKILL');
  }
});

test('a connection without traffic either way is cut after the idle timeout', async () => {
  write(repo, { 'large.bin': 'x'.repeat(32 * 1024 * 1024) });
  const controller = await startController({
    source: await LoadedSpecSource.create(() => []),
    port: 0,
    credentials: { repoToken },
    repo,
    gitMirror: false,
    timeouts: { idleMs: 300 },
    log: () => undefined,
  });
  const socket = await connectSilentTls(controller.port);
  try {
    // A download the client never reads: once the buffers are full nothing moves, and the timeout cuts it.
    socket.pause();
    socket.write(`GET /repo/large.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${repoToken}\r\n\r\n`);
    assert.equal(
      (
        await until(
          () => controller.connections,
          (n) => n === 1,
          2_000,
        )
      ).value,
      1,
    );
    const cut = await until(
      () => controller.connections,
      (n) => n === 0,
      10_000,
    );
    assert.equal(cut.value, 0, 'the stalled connection is still open');
  } finally {
    socket.destroy();
    await controller.close();
    rmSync(join(repo, 'large.bin'));
  }
});

/** Every form of every credential (and the ignored file's content) that must never be in an answer. */
function forbidden(): string[] {
  const secrets = [
    siteToken,
    repoToken,
    key.toString('hex'),
    key.toString('hex').toUpperCase(),
    key.toString('base64'),
  ];
  return [...secrets.flatMap(encodedForms), ignoredMarker];
}

test('no request, authenticated or not, returns the signing key, a site token or an ignored file', async (t) => {
  // The site token file sits in the repository under an innocent name (untracked, not ignored: servable by git).
  write(repo, { 'ops/site-auth.txt': `${siteToken}\n` });
  const daemon = await startDaemon(repo, env, ['--rate-limit', '0', '--site-token-file', 'ops/site-auth.txt']);
  try {
    const nodeToken = issueToken(key, 'leak', 3600);
    const credentials = [undefined, 'not.a-token', nodeToken, siteToken, repoToken];
    const tracked = git(repo, 'ls-files').trim().split('\n');
    const paths = [
      '/health',
      '/specs',
      '/spec/leak',
      ...[...tracked, 'ops/site-auth.txt', 'secrets.dec.yaml', '.git/config', '.git/HEAD'].map((p) => `/repo/${p}`),
      '/repo.git/HEAD',
      '/repo.git/info/refs',
      '/repo.git/objects/info/packs',
    ];
    const never = forbidden();
    let answers = 0;
    for (const credential of credentials) {
      for (const path of paths) {
        const reply = await rawGet(daemon.port, path, credential);
        answers++;
        for (const secret of never)
          assert.ok(
            !reply.body.includes(secret),
            `${path} (${credential ? 'with' : 'without'} a token) returned a credential`,
          );
      }
    }
    t.diagnostic(`${answers} answers checked for ${never.length} forbidden strings`);

    // What the leak node gets: valid JSON, every attempt masked.
    const spec = JSON.parse((await get(`${daemon.url}/spec/leak`)).body) as Record<string, unknown>;
    for (const field of ['committed', 'template_b64']) assert.equal(spec[field], '***', field);
    assert.equal(spec.template_repo, 'token="***"');
    assert.deepEqual(spec.nested, { list: ['***', 12] });

    // The repository: symlinks are judged by their target, credential files by their name.
    const read = (path: string) => get(`${daemon.url}/repo/${path}`, nodeToken);
    assert.equal((await read('ok-link.md')).status, 200, 'a symlink to a tracked file');
    assert.equal((await read('x')).status, 404, 'a committed symlink to an ignored file');
    assert.equal((await read('y')).status, 404, 'a committed symlink into .git');
    assert.equal((await read('z')).status, 404, 'a committed symlink to a credential file');
    assert.equal((await read('site.token')).status, 404, 'a committed site token');
    assert.equal((await read('deploy/controller.key')).status, 404, 'a committed key');
    const notes = await read('notes.md');
    assert.equal(notes.status, 200);
    assert.equal(notes.headers['content-length'], undefined, 'a masked body has no length known in advance');
    assert.equal((await read('ops/site-auth.txt')).status, 404, 'the --site-token-file');
    assert.equal(notes.body, 'the site token is *** and the key ***\n', 'a tracked file is served masked');
    // The clone would hand out the committed token: it is not served, and the log says why.
    assert.equal((await get(`${daemon.url}/repo.git/info/refs`, nodeToken)).status, 404);
    assert.match(
      daemon.stderr(),
      /"event":"warning","message":"\/repo.git\/ is not served: its history holds the credential file '(?:deploy\/controller\.key|site\.token)'"/,
    );
    for (const secret of never) assert.ok(!daemon.stderr().includes(secret), 'a credential reached the log');
  } finally {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
});

test('a clone whose history holds the controller credentials anywhere is not served', async () => {
  const dir = join(root, 'history');
  write(dir, { 'README.md': '# clean\n' });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', `rotate: old token was ${siteToken}`);
  const refused = await snapshotRepo(dir, { secrets: [siteToken] });
  assert.equal(refused?.mirror, undefined);
  assert.match(refused?.mirrorRefused ?? '', /controller's credentials/);
  const clean = await snapshotRepo(dir, { secrets: [repoToken] });
  assert.ok(clean?.mirror, 'a clean history is served');
  rmSync(join(clean.mirror, '..'), { recursive: true, force: true });
});

test('credential file names', () => {
  for (const name of [
    'site.token',
    'a/b/site.token',
    'controller.key',
    'tls/server.KEY',
    'id_ed25519',
    '.vault-pass',
    'vault_password.txt',
  ])
    assert.ok(isCredentialFile(name), name);
  for (const name of ['README.md', 'id_ed25519.pub', 'keys.md', 'token.md', 'site.token.example', 'key'])
    assert.ok(!isCredentialFile(name), name);
});

test('a spec cannot read the environment, run commands or include files outside the repository: refused at load', async () => {
  const keyFile = join(root, 'outside', 'controller.key');
  const attempts: Array<[string, RegExp]> = [
    [`'{{ env "STRATA_SITE_TOKEN" }}'`, /env is not available in specs the controller serves/],
    [`'{{ env "STRATA_SITE_TOKEN" | b64enc }}'`, /env is not available in specs the controller serves/],
    [`'{{ expandenv "$STRATA_CONTROLLER_KEY" }}'`, /expandenv is not available in specs the controller serves/],
    ['!env STRATA_CONTROLLER_KEY', /!env STRATA_CONTROLLER_KEY .*not available in specs the controller serves/],
    [`!exec printf '%s' "$STRATA_SITE_TOKEN"`, /!exec .*not available in specs the controller serves/],
    [`!include ${keyFile}`, /controller\.key is outside the repository/],
    [`!include.raw ${keyFile}`, /controller\.key is outside the repository/],
    ['!include.raw /etc/hostname', /\/etc\/hostname is outside the repository/],
    ["'{{ range until 100000000 }}x{{ end }}'", /limits\.max_template_iterations/],
  ];
  const { stackNodes } = await import('../../src/controller/stacks-source.ts');
  for (const [value, expected] of attempts) {
    const dir = join(root, `context-${attempts.findIndex(([v]) => v === value)}`);
    write(dir, {
      'atmos.yaml':
        'base_path: .\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\ntemplates:\n  settings:\n    enabled: true\nlimits:\n  include_outside_repository: true\n',
      'stacks/dev.yaml': `vars: {stage: dev}\ncomponents:\n  terraform:\n    leak:\n      settings:\n        controller:\n          identity: leak\n          auth: network\n          spec:\n            value: ${value}\n`,
    });
    const started = Date.now();
    await assert.rejects(stackNodes({ cwd: dir, env: {} }), (error: Error) => {
      assert.match(error.message, expected, value);
      assert.ok(!error.message.includes(siteToken) && !error.message.includes(key.toString('hex')), value);
      return true;
    });
    assert.ok(Date.now() - started < 5000, value);
  }
  // What stays allowed: values and files inside the repository. Components that are not nodes are never evaluated
  // (they are served to no one), and a node's `!env` that its spec does not use is never read: neither stops it.
  const dir = join(root, 'context-ok');
  write(dir, {
    'atmos.yaml':
      'base_path: .\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\n',
    'stacks/dev.yaml':
      'vars: {stage: dev}\ncomponents:\n  terraform:\n    node:\n      vars:\n        unused: !env PROXMOX_TOKEN\n      settings:\n        controller:\n          identity: edge\n          spec:\n            packages: !include ../packages.yaml\n    vm:\n      vars:\n        token: !env PROXMOX_TOKEN\n        made: !exec touch exec-ran\n',
    'packages.yaml': '[git, curl]\n',
  });
  const nodes = await stackNodes({ cwd: dir, env: {} });
  assert.deepEqual(
    nodes.map((n) => n.identity),
    ['edge'],
  );
  assert.deepEqual((nodes[0].spec as Record<string, unknown>).packages, ['git', 'curl']);
  assert.ok(!existsSync(join(dir, 'exec-ran')), 'the !exec of a component that is not a node never ran');
});
