// Journey: a workflow (not a dry run) whose steps run `strata terraform deploy` on two provider-free components
// through the installed CLI; one step fails, and `--resume` runs the failed step and only the later ones again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Journey, journey, TERRAFORM_ATMOS_YAML } from './helpers.ts';

const skip = spawnSync('terraform', ['version']).status === 0 ? false : 'terraform is not installed';

let j: Journey;
const FORCE = { recursive: true, force: true };

before(async () => {
  if (skip) return;
  j = await journey('workflow');
  j.write({
    'atmos.yaml': `${TERRAFORM_ATMOS_YAML}workflows:
  base_path: workflows
`,
    'stacks/dev.yaml': `vars:
  stage: dev
components:
  terraform:
    alpha:
      vars:
        label: alpha
    beta:
      vars:
        gate: ${join(j.out, 'gate')}
`,
    // Every apply replaces the resource, so the state's serial tells how often alpha was applied.
    'components/terraform/alpha/main.tf': `variable "label" { type = string }
resource "terraform_data" "alpha" {
  input            = var.label
  triggers_replace = [timestamp()]
}
`,
    // Fails until the gate file exists.
    'components/terraform/beta/main.tf': `variable "gate" { type = string }
resource "terraform_data" "beta" {
  input = file(var.gate)
}
`,
    'workflows/deploy.yaml': `workflows:
  deploy:
    description: two deploys between two shell steps
    stack: dev
    steps:
      - name: first
        type: shell
        command: echo first >> ${join(j.out, 'steps.log')}
      - name: deploy-alpha
        command: terraform deploy alpha
      - name: deploy-beta
        command: terraform deploy beta
      - name: last
        type: shell
        command: echo last >> ${join(j.out, 'steps.log')}
`,
  });
});

after(() => j?.cleanup());

function serial(component: string): number {
  const path = join(j.repo, 'components/terraform', component, 'terraform.tfstate.d/dev/terraform.tfstate');
  return (JSON.parse(readFileSync(path, 'utf8')) as { serial: number }).serial;
}

async function failThenResume(entry: 'bin' | 'library'): Promise<void> {
  for (const dir of ['alpha', 'beta']) rmSync(join(j.repo, 'components/terraform', dir, 'terraform.tfstate.d'), FORCE);
  rmSync(join(j.repo, '.strata'), FORCE);
  rmSync(join(j.out, 'steps.log'), FORCE);
  rmSync(join(j.out, 'gate'), FORCE);
  const first = await j.strata(['workflow', 'deploy', '-f', 'deploy'], { entry });
  assert.notEqual(first.code, 0, 'the beta step fails while the gate is closed');
  assert.equal(readFileSync(join(j.out, 'steps.log'), 'utf8'), 'first\n');
  const alphaSerial = serial('alpha');
  assert.equal(existsSync(join(j.repo, 'components/terraform/beta/terraform.tfstate.d/dev/terraform.tfstate')), false);

  writeFileSync(join(j.out, 'gate'), 'open');
  const resumed = await j.strata(['workflow', 'deploy', '-f', 'deploy', '--resume'], { entry });
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.equal(readFileSync(join(j.out, 'steps.log'), 'utf8'), 'first\nlast\n', 'first ran once, last once');
  assert.equal(serial('alpha'), alphaSerial, 'alpha was not applied again');
  const beta = JSON.parse(
    readFileSync(join(j.repo, 'components/terraform/beta/terraform.tfstate.d/dev/terraform.tfstate'), 'utf8'),
  ) as { resources: Array<{ instances: Array<{ attributes: { input: { value: string } } }> }> };
  assert.equal(beta.resources[0].instances[0].attributes.input.value, 'open');
}

test('a failed strata step stops the workflow; --resume runs it and the later steps only', { skip }, () =>
  failThenResume('bin'),
);

test('the same from a program that imports strata-iac: strata steps start the installed package', { skip }, () =>
  failThenResume('library'),
);
