// The tofu provisioner cannot download the bpg/proxmox provider here (no network): these tests check the generated
// root modules, the dry-run command plan, and that a real terraform run that fails is reported clearly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tofuDir } from '../../src/operator/provisioners/tofu.ts';
import { renderPlanText } from '../../src/util/plan.ts';
import { manifest, startLab } from './helpers.ts';

const TOFU = manifest(`schema_version: 2
name: tf
settings: { provisioner: tofu, verify_ssh: false }
nodes:
  - { name: host, type: pve, preset: large, image: debian-12, vmid: 801 }
  - { name: web, type: vm, preset: small, image: debian-12, parent: host, ip: 192.0.2.10/24, gateway: 192.0.2.1 }
`);

test('dry run writes one isolated root module per node and lists the exact commands', async () => {
  const lab = await startLab({}, { ciuser: 'admin', ssh_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBa admin@lab'] });
  try {
    lab.context.vars.images = { 'debian-12': { template_vmid: 9000 } };
    const result = await lab.run('create', TOFU, { dryRun: true });
    assert.equal(result.success, true);
    const hostDir = tofuDir(lab.dir, 'tf', 'lab', 'host');
    const webDir = tofuDir(lab.dir, 'tf', 'lab', 'web');
    assert.notEqual(hostDir, webDir);
    const plan = renderPlanText(result.plan ?? { actions: [] });
    assert.match(plan, new RegExp(`host: module ${hostDir}`));
    assert.ok(
      plan.includes(
        `(cd ${hostDir} && TF_DATA_DIR=${join(hostDir, 'data')} TF_IN_AUTOMATION=1 TF_VAR_api_token=$PROXMOX_VE_API_TOKEN tofu init -input=false -no-color)`,
      ),
    );
    assert.ok(plan.includes('tofu apply -auto-approve -input=false -no-color -var-file=terraform.tfvars.json'));
    assert.ok(plan.includes('tofu output -json'));
    assert.equal(lab.vms().size, 0, 'a dry run creates nothing');

    const module = JSON.parse(readFileSync(join(hostDir, 'main.tf.json'), 'utf8'));
    assert.deepEqual(module.terraform[0].required_providers[0].proxmox, { source: 'bpg/proxmox', version: '~> 0.111' });
    assert.deepEqual(module.terraform[0].backend[0].local[0], { path: 'terraform.tfstate' });
    assert.equal(module.variable.api_token[0].sensitive, true);
    const vm = module.resource.proxmox_virtual_environment_vm.node[0];
    assert.equal(vm.clone[0].vm_id, `\${var.vm.template_vmid}`);
    assert.equal(module.data, undefined, 'no template lookup when the vmid is known');

    const vars = JSON.parse(readFileSync(join(hostDir, 'terraform.tfvars.json'), 'utf8'));
    assert.equal(vars.endpoint, lab.sim.url);
    assert.equal(vars.node_name, 'pve');
    assert.deepEqual(
      [vars.vm.name, vars.vm.vmid, vars.vm.cores, vars.vm.memory, vars.vm.disk, vars.vm.cpu_type],
      ['tf-host', 801, 4, 8192, 40, 'host'],
    );
    assert.deepEqual(vars.vm.tags, ['strata', 'strata-lab', 'pve']);
    assert.match(vars.vm.description, /managed-by=strata manifest=tf stack=lab node=host/);
    assert.equal(vars.vm.ciuser, 'admin');
    assert.doesNotMatch(readFileSync(join(hostDir, 'terraform.tfvars.json'), 'utf8'), new RegExp(lab.sim.tokenSecret));

    const web = JSON.parse(readFileSync(join(webDir, 'terraform.tfvars.json'), 'utf8'));
    assert.equal(web.endpoint, "<API of nested PVE 'host'>");
    assert.deepEqual([web.vm.ip, web.vm.gateway, web.vm.vmid], ['192.0.2.10/24', '192.0.2.1', null]);
  } finally {
    await lab.close();
  }
});

test('a template named in vars.images is looked up by the provider (data source), not by strata', async () => {
  const lab = await startLab();
  try {
    await lab.run('destroy', TOFU, { dryRun: true });
    const result = await lab.run('test', TOFU, { dryRun: true });
    const plan = renderPlanText(result.plan ?? { actions: [] });
    assert.ok(plan.includes('tofu destroy -auto-approve -input=false -no-color -var-file=terraform.tfvars.json'));
    const module = JSON.parse(readFileSync(join(tofuDir(lab.dir, 'tf', 'lab', 'host'), 'main.tf.json'), 'utf8'));
    assert.deepEqual(module.data.proxmox_virtual_environment_vms.template[0].filter, [
      { name: 'name', values: [`\${var.vm.template}`] },
      { name: 'template', values: [true] },
    ]);
    assert.equal(
      module.resource.proxmox_virtual_environment_vm.node[0].clone[0].vm_id,
      `\${data.proxmox_virtual_environment_vms.template.vms[0].vm_id}`,
    );
  } finally {
    await lab.close();
  }
});

const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;

test('a real terraform run that cannot get its provider fails the node with the tool output', {
  skip: terraform ? false : 'terraform not on PATH',
}, async () => {
  const lab = await startLab();
  try {
    const flatTofu = manifest(`schema_version: 2
name: tfreal
settings: { provisioner: tofu, verify_ssh: false }
nodes:
  - { name: a, type: vm, preset: small, image: debian-12 }
`);
    const result = await lab.run('create', flatTofu, { tofuBinary: 'terraform' });
    assert.equal(result.success, false);
    const error = result.nodes[0].error ?? '';
    assert.match(error, /^terraform init failed in .*tfreal--lab\/a \(exit 1\)/);
    assert.equal(result.nodes[0].status, 'failed');
  } finally {
    await lab.close();
  }
});
