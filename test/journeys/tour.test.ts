// Journey: every command of the README tour runs as written (`npx strata ...`, in the README's order) on a fresh
// clone of examples/homelab with the installed package, and leaves its real artifacts: the simulator's exports
// point the operator at a standalone `strata pve-sim`, the offline workflow and `manifest test` write passed
// reports, `serve` serves the k3s node's spec, `ci init` writes its pipeline. The commands are read from README.md,
// so a changed tour is walked as changed.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { installedStrata } from '../helpers/installed.ts';
import { repoRoot } from '../helpers/shared.ts';
import { type Journey, journey } from './helpers.ts';

const example = join(repoRoot, 'examples', 'homelab');
const GENERATED = /(^|\/)(\.terraform|\.strata|\.kube|\.github|reports|terraform\.tfstate\.d)(\/|$)/;

/** Tour commands not run here, with the reason (each must still be in the README, so this list stays honest). */
const NOT_RUN: Record<string, string> = {
  'npx strata doctor backend k3s-cluster -s pve-prod --bootstrap':
    'creates a real S3 bucket and DynamoDB table (test/journeys/s3.test.ts runs it against a local S3)',
};

let j: Journey;
const servers: ChildProcess[] = [];

interface TourCommand {
  section: string;
  command: string;
}

/** Every command of the README's "A tour" section, in order, without comments. */
function tourCommands(): TourCommand[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## A tour\n');
  assert.ok(start >= 0, 'README has an "## A tour" section');
  const end = readme.indexOf('\n## ', start + 1);
  const tour = readme.slice(start, end < 0 ? undefined : end);
  const commands: TourCommand[] = [];
  let section = '';
  for (const part of tour.split(/(?=^### )/m)) {
    section = /^### (.*)$/m.exec(part)?.[1] ?? section;
    for (const block of part.matchAll(/```bash\n([\s\S]*?)```/g)) {
      for (const line of block[1].split('\n')) {
        const command = line.replace(/\s+#.*$/, '').trim();
        if (command !== '') commands.push({ section, command });
      }
    }
  }
  return commands;
}

/**
 * What the "Remote state" section asks the reader to do before its commands: put its YAML (the s3 backend) in place
 * of k3s-cluster's local backend in stacks/catalog/proxmox.yaml.
 */
function applyRemoteStateSetting(): void {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Remote state\n'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(yaml, 'the Remote state section shows the setting');
  const catalog = join(j.repo, 'stacks', 'catalog', 'proxmox.yaml');
  const local = /^ {6}backend_type: local\n {6}backend:\n {8}local:\n {10}path: terraform\.tfstate\n/m;
  const text = readFileSync(catalog, 'utf8');
  assert.match(text, local, "the catalog holds k3s-cluster's local backend");
  writeFileSync(catalog, text.replace(local, yaml));
}

/** Starts a long-running tour command (its own process group) and resolves with its stdout once `ready` matches. */
function startServer(command: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<string> {
  const child = spawn('bash', ['-c', command], { cwd: j.repo, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} not ready in 60s\n${stdout}${stderr}`)), 60_000);
    const check = () => {
      if (!ready.test(stdout + stderr)) return;
      clearTimeout(timer);
      resolve(stdout);
    };
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      check();
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
      check();
    });
    child.on('close', (code) => reject(new Error(`${command} ended (${code})\n${stdout}${stderr}`)));
  });
}

/**
 * After the first tour command has gone through the real npx (which found the package in node_modules above the
 * project), a stand-in for npx's lookup: `npx strata ...` runs that same node_modules/.bin/strata. npx itself costs
 * about 0.7 s of CPU per command and does the same lookup every time; any other npx use goes to the real one.
 */
function npxShim(): string {
  const npx = spawnSync('bash', ['-c', 'command -v npx'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(npx, 'npx is on the PATH');
  const dir = join(j.root, 'npx-shim');
  mkdirSync(dir);
  const bin = join(j.root, 'node_modules', '.bin', 'strata');
  const script = `#!/bin/sh\nif [ "$1" = strata ]; then shift; exec '${bin}' "$@"; fi\nexec '${npx}' "$@"\n`;
  writeFileSync(join(dir, 'npx'), script, { mode: 0o755 });
  return dir;
}

/** `export NAME='value'` lines as a shell would apply them. */
function exportsOf(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const match of text.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)) vars[match[1]] = match[2];
  return vars;
}

/** GET over HTTPS from the self-signed controller, as a node would (after pinning its fingerprint). */
function fetchJson(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    get(url, { rejectUnauthorized: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
    }).on('error', reject);
  });
}

before(async () => {
  j = await journey('tour');
  cpSync(example, j.repo, { recursive: true, filter: (path) => !GENERATED.test(relative(example, path)) });
  // A fresh clone: the example committed on main.
  j.git('init', '-q', '-b', 'main');
  j.git('add', '-A');
  j.git('commit', '-q', '-m', 'homelab');
  // `npx strata` finds the installed package in node_modules above the project, as in a user's checkout.
  symlinkSync(join((await installedStrata()).project, 'node_modules'), join(j.root, 'node_modules'));
});

after(() => {
  for (const child of servers) {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
  }
  j?.cleanup();
});

test('every command of the README tour runs as written on the example', async () => {
  const commands = tourCommands();
  for (const command of Object.keys(NOT_RUN)) {
    assert.ok(
      commands.some((c) => c.command === command),
      `NOT_RUN names a tour command: ${command}`,
    );
  }
  const env: NodeJS.ProcessEnv = { ...j.env };
  const outputs = new Map<string, { stdout: string; stderr: string }>();
  let previous = '';
  for (const { section, command } of commands) {
    if (section === 'Remote state' && previous !== section) applyRemoteStateSetting();
    previous = section;
    if (NOT_RUN[command]) continue;
    if (/^npx strata pve-sim /.test(command)) {
      Object.assign(env, exportsOf(await startServer(command, env, /STRATA_PVE_SIMULATOR/)));
      continue;
    }
    if (/^npx strata serve /.test(command)) {
      await startServer(command, env, /listening on/);
      const port = /--port (\d+)/.exec(command)?.[1] ?? '44443';
      const spec = await fetchJson(`https://127.0.0.1:${port}/spec/k3s-s1`);
      assert.deepEqual(spec.identity, { hostname: 'k3s-s1' }, 'serve hands the k3s node its spec');
      continue;
    }
    const result = spawnSync('bash', ['-c', command], { cwd: j.repo, env, encoding: 'utf8', timeout: 300_000 });
    assert.equal(result.status, 0, `[${section}] ${command}\n${result.stdout}${result.stderr}`);
    outputs.set(command, { stdout: result.stdout, stderr: result.stderr });
    if (outputs.size === 1) env.PATH = `${npxShim()}:${env.PATH}`;
  }

  const output = (pattern: RegExp) => [...outputs].find(([c]) => pattern.test(c))?.[1] ?? { stdout: '', stderr: '' };
  const dependents = JSON.parse(output(/describe dependents k3s-cluster/).stdout) as Array<{ component: string }>;
  assert.ok(dependents.length > 0, 'k3s-cluster has dependents in the example');
  const emptyRange = output(/describe affected --ref main --format matrix/);
  assert.deepEqual(JSON.parse(emptyRange.stdout), { include: [] }, 'a fresh clone has nothing affected');
  assert.match(emptyRange.stderr, /--include-uncommitted/, 'the empty range hints at --include-uncommitted');
  const uncommitted = JSON.parse(output(/--include-uncommitted/).stdout) as Array<{ component: string }>;
  assert.ok(
    uncommitted.some((i) => i.component === 'k3s-cluster'),
    'the edited stack affects k3s-cluster',
  );
  assert.ok(existsSync(join(j.repo, '.github', 'workflows', 'strata.yml')), 'ci init wrote its pipeline');
  assert.match(output(/--bootstrap --print/).stdout, /resource "aws_dynamodb_table"/, 'the bootstrap Terraform');
  // The offline workflow (full and --from-step) and the standalone simulator's `manifest test` each passed.
  const reports = readdirSync(join(j.repo, 'reports')).filter((f) => f.endsWith('.passed.json'));
  const manifestTests = commands.filter((c) => /strata manifest test /.test(c.command)).length;
  const workflowRuns = commands.filter((c) => /workflow lab-test -f lab($| --from-step)/.test(c.command)).length;
  assert.ok(workflowRuns >= 1 && manifestTests >= 1, 'the tour runs the offline workflow and a manifest test');
  assert.equal(reports.length, workflowRuns + manifestTests, 'every workflow run and manifest test passed');
  const report = JSON.parse(readFileSync(join(j.repo, 'reports', reports[0]), 'utf8')) as { success: boolean };
  assert.equal(report.success, true);
});
