// iac-driver's protocol on the controller, in process: the /{repo}.git/ layout with the repo token, and the
// answers a node gets for each kind of token (iac-driver's error bodies and codes).
import assert from 'node:assert/strict';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { iacDriverRoutes } from '../../src/controller/iacdriver-routes.ts';
import { IacDriverSite } from '../../src/controller/iacdriver-site.ts';
import type { Controller } from '../../src/controller/index.ts';
import { startController } from '../../src/controller/server.ts';
import { mintProvisioningToken } from '../../src/secrets/provisioning-token.ts';
import { get, git, insecure, tempDir } from '../controller/helpers.ts';
import { repoRoot } from '../helpers/shared.ts';

const KEY = Buffer.from('0123456789abcdef'.repeat(4), 'hex');
const REPO_TOKEN = 'repo-token-for-tests-0123';
let root: string;
let ctl: Controller;

before(async () => {
  root = tempDir('iacd');
  const config = join(root, 'config');
  cpSync(join(repoRoot, 'test', 'fixtures', 'iac-driver-site', 'config'), config, { recursive: true });
  writeFileSync(join(config, 'specs', 'broken.yaml'), 'access: { posture: nope }\n');
  writeFileSync(join(config, 'specs', 'keyless.yaml'), 'access: { users: [{ name: a, ssh_keys: [nobody] }] }\n');
  git(config, 'init', '-q', '-b', 'main');
  git(config, 'add', 'site.yaml', 'specs', 'postures', 'presets', 'manifests');
  git(config, 'commit', '-q', '-m', 'site');
  const site = await IacDriverSite.open(config);
  ctl = await startController({
    source: site,
    routes: iacDriverRoutes(site),
    port: 0,
    credentials: { repoToken: REPO_TOKEN },
    repo: config,
    log: () => undefined,
  });
});

after(async () => {
  await ctl?.close();
  await insecure.close();
  rmSync(root, { recursive: true, force: true });
});

test('the site-config repository is served as /config.git/ with the repo token', async () => {
  const head = await get(`${ctl.url}/config.git/HEAD`, REPO_TOKEN);
  assert.equal(head.status, 200);
  assert.match(head.body, /^ref: refs\/heads\//);
  const missing = await get(`${ctl.url}/config.git/HEAD`);
  assert.equal(missing.status, 401);
  assert.equal(JSON.parse(missing.body).error.code, 'E300');
  const wrong = await get(`${ctl.url}/config.git/HEAD`, 'not-the-repo-token');
  assert.equal(wrong.status, 403);
  assert.equal(JSON.parse(wrong.body).error.code, 'E301');
  const other = await get(`${ctl.url}/ansible.git/HEAD`, REPO_TOKEN);
  assert.deepEqual(JSON.parse(other.body), { error: { code: 'E200', message: 'Repo not found: ansible' } });
});

test('a spec naming a missing posture or key answers E201 and E202; a token for a missing spec E200', async () => {
  const missingSpec = await get(`${ctl.url}/spec/edge`, mintProvisioningToken(KEY, 'edge', 'nothing'));
  assert.equal(missingSpec.status, 404);
  assert.deepEqual(JSON.parse(missingSpec.body), { error: { code: 'E200', message: 'Spec not found: nothing' } });
  const posture = await get(`${ctl.url}/spec/broken`, mintProvisioningToken(KEY, 'broken', 'broken'));
  assert.deepEqual(JSON.parse(posture.body), { error: { code: 'E201', message: 'Posture not found: nope' } });
  const key = await get(`${ctl.url}/spec/keyless`, mintProvisioningToken(KEY, 'keyless', 'keyless'));
  assert.deepEqual(JSON.parse(key.body), { error: { code: 'E202', message: 'SSH key not found: nobody' } });
  const served = await get(`${ctl.url}/spec/web`, mintProvisioningToken(KEY, 'web', 'base'));
  assert.equal(served.status, 200);
  assert.equal(JSON.parse(served.body).access._posture, undefined);
});
