/**
 * Shell completion: what a TAB offers at every depth, the cache it answers from (where, when it is rebuilt), its
 * cost, and the bash, zsh and fish scripts driven by the real shells.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { measureStartup } from '../../bench/startup.ts';
import { repoRoot } from '../helpers/shared.ts';

const bundle = join(repoRoot, 'dist', 'strata.mjs');
let work: string;
let example: string;
let cacheHome: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'strata-completion-'));
  example = join(work, 'homelab');
  cacheHome = join(work, 'cache');
  cpSync(join(repoRoot, 'examples', 'homelab'), example, { recursive: true });
});
after(() => rmSync(work, { recursive: true, force: true }));

const env = () => ({ ...process.env, XDG_CACHE_HOME: cacheHome, NO_COLOR: '1' });

/** What a TAB after `words` offers (the last word is the one being typed, maybe empty). */
function tab(...words: string[]): string[] {
  const result = spawnSync(process.execPath, [bundle, '__complete', ...words], {
    cwd: example,
    env: env(),
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter(Boolean);
}

function cacheFiles(): string[] {
  const dir = join(cacheHome, 'strata', 'completion');
  return readdirSync(dir).map((f) => join(dir, f));
}

test('commands at every depth, flags, and the choices a flag or argument has', () => {
  const top = tab('');
  for (const command of ['describe', 'list', 'terraform', 'workflow', 'manifest', 'secrets', 'ci', 'version']) {
    assert.ok(top.includes(command), `${command} in ${top.join(' ')}`);
  }
  assert.ok(!top.includes('__complete') && !top.includes('tf'), 'hidden commands and aliases are not offered');
  assert.deepEqual(tab('describe', 'c'), ['component', 'config']);
  assert.deepEqual(tab('serve', 'token', ''), ['issue', 'verify']);
  assert.deepEqual(tab('terraform', 'generate', ''), ['backend', 'planfile', 'varfile']);
  assert.deepEqual(tab('terraform', 'state', 'l'), ['list']);
  assert.ok(tab('describe', 'component', '--').includes('--provenance'));
  assert.ok(tab('describe', 'component', '--').includes('--config'), 'global options everywhere');
  assert.deepEqual(tab('terraform', 'plan', '--d'), ['--dry-run']);
  assert.deepEqual(tab('list', 'stacks', '--format', ''), ['json', 'text', 'yaml']);
  assert.deepEqual(tab('describe', 'config', '--format', ''), ['json', 'yaml']);
  assert.deepEqual(tab('completion', ''), ['bash', 'fish', 'zsh']);
  assert.deepEqual(tab('ci', 'init', ''), ['gitea', 'github', 'gitlab']);
});

test('stack names, component names per kind without abstract ones, workflows and their files, manifests', () => {
  assert.deepEqual(tab('list', 'components', '-s', ''), ['pve-dev', 'pve-prod']);
  assert.deepEqual(tab('terraform', 'plan', ''), ['k3s-cluster']);
  assert.deepEqual(tab('tf', 'deploy', 'k3s-cluster', '--stack=pve-p'), []);
  assert.deepEqual(tab('tf', 'deploy', 'k3s-cluster', '--stack', 'pve-p'), ['pve-prod']);
  assert.deepEqual(tab('packer', 'build', ''), ['alma9-k3s-optimized']);
  assert.deepEqual(tab('kubernetes', 'apply', ''), ['argo-apps', 'argo-bootstrap'], 'argo-defaults is abstract');
  assert.deepEqual(tab('ansible', 'playbook', ''), ['k3s-node-prep']);
  assert.ok(tab('describe', 'component', '').includes('argo-apps'));
  assert.ok(!tab('describe', 'component', '').includes('argo-defaults'));
  assert.deepEqual(tab('workflow', '-f', ''), ['deploy', 'infrastructure', 'kubernetes', 'lab', 'packer']);
  assert.deepEqual(tab('workflow', '-f', 'infrastructure', ''), ['deploy-infrastructure', 'destroy-infrastructure']);
  assert.ok(tab('workflow', 'd').includes('deploy-homelab'));
  assert.deepEqual(tab('manifest', 'test', ''), ['k3s-single', 'nested-pve']);
});

test('the cache: one file per folder under XDG_CACHE_HOME, rebuilt when a stack, workflow or manifest changes', () => {
  tab('');
  const [file] = cacheFiles();
  const built = statSync(file).mtimeMs;
  tab('terraform', 'plan', '');
  assert.equal(statSync(file).mtimeMs, built, 'answered from the cache');
  writeFileSync(
    join(example, 'stacks', 'deploy', 'pve-lab.yaml'),
    'import:\n  - catalog/proxmox\nvars:\n  tenant: pve\n  stage: lab\n',
  );
  assert.ok(tab('list', 'components', '-s', '').includes('pve-lab'), 'a new stack file');
  assert.notEqual(statSync(file).mtimeMs, built);
  writeFileSync(join(example, 'stacks', 'manifests', 'extra.yaml'), 'nodes: []\n');
  assert.ok(tab('manifest', 'plan', '').includes('extra'), 'a new manifest');
  const workflows = join(example, 'stacks', 'workflows', 'packer.yaml');
  const original = readFileSync(workflows, 'utf8');
  writeFileSync(
    workflows,
    'workflows:\n  rebuild-image:\n    steps:\n      - command: packer build alma9-k3s-optimized\n',
  );
  assert.deepEqual(tab('workflow', '-f', 'packer', ''), ['rebuild-image'], 'an edited workflow file');
  writeFileSync(workflows, original);
  rmSync(join(example, 'stacks', 'deploy', 'pve-lab.yaml'));
  rmSync(join(example, 'stacks', 'manifests', 'extra.yaml'));
  assert.deepEqual(tab('list', 'components', '-s', ''), ['pve-dev', 'pve-prod'], 'a removed stack file');
  assert.equal(cacheFiles().length, 1);
  // Another folder has its own cache, with no stacks there.
  const elsewhere = spawnSync(process.execPath, [bundle, '__complete', 'terraform', 'plan', ''], {
    cwd: work,
    env: env(),
    encoding: 'utf8',
  });
  assert.equal(elsewhere.stdout, '');
  assert.equal(cacheFiles().length, 2);
});

test('a TAB answered from the cache costs <= 150 ms (or <= 3x `node -e 0` when the machine is slower)', () => {
  tab('terraform', 'plan', '');
  const cases = [
    { name: 'node -e 0', command: process.execPath, args: ['-e', '0'], cwd: example },
    { name: 'TAB', command: process.execPath, args: [bundle, '__complete', 'terraform', 'plan', ''], cwd: example },
  ];
  const before = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cacheHome;
  try {
    let [node, answer] = measureStartup(cases, 10);
    for (let attempt = 0; attempt < 2 && answer.min_ms > 150 && answer.min_ratio > 3; attempt++) {
      [node, answer] = measureStartup(cases, 10);
    }
    assert.ok(answer.min_ms <= 150 || answer.min_ratio <= 3, JSON.stringify({ node, answer }));
  } finally {
    if (before === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = before;
  }
});

/** The script `strata completion <shell>` prints, written to a file. */
function script(shell: string): string {
  const path = join(work, `strata.${shell}`);
  const result = spawnSync(process.execPath, [bundle, 'completion', shell], { env: env(), encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  writeFileSync(path, result.stdout);
  return path;
}

const hasShell = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

test('the script calls the strata that printed it, by absolute path', () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    const text = readFileSync(script(shell), 'utf8');
    assert.ok(text.includes(`'${process.execPath}' '${bundle}' __complete`), text);
  }
});

test('bash: the completion function fills COMPREPLY', () => {
  const out = execFileSync(
    'bash',
    [
      '-c',
      `source ${script('bash')}; COMP_WORDS=(strata terraform plan k3s-cluster -s ''); COMP_CWORD=5; ` +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own expansion
        '_strata_complete; printf "%s\\n" "${COMPREPLY[@]}"; complete -p strata',
    ],
    { cwd: example, env: env(), encoding: 'utf8' },
  );
  assert.equal(out, 'pve-dev\npve-prod\ncomplete -o default -F _strata_complete strata\n');
});

test('zsh: the completion function hands the candidates to compadd', { skip: !hasShell('zsh') && 'no zsh' }, () => {
  const out = execFileSync(
    'zsh',
    [
      '-c',
      // compdef and compadd belong to the completion system; stand-ins record what the script gives them.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: zsh's own expansion
      'compdef() { print "compdef $*" }; compadd() { print -l -- "$1" "${(@P)2}" }; _files() { print files }; ' +
        `source ${script('zsh')}; ` +
        'words=(strata workflow -f ""); CURRENT=4; _strata; words=(strata secrets view ""); CURRENT=4; _strata',
    ],
    { cwd: example, env: env(), encoding: 'utf8' },
  );
  assert.equal(out, 'compdef _strata strata\n-a\ndeploy\ninfrastructure\nkubernetes\nlab\npacker\nfiles\n');
});

test('fish: `complete -C` completes a command line', { skip: !hasShell('fish') && 'no fish' }, () => {
  const out = execFileSync('fish', ['-c', `source ${script('fish')}; complete -C 'strata manifest create '`], {
    cwd: example,
    env: env(),
    encoding: 'utf8',
  });
  assert.deepEqual(out.split('\n').filter(Boolean), ['k3s-single', 'nested-pve']);
});
