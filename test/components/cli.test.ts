// `strata terraform|ansible ...` as a user runs it: a small repository in a temp dir, the real stack engine,
// the real terraform / ansible-playbook, and real signals.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { repoRoot, sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { cliEnv, makeRepo } from './fixture.ts';
import { HOLD_TF, SLOW_TF } from './helpers.ts';

const repo = makeRepo(
  'cli',
  {
    terraform: { backend_type: 'local', backend: { local: {} } },
    components: {
      terraform: {
        app: { vars: { name: 'web', token: 'cli-secret-token' } },
        'app-off': { metadata: { component: 'app', enabled: false }, vars: { name: 'off' } },
        'app-locked': { metadata: { component: 'app', locked: true }, vars: { name: 'locked' } },
        'app-base': { metadata: { component: 'app', type: 'abstract' }, vars: { name: 'base' } },
        slow: { vars: { sleep: 0 } },
        held: { vars: { name: 'held' } },
        broken: {},
      },
      ansible: {
        pause: { vars: { out_dir: 'unused' }, settings: { ansible: { inventory: 'localhost,' } } },
      },
    },
  },
  {
    'components/terraform/slow/main.tf': SLOW_TF,
    'components/terraform/held/main.tf': HOLD_TF,
    'components/terraform/broken/main.tf': 'resource "terraform_data" "x" {\n  input = var.undeclared\n}\n',
    'components/ansible/pause/site.yml':
      // Waits (at most 30 s) for the file `release` names: the test lets it go once strata was interrupted.
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: wait\n      ansible.builtin.shell: >-\n        i=0; while [ ! -f {{ release }} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n',
  },
);
after(() => repo.cleanup());

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: repo.path, env: cliEnv(env) });
const appDir = join(repo.path, 'components/terraform/app');

test('A37: deploy of a locked component is refused before any subprocess (Atmos conformance)', {
  skip: skipWithoutShared,
}, () => {
  // Reads the Atmos conformance fixture from ../shared (never writes there: the refusal comes first).
  const scenario = join(sharedDir, 'conformance/atmos/tests/fixtures/scenarios/metadata');
  const golden = readFileSync(
    join(
      sharedDir,
      'conformance/atmos/tests/snapshots/TestCLICommands_atmos_terraform_deploy_locked_component.stderr.golden',
    ),
    'utf8',
  );
  // PATH holds only node: any attempt to run terraform would fail differently.
  const result = runCli(['terraform', 'deploy', 'mock', '-s', 'prod'], {
    cwd: scenario,
    env: { PATH: dirname(process.execPath) },
  });
  assert.equal(result.code, 1, result.stderr);
  assert.match(golden, /locked component cannot be provisioned/);
  assert.match(result.stderr, /locked component cannot be provisioned/);
  assert.match(result.stderr, /component 'mock' cannot be modified \(metadata\.locked: true\)/);
});

test('deploy, output and the var file naming through the CLI; secrets never printed', () => {
  const deployed = cli(['terraform', 'deploy', 'app', '-s', 'dev']);
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.match(deployed.stdout, /Apply complete! Resources: 1 added/);
  assert.doesNotMatch(deployed.stdout + deployed.stderr, /cli-secret-token/);
  assert.doesNotMatch(deployed.stderr, /Unable to open CLI configuration file/);
  const output = cli(['terraform', 'output', 'app', '-s', 'dev', '-json']);
  assert.equal(output.code, 0, output.stderr);
  assert.equal(JSON.parse(output.stdout).name.value, 'web-dev');
  const varfile = cli(['terraform', 'generate', 'varfile', 'app', '-s', 'dev']);
  assert.equal(varfile.code, 0, varfile.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(appDir, 'dev-app.terraform.tfvars.json'), 'utf8')), {
    name: 'web',
    stage: 'dev',
    // Declared sensitive: a generated file in the component folder shows it masked, as describe does.
    token: '*** (sensitive variable)',
  });
  const planfile = cli(['terraform', 'generate', 'planfile', 'app', '-s', 'dev', '--format', 'json']);
  assert.equal(planfile.code, 0, planfile.stderr);
  assert.equal(
    JSON.parse(readFileSync(join(appDir, 'dev-app.planfile.json'), 'utf8')).format_version !== undefined,
    true,
  );
});

test('usage and lookup errors: missing stack (2), unknown component with a suggestion (1)', () => {
  const missing = cli(['terraform', 'plan', 'app']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing stack/);
  const unknown = cli(['terraform', 'plan', 'ap', '-s', 'dev']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /component 'ap' not found in stack 'dev'/);
  const disabled = cli(['terraform', 'plan', 'app-off', '-s', 'dev']);
  assert.equal(disabled.code, 0);
  assert.match(disabled.stderr, /is not enabled and skipped/);
});

test("terraform's exit code is strata's; a missing terraform is an actionable error", () => {
  const broken = cli(['terraform', 'plan', 'broken', '-s', 'dev']);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout + broken.stderr, /undeclared/);
  const noTool = cli(['terraform', 'plan', 'app', '-s', 'dev'], { PATH: dirname(process.execPath) });
  assert.equal(noTool.code, 1);
  assert.match(noTool.stderr, /terraform not found on PATH/);
  assert.match(noTool.stderr, /Hint: install Terraform/);
});

/** Spawns the CLI without waiting; `text()` is everything printed so far. */
function start(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; text: () => string; exit: Promise<number> } {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'strata.js'), ...args], {
    cwd: repo.path,
    env: { ...process.env, NO_COLOR: '1', ...cliEnv(env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  return { child, text: () => output, exit };
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('two concurrent deploys of one stack+component: the second fails with a lock error, state intact', async () => {
  // The first apply holds the lock until the test writes the release file (a second strata may take seconds to
  // start on a busy 2-core runner; nothing here depends on how long).
  const signals = mkdtempSync(join(tmpdir(), 'strata-cli-hold-'));
  const hold = ['--', `-var=signal_dir=${signals}`];
  const first = start(['terraform', 'deploy', 'held', '-s', 'dev', ...hold]);
  try {
    await waitFor(() => first.text().includes('Provisioning with'), 'the first apply to hold the lock');
    const second = cli(['terraform', 'deploy', 'held', '-s', 'dev', '--skip-init', ...hold]);
    assert.equal(second.code, 1);
    assert.match(second.stderr + second.stdout, /Error acquiring the state lock/);
    assert.match(second.stderr, /the state of 'held' in stack 'dev' is locked by another run/);
    assert.equal(first.child.exitCode, null, 'the first apply still held the lock when the second was refused');
  } finally {
    writeFileSync(join(signals, 'release'), '');
  }
  assert.equal(await first.exit, 0, first.text());
  rmSync(signals, { recursive: true, force: true });
  const state = JSON.parse(
    readFileSync(join(repo.path, 'components/terraform/held/terraform.tfstate.d/dev/terraform.tfstate'), 'utf8'),
  );
  assert.equal(state.resources.length, 1);
  assert.equal(state.outputs.name.value, 'held');
});

test('Ctrl-C during apply: strata waits for terraform, which saves state and releases the lock', async () => {
  const run = start(['terraform', 'deploy', 'slow', '-s', 'dev', '--', '-var=sleep=20']);
  await waitFor(() => run.text().includes('Provisioning with'), 'the apply to start');
  run.child.kill('SIGINT');
  const code = await run.exit;
  assert.notEqual(code, 0);
  assert.match(run.text(), /strata: received SIGINT, waiting for 1 running command/);
  assert.match(run.text(), /Interrupt received/);
  // The next apply runs normally: no stale lock, a readable state.
  const next = cli(['terraform', 'deploy', 'slow', '-s', 'dev']);
  assert.equal(next.code, 0, next.stdout + next.stderr);
  assert.match(next.stdout, /Apply complete!/);
});

test('Ctrl-C during ansible-playbook: the extra vars file is removed', {
  skip: spawnSync('ansible-playbook', ['--version']).status === 0 ? false : 'ansible-playbook missing',
}, async () => {
  const temp = mkdtempSync(join(tmpdir(), 'strata-cli-tmp-'));
  try {
    const release = join(temp, 'release');
    const run = start(['ansible', 'playbook', 'pause', '-s', 'dev', '--', '-c', 'local', '-e', `release=${release}`], {
      TMPDIR: temp,
      STRATA_SECRET_TMPDIR: temp,
      ANSIBLE_LOCALHOST_WARNING: 'False',
      ANSIBLE_LOCAL_TEMP: join(temp, 'ansible-local'),
      ANSIBLE_REMOTE_TEMP: join(temp, 'ansible-remote'),
    });
    await waitFor(() => run.text().includes('TASK [wait]'), 'the play to start', 30_000);
    assert.equal(readdirSync(temp).filter((n) => n.startsWith('strata-ansible-')).length, 1);
    run.child.kill('SIGINT');
    // Whether or not the task's shell saw the interrupt, it has nothing left to wait for.
    writeFileSync(release, '');
    assert.notEqual(await run.exit, 0);
    assert.deepEqual(
      readdirSync(temp).filter((n) => n.startsWith('strata-ansible-')),
      [],
    );
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
});

test('clean --force removes generated files; --dry-run only lists them', () => {
  const listed = cli(['terraform', 'clean', 'app', '-s', 'dev', '--dry-run']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /rm -rf components\/terraform\/app\/\.terraform/);
  assert.ok(existsSync(join(appDir, '.terraform')));
  const refused = cli(['terraform', 'clean', 'app', '-s', 'dev']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /pass --force/);
  const cleaned = cli(['terraform', 'clean', 'app', '-s', 'dev', '--force']);
  assert.equal(cleaned.code, 0, cleaned.stderr);
  assert.equal(existsSync(join(appDir, '.terraform')), false);
  assert.ok(existsSync(join(appDir, 'terraform.tfstate.d')), 'state is kept without --everything');
});

test('shell: the component folder with the workspace selected and the var file wired in', () => {
  const result = runCli(['terraform', 'shell', 'app', '-s', 'dev'], {
    cwd: repo.path,
    env: cliEnv({ SHELL: '/bin/sh' }),
    input: 'echo "level=$STRATA_SHLVL"; pwd; terraform workspace show; echo "$TF_CLI_ARGS_plan"\n',
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /level=1/);
  assert.match(result.stdout, new RegExp(`${appDir}\\n`));
  assert.match(result.stdout, /^dev$/m);
  assert.match(result.stdout, /-var-file=.*dev-app\.terraform\.tfvars\.json/);
});
