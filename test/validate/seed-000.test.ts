/**
 * The repository seed 000 describes, written exactly as the seed shows it (test/fixtures/seed-000/as-written):
 * `validate stacks` names each mistake with file:line and a fix; the corrected copy (test/fixtures/seed-000/fixed)
 * lists, describes and validates green.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';

const fixtures = join(repoRoot, 'test', 'fixtures', 'seed-000');
const env = { ATMOS_GIT_ROOT_BASEPATH: 'false' };

test('seed 000 as written: validate stacks reports each mistake with where and how to fix it', () => {
  const cwd = join(fixtures, 'as-written');
  const result = runCli(['validate', 'stacks'], { cwd, env });
  assert.equal(result.code, 1);
  const err = result.stderr;
  // name_pattern holds a Go template (name_template's syntax): every stack would be named after its file.
  assert.match(err, /atmos\.yaml:\d+: stacks\.name_pattern '\{\{ \.vars\.environment \}\}' is a Go template/);
  assert.match(err, /write name_template: "\{\{ \.vars\.environment \}\}" instead/);
  // Steps without a type run strata commands: `sleep`, `kubectl` and a leading `atmos` would fail at run time.
  assert.match(
    err,
    /deploy\.yaml:8:9: workflow 'deploy-homelab': step 'Wait for image availability' runs 'strata sleep'/,
  );
  assert.match(err, /add type: shell to run 'sleep 30'/);
  assert.match(err, /step 'Bootstrap Argo CD' runs 'strata kubectl'/);
  assert.match(err, /deploy\.yaml:11:9: .*step 'Deploy k3s cluster' runs 'atmos terraform apply/);
  assert.match(err, /drop the leading 'atmos': command: terraform apply k3s-cluster -s pve-prod -auto-approve/);
  // Component vars that read themselves (`vm_name: "{{ .vars.vm_name }}"`) render their own template text.
  assert.match(
    err,
    /pve-prod\.yaml:\d+: k3s-cluster@deploy\/pve-prod: vars\.vm_name is '\{\{ \.vars\.vm_name \}\}', which reads vars\.vm_name itself/,
  );
  assert.doesNotMatch(err, /Internal error/);
});

test('seed 000 fixed: validate, list and describe are green', () => {
  const cwd = join(fixtures, 'fixed');
  const validate = runCli(['validate', 'stacks'], { cwd, env });
  assert.equal(validate.code, 0, validate.stderr);
  assert.match(validate.stderr, /All stacks validated successfully/);
  const list = runCli(['list', 'stacks'], { cwd, env });
  assert.equal(list.stdout.trim(), 'pve-prod');
  const ip = runCli(['describe', 'component', 'k3s-cluster', '-s', 'pve-prod', '-q', '.vars.vm_ip'], { cwd, env });
  assert.equal(ip.stdout.trim(), '10.23.45.31/24');
  const stacks = runCli(['describe', 'stacks', '--format', 'json'], { cwd, env });
  assert.equal(stacks.code, 0, stacks.stderr);
  const image = JSON.parse(stacks.stdout)['pve-prod'].components.packer['alma9-k3s-optimized'];
  assert.equal(image.vars.proxmox_url, 'https://10.23.45.10:8006/api2/json');
  assert.equal('workspace' in image, false);
});
