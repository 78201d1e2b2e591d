/** Keys strata does not act on are warnings naming them, not silence (issue 19). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateStacks } from '../../src/services/validate.ts';
import { ATMOS_YAML, withRepo } from '../stacks/fixtures.ts';

test('validate stacks warns once per atmos.yaml section and component section strata does not act on', async () => {
  await withRepo(
    {
      'components/terraform/vpc/main.tf': '',
      'components/terraform/dns/main.tf': '',
      'stacks/deploy/dev.yaml': [
        'name: dev',
        'components:',
        '  terraform:',
        '    vpc:',
        '      hooks: {store-outputs: {events: [after-terraform-apply], command: store, name: local}}',
        '      source: {uri: "github.com/org/repo//modules/vpc", version: 1.0.0}',
        '    dns:',
        '      hooks: {store-outputs: {events: [after-terraform-apply]}}',
      ].join('\n'),
    },
    async (repo) => {
      const problems = await validateStacks(await repo.engine(), { checkVariables: false });
      const messages = problems.filter((p) => p.severity === 'warning').map((p) => p.message);
      assert.ok(messages.includes("'aliases' in the configuration is not acted on by strata"), messages.join('\n'));
      assert.ok(messages.some((m) => /^'hooks' is set on 2 components .* not acted on by strata$/.test(m)));
      assert.ok(messages.some((m) => /^'source' is set on 1 component \(first: vpc@dev\)/.test(m)));
      assert.equal(problems.filter((p) => p.severity === 'error').length, 0);
    },
    { atmos: `${ATMOS_YAML}aliases:\n  tp: terraform plan\n` },
  );
});
