// Drives Debian's packer (1.6.6 on these machines) with the offline `null` builder, shell-local and the manifest post-processor.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packerOutput, packerVersion, runPacker } from '../../src/components/packer/index.ts';
import type { StrataError } from '../../src/errors.ts';
import { renderPlanText } from '../../src/util/plan.ts';
import { makeConfig, makeInstance, PACKER_TEMPLATE, tempDir, writeTree } from './helpers.ts';

const skip = spawnSync('packer', ['version']).status === 0 ? false : 'packer is not installed (apt-get install packer)';

const dir = tempDir('packer');
const config = makeConfig(dir.path);
const quiet = { onLine: () => {} };

before(() => {
  writeTree(dir.path, {
    'components/packer/image/build.pkr.hcl': PACKER_TEMPLATE,
    'components/packer/modern/main.pkr.hcl': `packer {\n  required_plugins {\n    proxmox = {\n      version = ">= 1.1.0"\n      source  = "github.com/hashicorp/proxmox"\n    }\n  }\n}\n${PACKER_TEMPLATE}`,
  });
});
after(() => dir.cleanup());

const image = (vars: Record<string, unknown>, settings: Record<string, unknown> = {}) =>
  makeInstance(config, { kind: 'packer', name: 'image', stack: 'dev', vars, settings });

test('validate, build and output: stack vars reach Packer through the JSON var file', { skip }, async () => {
  const instance = image(
    { version: '1.2.3', image_name: 'alma', token: 'packer-secret-xyz' },
    { packer: { template: 'build.pkr.hcl' } },
  );
  assert.equal((await runPacker(config, instance, { verb: 'validate', ...quiet })).exitCode, 0);
  const lines: string[] = [];
  const built = await runPacker(config, instance, { verb: 'build', color: false, onLine: (l) => lines.push(l) });
  assert.equal(built.exitCode, 0, lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('\u001b[')), 'no colour codes with color: false');
  assert.equal(readFileSync(join(instance.componentDir, 'out/artifact.txt'), 'utf8').trim(), 'alma-1.2.3');
  // The sensitive variable is masked in everything strata prints (Packer 1.6 also hides it), and the var file is gone.
  assert.ok(
    lines.some((l) => /token=(\*\*\*|<sensitive>)/.test(l)),
    lines.join('\n'),
  );
  assert.ok(!lines.some((l) => l.includes('packer-secret-xyz')));
  assert.ok(!readdirSync(instance.componentDir).some((f) => f.endsWith('.packer.vars.json')));
  assert.equal(await packerOutput(instance, '.builds[0].custom_data.image'), 'alma-1.2.3');
  assert.equal(await packerOutput(instance, '.builds[0].builder_type'), 'null');
  assert.equal(await packerOutput(instance, '.builds[3].artifact_id // "none"'), 'none');
});

test('a missing variable fails validate with packer exit code 1', { skip }, async () => {
  const lines: string[] = [];
  const result = await runPacker(config, image({}), { verb: 'validate', onLine: (l) => lines.push(l) });
  assert.equal(result.exitCode, 1);
  assert.match(lines.join('\n'), /Unset variable "version"/);
});

test('dry run shows the var file and the exact packer command line', { skip }, async () => {
  const result = await runPacker(config, image({ version: '9' }), {
    verb: 'build',
    dryRun: true,
    color: true,
    template: 'build.pkr.hcl',
  });
  assert.match(
    renderPlanText(result.dryRun ?? { actions: [] }),
    /# write components\/packer\/image\/dev-image\.packer\.vars\.json/,
  );
  assert.match(
    renderPlanText(result.dryRun ?? { actions: [] }),
    /packer build -var-file=dev-image\.packer\.vars\.json build\.pkr\.hcl/,
  );
  assert.equal(existsSync(join(dir.path, 'components/packer/image/dev-image.packer.vars.json')), false);
});

test('Packer 1.6: init and required_plugins are explained, not passed through', { skip }, async () => {
  const version = await packerVersion('packer');
  if (!version?.startsWith('1.6')) return;
  await assert.rejects(runPacker(config, image({ version: '1' }), { verb: 'init' }), (error: StrataError) => {
    assert.match(error.message, /'packer init' does not exist in the installed Packer 1\.6\.6/);
    return true;
  });
  const modern = makeInstance(config, { kind: 'packer', name: 'modern', stack: 'dev', vars: { version: '1' } });
  await assert.rejects(
    runPacker(config, modern, { verb: 'validate' }),
    /declares packer \{ required_plugins \}, which Packer 1\.6\.6 rejects/,
  );
});

test('output without a build says how to get a manifest; abstract components are not built', async () => {
  const other = makeInstance(config, { kind: 'packer', name: 'modern', stack: 'dev' });
  await assert.rejects(packerOutput(other), /no Packer manifest for 'modern'.*manifest\.json/s);
  const abstract = makeInstance(config, { kind: 'packer', name: 'image', stack: 'dev', abstract: true });
  await assert.rejects(runPacker(config, abstract, { verb: 'build' }), /abstract component cannot be provisioned/);
});
