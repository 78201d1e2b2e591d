/**
 * `strata vendor pull` (issue 19): vendor.yaml with imports, a git source (a local bare repository, at a tag, a
 * subfolder), a local folder, included/excluded paths, --component, --tags, component.yaml, and an honest error
 * for a scheme strata does not pull.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { makeRepo, type Repo } from '../stacks/fixtures.ts';

let upstream: string;
let repo: Repo;

function git(cwd: string, ...args: string[]) {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdio: 'ignore' });
}

before(() => {
  upstream = mkdtempSync(join(tmpdir(), 'strata-upstream-'));
  const work = join(upstream, 'work');
  mkdirSync(join(work, 'modules', 'vpc', 'test'), { recursive: true });
  writeFileSync(join(work, 'modules', 'vpc', 'main.tf'), '# vpc v1\n');
  writeFileSync(join(work, 'modules', 'vpc', 'test', 'main_test.tf'), '# test\n');
  writeFileSync(join(work, 'modules', 'vpc', 'README.md'), 'readme\n');
  git(upstream, 'init', '-q', '-b', 'main', work);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'v1');
  git(work, 'tag', 'v1.0.0');
  writeFileSync(join(work, 'modules', 'vpc', 'main.tf'), '# vpc v2\n');
  git(work, 'commit', '-qam', 'v2');
  git(work, 'tag', 'v2.0.0');
  git(upstream, 'clone', '-q', '--bare', work, join(upstream, 'modules.git'));
  const url = `file://${join(upstream, 'modules.git')}`;
  repo = makeRepo({
    'vendor.yaml': [
      'apiVersion: atmos/v1',
      'kind: AtmosVendorConfig',
      'spec:',
      '  imports: [vendor/cloud]',
      '  sources:',
      '    - component: vpc',
      `      source: "git::${url}//modules/vpc?ref={{.Version}}"`,
      '      version: v1.0.0',
      '      targets: ["components/terraform/{{ .Component }}"]',
      '      included_paths: ["**/*.tf"]',
      '      excluded_paths: ["test/**"]',
      '      tags: [networking]',
      '    - component: dns',
      '      source: ./local/dns',
      '      tags: [dns]',
    ].join('\n'),
    'vendor/cloud.yaml': [
      'spec:',
      '  sources:',
      '    - component: bucket',
      '      source: "s3::https://s3.amazonaws.com/bucket/module.zip"',
      '      tags: [cloud]',
    ].join('\n'),
    'local/dns/main.tf': '# dns\n',
    'components/terraform/app/component.yaml': [
      'apiVersion: atmos/v1',
      'kind: ComponentVendorConfig',
      'spec:',
      '  source:',
      `    uri: "git::${url}//modules/vpc?ref={{ .Version }}"`,
      '    version: v2.0.0',
      '    included_paths: ["*.tf"]',
    ].join('\n'),
  });
});
after(() => {
  repo.cleanup();
  rmSync(upstream, { recursive: true, force: true });
});

const file = (path: string) => join(repo.dir, path);

test('--tags pulls the git source at its version, with included and excluded paths', () => {
  const result = runCli(['vendor', 'pull', '--tags', 'networking'], { cwd: repo.dir });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(readFileSync(file('components/terraform/vpc/main.tf'), 'utf8'), '# vpc v1\n');
  assert.ok(!existsSync(file('components/terraform/vpc/test')), 'excluded_paths are not copied');
  assert.ok(!existsSync(file('components/terraform/vpc/README.md')), 'only included_paths are copied');
  assert.ok(!existsSync(file('components/terraform/dns')), 'other tags are not pulled');
});

test('--component pulls a local folder source into components/terraform/<component> by default', () => {
  const result = runCli(['vendor', 'pull', '-c', 'dns', '--format', 'json'], { cwd: repo.dir });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(readFileSync(file('components/terraform/dns/main.tf'), 'utf8'), '# dns\n');
  assert.equal(JSON.parse(result.stdout)[0].files, 1);
});

test("--component without a vendor.yaml entry reads the component's component.yaml", () => {
  const result = runCli(['vendor', 'pull', '-c', 'app'], { cwd: repo.dir });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(readFileSync(file('components/terraform/app/main.tf'), 'utf8'), '# vpc v2\n');
});

test('an imported source with a scheme strata does not pull is an error naming it', () => {
  const result = runCli(['vendor', 'pull', '--tags', 'cloud'], { cwd: repo.dir });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /the s3 scheme is not supported by strata/);
  assert.match(result.stderr, /local folders .* and git repositories/);
});

test('an unknown component is an error naming it', () => {
  const unknown = runCli(['vendor', 'pull', '-c', 'nope'], { cwd: repo.dir });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no vendor source for component 'nope'/);
});
