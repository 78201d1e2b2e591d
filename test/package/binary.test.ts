/**
 * The single executable runs the example from a folder with no node_modules anywhere above it: stacks, the HCL
 * parser's WebAssembly (variable checks), the operator on the built-in simulator, and workflows whose steps call
 * strata again (the binary runs itself: process.execPath with the words, no script).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { VERSION } from '../../src/util/version.ts';
import { builtBinary } from '../helpers/binary.ts';
import { repoRoot } from '../helpers/shared.ts';

let binary: string;
let work: string;
let example: string;
/** PATH for the binary: a folder with the tools the steps use, and no node. */
let path: string;

before(async () => {
  binary = await builtBinary();
  work = mkdtempSync(join(tmpdir(), 'strata-binary-run-'));
  example = join(work, 'homelab');
  cpSync(join(repoRoot, 'examples', 'homelab'), example, { recursive: true });
  path = join(work, 'bin');
  mkdirSync(path);
  for (const tool of ['sh', 'bash', 'git', 'terraform', 'openssl']) {
    const found = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(path, tool));
  }
});
after(() => rmSync(work, { recursive: true, force: true }));

function strata(args: string[], cwd = example) {
  const env = { PATH: path, HOME: work, NO_COLOR: '1' };
  return spawnSync(binary, args, { cwd, env, encoding: 'utf8' });
}

test('no node_modules above the example, and no node on the PATH the binary gets', () => {
  for (let dir = example; dir !== '/'; dir = dirname(dir)) assert.ok(!existsSync(join(dir, 'node_modules')), dir);
  assert.notEqual(spawnSync('/bin/sh', ['-c', 'command -v node'], { env: { PATH: path } }).status, 0);
});

test('binary: --version, list stacks, describe component, validate stacks (HCL wasm), version', () => {
  assert.equal(strata(['--version']).stdout, `${VERSION}\n`);
  const stacks = strata(['list', 'stacks']);
  assert.equal(stacks.status, 0, stacks.stderr);
  assert.deepEqual(stacks.stdout.trim().split('\n'), ['pve-dev', 'pve-prod']);
  const component = strata(['describe', 'component', 'k3s-cluster', '-s', 'pve-prod', '--format', 'json']);
  assert.equal(component.status, 0, component.stderr);
  assert.equal(JSON.parse(component.stdout).vars.vm_ip, '10.23.45.31/24');
  // A var the component's variables.tf does not declare: found only by parsing the HCL (the embedded wasm).
  const stack = join(example, 'stacks', 'deploy', 'pve-prod.yaml');
  const original = readFileSync(stack, 'utf8');
  writeFileSync(stack, original.replace('vm_ip:', 'not_a_declared_variable: 1\n        vm_ip:'));
  const undeclared = strata(['validate', 'stacks']);
  writeFileSync(stack, original);
  assert.match(undeclared.stderr, /vars\.not_a_declared_variable is not declared by the component/);
  const valid = strata(['validate', 'stacks']);
  assert.equal(valid.status, 0, valid.stderr);
  assert.doesNotMatch(valid.stderr, /not declared/);
  const version = JSON.parse(strata(['version', '--format', 'json']).stdout);
  assert.equal(version.singleExecutable, true);
  assert.equal(version.strata, VERSION);
});

test('binary: manifest test --simulator creates, verifies and destroys the nested lab, and writes a report', () => {
  const result = strata([
    'manifest',
    'test',
    'nested-pve',
    '-s',
    'pve-prod',
    '--simulator',
    '--sim-latency',
    '0',
    '--yes',
  ]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const reports = readdirSync(join(example, 'reports')).filter((f) => f.endsWith('.passed.md'));
  assert.equal(reports.length, 1, reports.join(', '));
});

test('binary: a workflow step that calls strata runs the binary again', () => {
  writeFileSync(
    join(example, 'stacks', 'workflows', 'binary.yaml'),
    'workflows:\n  generate:\n    steps:\n      - command: generate env -s pve-dev --out generated/pve-dev\n',
  );
  const result = strata(['workflow', 'generate', '-f', 'binary']);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.ok(existsSync(join(example, 'generated', 'pve-dev', 'metadata.json')));
});
