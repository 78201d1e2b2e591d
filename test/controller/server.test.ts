import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import {
  type Controller,
  issueToken,
  LoadedSpecSource,
  type NodeEntry,
  siteConfigSpecSource,
  startController,
} from '../../src/controller/index.ts';
import { get, git, insecure, raw, rawGet, siteConfig, tempDir, write } from './helpers.ts';

const key = randomBytes(32);
const siteToken = `site-${randomBytes(12).toString('hex')}`;
const repoToken = `repo-${randomBytes(12).toString('hex')}`;
const logLines: string[] = [];
let root: string;
let site: string;
let repo: string;
let ctl: Controller;
let base: string;
const BIG = 8 * 1024 * 1024;

const token = (identity: string, ttl = 3600, now = Date.now()) => issueToken(key, identity, ttl, now);

before(async () => {
  root = tempDir('server');
  site = join(root, 'site');
  repo = join(root, 'repo');
  siteConfig(site);
  write(repo, {
    'README.md': '# fixture\n',
    'scripts/install.sh': 'echo install\n',
    '.gitignore': 'secrets.yaml\n',
    'secrets.yaml': 'password: hunter2\n',
  });
  write(root, { 'outside/secret.txt': 'outside the repository\n' });
  symlinkSync(join(root, 'outside', 'secret.txt'), join(repo, 'escape.txt'));
  symlinkSync('..', join(repo, 'up'));
  symlinkSync('README.md', join(repo, 'alias.md'));
  writeFileSync(join(repo, 'big.bin'), randomBytes(BIG));
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'fixture');
  // Not committed (a clone whose history holds a key is not served), but listed: git would commit it.
  write(repo, { 'keys/signing.key': `${key.toString('hex')}\n` });
  ctl = await startController({
    source: await siteConfigSpecSource(site),
    port: 0,
    credentials: { signingKey: key, siteToken, repoToken },
    repo,
    protectFiles: [join(repo, 'keys', 'signing.key')],
    rateLimit: { perSecond: 0, burst: 1 },
    drainTimeoutMs: 20_000,
    log: (line) => logLines.push(line),
  });
  base = ctl.url;
});

after(async () => {
  await ctl.close();
  await insecure.close();
  rmSync(root, { recursive: true, force: true });
});

test('health answers over HTTPS with the announced certificate fingerprint', async () => {
  assert.match(ctl.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const fingerprint = await new Promise<string>((resolve, reject) => {
    httpsGet(`${base}/health`, { rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.resume();
      resolve(cert.fingerprint256);
    }).on('error', reject);
  });
  assert.equal(fingerprint, ctl.fingerprint);
  const res = await get(`${base}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { status: 'ok' });
});

test('network posture: anyone reads the spec, resolved with site defaults', async () => {
  const res = await get(`${base}/spec/dev1`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.deepEqual(JSON.parse(res.body), {
    schema_version: 1,
    platform: { packages: ['htop'] },
    identity: { hostname: 'dev1', domain: 'lan' },
    config: { timezone: 'Europe/Paris' },
  });
});

test('site_token posture: the shared token reads it, nothing else does', async () => {
  assert.equal((await get(`${base}/spec/stage1`, siteToken)).status, 200);
  assert.equal((await get(`${base}/spec/stage1`)).status, 401);
  assert.equal((await get(`${base}/spec/stage1`, `${siteToken}x`)).status, 401);
  assert.equal((await get(`${base}/spec/stage1`, repoToken)).status, 401);
  // A node token proves more than the site token: the node reads its own spec under any posture.
  assert.equal((await get(`${base}/spec/stage1`, token('stage1'))).status, 200);
  // The site token does not open node_token nodes.
  assert.equal((await get(`${base}/spec/edge`, siteToken)).status, 403);
});

test('node_token posture: only a valid, unexpired token for that very node', async () => {
  const ok = await get(`${base}/spec/edge`, token('edge'));
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body).identity, { hostname: 'edge', domain: 'example.org' });
  const other = randomBytes(32);
  const valid = token('edge');
  const [payload, signature] = valid.split('.');
  const devPayload = token('dev1').split('.')[0];
  const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1);
  const refused: Record<string, string> = {
    expired: token('edge', 60, Date.now() - 3_600_000),
    forged: issueToken(other, 'edge', 3600),
    'tampered payload': `${devPayload}.${signature}`,
    'tampered signature': `${payload}.${flipped}`,
    truncated: valid.slice(0, -5),
    garbage: 'not-a-token',
    'three parts': `${valid}.x`,
  };
  for (const [what, bad] of Object.entries(refused)) {
    const res = await get(`${base}/spec/edge`, bad);
    assert.equal(res.status, 401, what);
    assert.equal(res.body, '{"error":"unauthorized"}\n', what);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="strata", error="invalid_token"', what);
  }
  assert.equal((await get(`${base}/spec/edge`, undefined, { authorization: 'Basic Zm9vOmJhcg==' })).status, 401);
});

test('unknown and forbidden identities look the same to the unauthenticated', async () => {
  const strip = (r: Awaited<ReturnType<typeof get>>) => {
    const { date: _date, ...headers } = r.headers;
    return { status: r.status, headers, body: r.body };
  };
  for (const credential of [undefined, 'bad.token', issueToken(randomBytes(32), 'edge', 60)]) {
    const existing = strip(await get(`${base}/spec/edge`, credential));
    const site = strip(await get(`${base}/spec/stage1`, credential));
    const unknown = strip(await get(`${base}/spec/no-such-node`, credential));
    const invalid = strip(await get(`${base}/spec/NOT_AN_IDENTITY`, credential));
    assert.equal(existing.status, 401);
    assert.deepEqual(site, existing);
    assert.deepEqual(unknown, existing);
    assert.deepEqual(invalid, existing);
  }
  // A node asking for other nodes gets the same 403 whether they exist or not.
  const mine = token('dev1');
  const a = await get(`${base}/spec/edge`, mine);
  const b = await get(`${base}/spec/no-such-node`, mine);
  assert.equal(a.status, 403);
  assert.deepEqual([b.status, b.body], [a.status, a.body]);
  // The spec list shows an anonymous caller only network nodes, a node only itself besides.
  assert.deepEqual(JSON.parse((await get(`${base}/specs`)).body), { specs: ['dev1'] });
  assert.deepEqual(JSON.parse((await get(`${base}/specs`, token('edge'))).body), { specs: ['dev1', 'edge'] });
  assert.deepEqual(JSON.parse((await get(`${base}/specs`, siteToken)).body), { specs: ['dev1', 'stage1'] });
  assert.equal((await get(`${base}/specs`, 'bad.token')).status, 401);
});

test('repository files need a bearer token and never leave the repository', async () => {
  const port = ctl.port;
  const nodeToken = token('edge');
  assert.equal((await get(`${base}/repo/README.md`)).status, 401);
  for (const credential of [nodeToken, siteToken, repoToken]) {
    const res = await get(`${base}/repo/README.md`, credential);
    assert.equal(res.status, 200);
    assert.equal(res.body, '# fixture\n');
  }
  assert.equal(
    (await get(`${base}/repo/scripts/install.sh`, nodeToken)).headers['content-type'],
    'text/x-shellscript; charset=utf-8',
  );
  assert.equal((await get(`${base}/repo/alias.md`, nodeToken)).status, 200, 'a symlink inside the repository');
  assert.equal((await get(`${base}/repo/escape.txt`, nodeToken)).status, 404, 'a symlink leaving the repository');
  assert.equal((await get(`${base}/repo/up/outside/secret.txt`, nodeToken)).status, 404, 'a symlinked parent');
  assert.equal((await get(`${base}/repo/secrets.yaml`, nodeToken)).status, 404, 'a git-ignored file');
  assert.equal((await get(`${base}/repo/.git/config`, nodeToken)).status, 404, 'git internals');
  assert.equal((await get(`${base}/repo/keys/signing.key`, nodeToken)).status, 404, 'a protected file');
  assert.equal((await get(`${base}/repo/missing.txt`, nodeToken)).status, 404);
  const attempts = [
    '/repo/../outside/secret.txt',
    '/repo/./README.md',
    '/repo/%2e%2e/outside/secret.txt',
    '/repo/%2E%2E/outside/secret.txt',
    '/repo/.%2e/outside/secret.txt',
    '/repo/%252e%252e/outside/secret.txt',
    '/repo/%25252e%25252e/outside/secret.txt',
    '/repo/..%2foutside%2fsecret.txt',
    '/repo/..%5coutside%5csecret.txt',
    '/repo/..\\outside\\secret.txt',
    '/repo//etc/passwd',
    '/repo/%2fetc/passwd',
    `/repo/${encodeURIComponent(join(root, 'outside', 'secret.txt'))}`,
    '/repo/README.md%00.txt',
    '/repo/scripts//install.sh',
    '/repo.git/../repo/README.md',
  ];
  for (const path of attempts) {
    const res = await rawGet(port, path, nodeToken);
    assert.ok(res.status === 400 || res.status === 404, `${path} gave ${res.status}`);
    assert.doesNotMatch(res.body, /outside the repository|root:/, path);
  }
  // Unauthenticated traversal attempts learn nothing either.
  assert.equal((await rawGet(port, '/repo/README.md')).status, 401);
  // An absolute-form request target is refused too.
  assert.equal((await rawGet(port, 'https://127.0.0.1/repo/README.md', nodeToken)).status, 400);
});

test('git clones the repository over dumb HTTP with a bearer token', async () => {
  // Asynchronous: the daemon runs in this process, a synchronous git would block it.
  const gitAsync = promisify(execFile);
  const target = join(root, 'clone');
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
  const common = ['-c', 'http.sslVerify=false'];
  await assert.rejects(gitAsync('git', [...common, 'clone', '-q', `${base}/repo.git`, join(root, 'refused')], { env }));
  const auth = `http.extraHeader=Authorization: Bearer ${token('edge')}`;
  await gitAsync('git', [...common, '-c', auth, 'clone', '-q', `${base}/repo.git`, target], { env });
  assert.equal(git(target, 'show', 'HEAD:README.md'), '# fixture\n');
  assert.equal(git(target, 'log', '--format=%s'), 'fixture\n');
});

test('oversized bodies and headers, other methods', async () => {
  const port = ctl.port;
  const big = await raw(port, `GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n`);
  assert.equal(big.status, 413);
  const chunk = 'a'.repeat(8192);
  const chunked = `GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${`2000\r\n${chunk}\r\n`.repeat(4)}0\r\n\r\n`;
  assert.equal((await raw(port, chunked)).status, 413);
  const small = `GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`;
  assert.equal((await raw(port, small)).status, 200);
  const header = await raw(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(40_000)}\r\n\r\n`);
  assert.equal(header.status, 431);
  const post = await raw(port, 'POST /spec/dev1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  assert.equal(post.status, 405);
  assert.equal((await raw(port, 'HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
});

test('the access log has one JSON line per request and no token', async () => {
  const before = logLines.length;
  const secret = token('edge');
  await get(`${base}/spec/edge`, secret);
  await get(`${base}/spec/edge`, `${secret}tampered`);
  await rawGet(ctl.port, `/spec/${secret}`, secret);
  await new Promise((r) => setTimeout(r, 50));
  const lines = logLines.slice(before).map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.deepEqual(
    lines.map((l) => [l.event, l.path, l.status, l.auth]),
    [
      ['request', '/spec/edge', 200, 'node'],
      ['request', '/spec/edge', 401, 'invalid'],
      ['request', '/spec/***', 403, 'node'],
    ],
  );
  assert.equal(lines[1].reason, 'node token signature');
  const all = logLines.join('\n');
  for (const value of [secret, siteToken, repoToken, key.toString('hex'), secret.split('.')[1]]) {
    assert.ok(!all.includes(value), 'a token reached the access log');
  }
});

test('reload picks up new and changed specs; a broken edit keeps the previous ones', async () => {
  write(site, { 'specs/new1.yaml': 'platform: {packages: [jq]}\n' });
  const result = await ctl.reload();
  assert.equal(result.ok, true, result.errors.join('; '));
  assert.equal((await get(`${base}/spec/new1`)).status, 200);
  write(site, { 'specs/new2.yaml': 'access: {posture: missing}\n' });
  const broken = await ctl.reload();
  assert.equal(broken.ok, false);
  assert.match(broken.errors[0], /posture 'missing' not found/);
  assert.equal((await get(`${base}/spec/new1`)).status, 200);
  rmSync(join(site, 'specs/new2.yaml'));
  assert.equal((await ctl.reload()).ok, true);
});

test('per-client rate limit answers 429 with Retry-After', async () => {
  const limited = await startController({
    source: await LoadedSpecSource.create(() => [{ identity: 'n1', auth: 'network', spec: {} }]),
    port: 0,
    rateLimit: { perSecond: 1, burst: 3 },
    log: () => {},
  });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(`${limited.url}/spec/n1`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const res = await get(`${limited.url}/health`);
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '1');
  } finally {
    await limited.close();
  }
});

test('close drains: in-flight downloads finish, new connections are refused', async () => {
  const nodes: NodeEntry[] = [{ identity: 'n1', auth: 'network', spec: {} }];
  const local = await startController({
    source: await LoadedSpecSource.create(() => nodes),
    port: 0,
    credentials: { repoToken },
    repo,
    gitMirror: false,
    log: () => {},
  });
  // A slow client: the response is paused until after close() started. (In flight means answered: a connection
  // that has not sent its request yet is cut by the drain.)
  let answered: () => void = () => undefined;
  const inFlight = new Promise<void>((resolve) => {
    answered = resolve;
  });
  const download = new Promise<{ bytes: number; status: number }>((resolve, reject) => {
    httpsGet(
      `${local.url}/repo/big.bin`,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${repoToken}` } },
      (res) => {
        answered();
        res.pause();
        let bytes = 0;
        setTimeout(() => {
          res.on('data', (c: Buffer) => {
            bytes += c.length;
          });
          res.on('end', () => resolve({ bytes, status: res.statusCode ?? 0 }));
          res.resume();
        }, 400);
      },
    ).on('error', reject);
  });
  await inFlight;
  const closing = local.close();
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(get(`${local.url}/health`), /ECONNREFUSED/);
  const done = await download;
  assert.deepEqual(done, { bytes: BIG, status: 200 });
  assert.deepEqual(await closing, { drained: true });
});
