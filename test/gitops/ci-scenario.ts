/**
 * The user's side of the CI journeys: an infrastructure repository as a user would have it (atmos.yaml in infra/,
 * Terraform components made of terraform_data, state in a folder outside every checkout, no package.json), a bare
 * remote the simulated runners clone, pull requests with their test-merge commits, and merges.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Runner, toolCacheShims } from '../helpers/ci-runners.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { installedStrata } from '../helpers/installed.ts';
import { TempRepo } from './helpers.ts';

const MAIN_TF = `variable "size" {
  type = string
}
variable "note" {
  type    = string
  default = ""
}
resource "terraform_data" "this" {
  input = "\${var.size}\${var.note}"
}
`;

/** The stack: `note` sits at the top, far from the sizes, so changes to either merge cleanly. */
export function stackFile(state: string, web: { size: string; note?: string }, dns: { size: string }): string {
  return `vars:
  stage: dev
  note: "${web.note ?? ''}"
terraform:
  backend_type: local
components:
  terraform:
    web:
      vars: {size: ${web.size}}
      backend:
        local: {path: ${join(state, 'web.tfstate')}, workspace_dir: ${join(state, 'web')}}
    dns:
      vars: {size: ${dns.size}, note: ""}
      backend:
        local: {path: ${join(state, 'dns.tfstate')}, workspace_dir: ${join(state, 'dns')}}
      settings:
        depends_on:
          1: {component: web}
`;
}

export interface Scenario {
  root: string;
  repo: TempRepo;
  remote: string;
  state: string;
  tarball: string;
  strata: string;
  forge: FakeForge;
  runner: Runner;
  cleanup(): void;
}

/** The repository, its remote, the installed strata (for `ci init`) and a runner with the forge's secrets. */
export async function scenario(token: string): Promise<Scenario> {
  const installed = await installedStrata();
  const tarball = join(
    installed.project,
    execFileSync('ls', [installed.project], { encoding: 'utf8' })
      .split('\n')
      .find((f) => f.endsWith('.tgz')) as string,
  );
  const root = mkdtempSync(join(tmpdir(), 'strata-ci-run-'));
  const state = join(root, 'state');
  mkdirSync(state);
  const repo = new TempRepo('strata-ci-repo-');
  repo.write('README.md', '# infrastructure\n');
  repo.write(
    'infra/atmos.yaml',
    'base_path: .\ncomponents:\n  terraform:\n    base_path: components/terraform\n    auto_generate_backend_file: true\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\n',
  );
  repo.write('infra/.gitignore', '.terraform/\n*.planfile\n*.tfvars.json\nbackend.tf.json\n.strata/\n');
  repo.write('infra/stacks/dev.yaml', stackFile(state, { size: 'small' }, { size: 'tiny' }));
  repo.write('infra/components/terraform/web/main.tf', MAIN_TF);
  repo.write('infra/components/terraform/dns/main.tf', MAIN_TF);
  const remote = join(root, 'remote.git');
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', remote]);
  repo.git('remote', 'add', 'origin', remote);
  const forge = new FakeForge(token);
  await forge.start();
  const runner: Runner = {
    forge,
    remote,
    root,
    base: {
      PATH: `${toolCacheShims(root)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? root,
      // The test file's own cache folder (scripts/test-loader/register.mjs), not the user's ~/.cache.
      ...(process.env.XDG_CACHE_HOME ? { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME } : {}),
      // The runner's npm cache, warm from earlier installs of the same tarball (and its tool cache: above).
      npm_config_prefer_offline: 'true',
      npm_config_update_notifier: 'false',
      NO_COLOR: '1',
    },
    secrets: {},
  };
  return {
    root,
    repo,
    remote,
    state,
    tarball,
    strata: installed.bin,
    forge,
    runner,
    cleanup() {
      forge.stop();
      repo.cleanup();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Pushes the branch and makes the forge's test merge of it into main (what a pull request's CI checks out). */
export function openRequest(s: Scenario, branch: string, number: number): { head: string; testMerge: string } {
  const head = s.repo.head();
  s.repo.git('push', '-q', 'origin', `${branch}`);
  s.repo.git('checkout', '-q', '--detach', 'origin/main');
  s.repo.git('merge', '-q', '--no-ff', '-m', `Merge pull request #${number}`, branch);
  const testMerge = s.repo.head();
  s.repo.git('push', '-q', 'origin', `HEAD:refs/pull/${number}/merge`);
  s.repo.git('checkout', '-q', branch);
  s.forge.requests.push({ number, head });
  return { head, testMerge };
}

/** Merges the request into main on the remote; returns main before and after. */
export function mergeRequest(s: Scenario, branch: string, number: number): { before: string; after: string } {
  s.repo.git('fetch', '-q', 'origin');
  s.repo.git('checkout', '-q', 'main');
  s.repo.git('reset', '-q', '--hard', 'origin/main');
  const before = s.repo.head();
  s.repo.git('merge', '-q', '--no-ff', '-m', `Merge pull request #${number}`, branch);
  const after = s.repo.head();
  s.repo.git('push', '-q', 'origin', 'main');
  const request = s.forge.requests.find((r) => r.number === number);
  if (request) request.mergeCommit = after;
  return { before, after };
}

/** terraform_data's input in a component's state, workspace `dev` (undefined when the state holds none). */
export function appliedInput(s: Scenario, component: string): string | undefined {
  try {
    const state = JSON.parse(readFileSync(join(s.state, component, 'dev', 'terraform.tfstate'), 'utf8'));
    const input = state.resources?.[0]?.instances?.[0]?.attributes?.input;
    return typeof input === 'object' && input !== null ? input.value : input;
  } catch {
    return undefined;
  }
}
