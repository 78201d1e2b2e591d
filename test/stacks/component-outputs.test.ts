/**
 * `atmos.Component(...).outputs` reads the component's outputs as `!terraform.output` does (issue 19): from its
 * state, only when a template reads them, and an unprovisioned component is an error saying so, never `<no value>`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeComponent } from '../../src/services/describe.ts';
import { loadEngine } from '../../src/stacks/index.ts';
import { ATMOS_YAML, withRepo } from './fixtures.ts';

const atmos = `${ATMOS_YAML}templates:\n  settings:\n    enabled: true\n`;
const state = JSON.stringify({
  version: 4,
  outputs: { vpc_id: { value: 'vpc-42', type: 'string' }, azs: { value: ['a', 'b'], type: ['list', 'string'] } },
});

const stack = (vars: string[]) =>
  ['name: dev', 'components:', '  terraform:', '    vpc: {vars: {cidr: 10.0.0.0/16}}', '    app:', '      vars:']
    .concat(vars.map((v) => `        ${v}`))
    .join('\n');

test('atmos.Component outputs come from the state; vars need no outputs', async () => {
  await withRepo(
    {
      'components/terraform/vpc/main.tf': 'output "vpc_id" { value = "vpc-42" }\n',
      'components/terraform/vpc/terraform.tfstate.d/dev/terraform.tfstate': state,
      'stacks/deploy/dev.yaml': stack([
        `vpc_id: '{{ (atmos.Component "vpc" .stack).outputs.vpc_id }}'`,
        `first_az: '{{ index (atmos.Component "vpc" .stack).outputs.azs 0 }}'`,
        `cidr: '{{ (atmos.Component "vpc" .stack).vars.cidr }}'`,
      ]),
    },
    async (repo) => {
      const { description } = await describeComponent(await repo.engine(), 'app', 'dev');
      assert.deepEqual(description.vars, { vpc_id: 'vpc-42', first_az: 'a', cidr: '10.0.0.0/16' });
    },
    { atmos },
  );
});

test('outputs of an unprovisioned component are an error that says so', async () => {
  await withRepo(
    {
      'components/terraform/vpc/main.tf': 'output "vpc_id" { value = "vpc-42" }\n',
      'stacks/deploy/dev.yaml': stack([`vpc_id: '{{ (atmos.Component "vpc" .stack).outputs.vpc_id }}'`]),
    },
    async (repo) => {
      await assert.rejects(describeComponent(await repo.engine(), 'app', 'dev'), (error: Error) => {
        assert.match(error.message, /atmos\.Component "vpc" "dev": \.outputs: .*not provisioned/);
        return true;
      });
      // Without strata's resolvers (the bare engine), the error says that nothing reads outputs.
      const bare = await loadEngine({ cwd: repo.dir, env: {} });
      await assert.rejects(bare.describeComponent('app', 'dev'), /\.outputs needs Terraform outputs/);
    },
    { atmos },
  );
});
