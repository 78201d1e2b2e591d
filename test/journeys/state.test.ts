// Journey: two stacks give one Terraform component folder their own local state path. Both apply through the
// installed CLI, each state holds its own resource, and going back to the first stack finds its state unchanged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { BACKEND_ATMOS_YAML, type Journey, journey } from './helpers.ts';

const skip = spawnSync('terraform', ['version']).status === 0 ? false : 'terraform is not installed';

let j: Journey;

before(async () => {
  if (skip) return;
  j = await journey('state');
  const stack = (stage: string) => `vars:
  stage: ${stage}
components:
  terraform:
    store:
      backend_type: local
      backend:
        local:
          path: ${join(j.out, 'state', `${stage}.tfstate`)}
      vars:
        label: item-${stage}
`;
  j.write({
    'atmos.yaml': BACKEND_ATMOS_YAML,
    'stacks/dev.yaml': stack('dev'),
    'stacks/prod.yaml': stack('prod'),
    'components/terraform/store/main.tf': `variable "label" { type = string }
resource "terraform_data" "item" { input = var.label }
`,
  });
});

after(() => j?.cleanup());

interface State {
  serial: number;
  resources: Array<{ instances: Array<{ attributes: { id: string; input: { value: string } } }> }>;
}

/** Every state file under `dir` with the labels of the resources it holds. */
function states(dir: string): Record<string, { labels: string[]; serial: number; ids: string[] }> {
  const out: Record<string, { labels: string[]; serial: number; ids: string[] }> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.tfstate')) {
        const state = JSON.parse(readFileSync(path, 'utf8')) as State;
        const instances = state.resources.flatMap((r) => r.instances);
        out[relative(dir, path)] = {
          labels: instances.map((i) => i.attributes.input.value),
          ids: instances.map((i) => i.attributes.id),
          serial: state.serial,
        };
      }
    }
  };
  walk(dir);
  return out;
}

test('two stacks with their own state path on one component folder: each state holds its own', { skip }, async () => {
  const dev = await j.strata(['terraform', 'deploy', 'store', '-s', 'dev']);
  assert.equal(dev.code, 0, dev.stdout + dev.stderr);
  const prod = await j.strata(['terraform', 'deploy', 'store', '-s', 'prod']);
  assert.equal(prod.code, 0, prod.stdout + prod.stderr);

  const found = states(join(j.out, 'state'));
  const byStack = (stage: string) =>
    Object.entries(found).filter(([path, s]) => path.startsWith(`${stage}.tfstate`) && s.labels.length > 0);
  assert.deepEqual(
    byStack('dev').map(([, s]) => s.labels),
    [['item-dev']],
    JSON.stringify(found),
  );
  assert.deepEqual(
    byStack('prod').map(([, s]) => s.labels),
    [['item-prod']],
    JSON.stringify(found),
  );
  const folder = readdirSync(join(j.repo, 'components/terraform/store'));
  assert.ok(!folder.some((f) => f.includes('tfstate')), `no state in the component folder: ${folder.join(', ')}`);

  // Back to dev: its state is found where it was, nothing is created again.
  const before = byStack('dev')[0][1];
  const again = await j.strata(['terraform', 'deploy', 'store', '-s', 'dev']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const after = states(join(j.out, 'state'));
  const devAfter = Object.entries(after).find(([path, s]) => path.startsWith('dev.tfstate') && s.labels.length > 0);
  assert.deepEqual(devAfter?.[1].ids, before.ids);
});
