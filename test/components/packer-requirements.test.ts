// Packer's own requirements (required_version, required_plugins) are checked against the installed packer before
// a run: with Debian's 1.6.6 a template that needs more fails with the install hint, and Packer never starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { packerVersion, runPacker } from '../../src/components/packer/index.ts';
import { packerRequirements, satisfies } from '../../src/components/packer/requirements.ts';
import { makeConfig, makeInstance, PACKER_TEMPLATE, tempDir, writeTree } from './helpers.ts';

const skip = spawnSync('packer', ['version']).status === 0 ? false : 'packer is not installed (apt-get install packer)';
const dir = tempDir('packer-needs');
const config = makeConfig(dir.path);
const quiet = { onLine: () => {} };
const versions = (constraint: string) => `packer {\n  required_version = "${constraint}"\n}\n`;

before(() => {
  writeTree(dir.path, {
    'components/packer/newer/versions.pkr.hcl': `// packer { required_version = ">= 99" }\n${versions('>= 1.7.0, < 2.0.0')}`,
    'components/packer/newer/build.pkr.hcl': PACKER_TEMPLATE,
    'components/packer/older/versions.pkr.hcl': versions('>= 1.6.0'),
    'components/packer/older/build.pkr.hcl': PACKER_TEMPLATE,
    'components/packer/plain/build.pkr.hcl': PACKER_TEMPLATE,
  });
});
after(() => dir.cleanup());

const component = (name: string, settings: Record<string, unknown> = {}) =>
  makeInstance(config, { kind: 'packer', name, stack: 'dev', vars: { version: '1' }, settings });

test('satisfies: >= and < agree with comparing the version triples', () => {
  const triple = fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20));
  fc.assert(
    fc.property(triple, triple, (have, want) => {
      const [v, w] = [have.join('.'), want.join('.')];
      const order = have[0] - want[0] || have[1] - want[1] || have[2] - want[2];
      assert.equal(satisfies(v, `>= ${w}`), order >= 0);
      assert.equal(satisfies(v, `< ${w}`), order < 0);
      assert.equal(satisfies(v, `>= ${w}, < ${w}`), false);
    }),
    { numRuns: 200 },
  );
  assert.equal(satisfies('1.9.4', '~> 1.9'), true);
  assert.equal(satisfies('2.0.0', '~> 1.9'), false);
  assert.equal(satisfies('1.10.0', '~> 1.9.2'), false);
  assert.equal(satisfies('1.6.6', '>= 1.10.0'), false);
});

test('the requirements are read from the packer block, comments ignored', async () => {
  const needs = await packerRequirements(join(dir.path, 'components/packer/newer'));
  assert.deepEqual(needs.version, { constraint: '>= 1.7.0, < 2.0.0', file: 'versions.pkr.hcl' });
  assert.equal(needs.pluginsFile, undefined);
  assert.deepEqual(await packerRequirements(join(dir.path, 'components/packer/plain')), {});
});

test('a template that needs a newer Packer fails before Packer runs, with the install hint', { skip }, async () => {
  const installed = await packerVersion('packer');
  if (!installed || satisfies(installed, '>= 1.7.0')) return; // only an old Packer can show this
  const newer = component('newer');
  await assert.rejects(runPacker(config, newer, { verb: 'build', ...quiet }), (error: Error & { hint?: string }) => {
    assert.match(error.message, /needs Packer >= 1\.7\.0, < 2\.0\.0 \(required_version in versions\.pkr\.hcl\)/);
    assert.match(error.message, new RegExp(`installed packer is ${installed.replace(/\./g, '\\.')}`));
    assert.match(error.hint ?? '', /developer\.hashicorp\.com\/packer\/install/);
    return true;
  });
  // Nothing ran: no artifact, no var file.
  assert.equal(existsSync(join(newer.componentDir, 'out')), false);
  assert.ok(!readdirSync(newer.componentDir).some((f) => f.endsWith('.packer.vars.json')));
  // settings.packer.required_version (what the homelab example sets) wins over a template without a packer block.
  const pinned = component('plain', { packer: { required_version: '>= 1.10.0' } });
  await assert.rejects(runPacker(config, pinned, { verb: 'validate', ...quiet }), /needs Packer >= 1\.10\.0/);
  // fmt reads only the syntax: it runs.
  assert.equal((await runPacker(config, pinned, { verb: 'fmt', ...quiet })).exitCode, 0);
});

test('a template whose required_version the installed Packer meets builds', { skip }, async () => {
  const older = component('older');
  assert.equal((await runPacker(config, older, { verb: 'build', color: false, ...quiet })).exitCode, 0);
  assert.ok(existsSync(join(older.componentDir, 'out', 'artifact.txt')));
});
