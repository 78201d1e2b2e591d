/**
 * Simulated CI runners for the pipelines `strata ci init` writes. Each job gets a fresh workspace (a clone of a bare
 * repository, checked out at the event's commit), the forge's environment variables, and its shell steps run for
 * real with bash; the few actions the workflows use are played by the runner (checkout, artifact upload and
 * download against the FakeForge; setup-node and setup-terraform find node and terraform already on PATH).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Contexts, condition, interpolate } from './actions-expressions.ts';
import type { FakeForge } from './fake-forge.ts';
import { pruneUnused } from './temp-cache.ts';

export interface Shell {
  code: number;
  output: string;
}

/** Runs a bash script (bash -eo pipefail, as the runners do) and collects its output. */
export function bash(script: string, cwd: string, env: Record<string, string>): Promise<Shell> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { cwd, env });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function must(script: string, cwd: string, env: Record<string, string> = process.env as Record<string, string>) {
  const result = await bash(script, cwd, env);
  if (result.code !== 0) throw new Error(`${script}: ${result.output}`);
  return result.output;
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Zips a folder's contents (hidden files too); `root` keeps the paths relative to it instead. */
export async function zipFolder(folder: string, root = folder): Promise<Buffer | undefined> {
  if (!existsSync(folder)) return undefined;
  const zip = join(root, `.upload-${process.pid}-${Date.now()}.zip`);
  const relative = folder === root ? '.' : folder.slice(root.length + 1);
  await must(`zip -qr ${quote(zip)} ${quote(relative)} -x ${quote(zip.slice(root.length + 1))}`, root);
  const data = readFileSync(zip);
  await must(`rm -f ${quote(zip)}`, root);
  return data;
}

export async function unzipInto(zip: Buffer, folder: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `.download-${process.pid}-${Date.now()}.zip`);
  writeFileSync(file, zip);
  await must(`unzip -qo ${quote(file)} && rm -f ${quote(file)}`, folder);
}

/**
 * A folder to put first on the jobs' PATH: an `npm` that plays a warm runner tool cache for the one install the
 * pipelines make, `npm install --global ... --prefix DIR <tarball>`. The first install of a tarball (by content
 * hash) runs the real npm; later ones copy its result as hard links (nothing writes into an installed package; a
 * real copy of its ~3,500 files cost ~0.5 s of CPU per job, counting their removal). Every other npm command runs
 * the real npm. Without it each job spends ~5 s of CPU reinstalling the same package, most of the CI journeys' time.
 */
export function toolCacheShims(root: string): string {
  const realNpm = execFileSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  const cache = join(tmpdir(), 'strata-runner-tool-cache');
  pruneUnused(cache, '.');
  const shims = join(root, 'tool-cache-shims');
  mkdirSync(shims, { recursive: true });
  writeFileSync(
    join(shims, 'npm'),
    `#!/bin/bash
set -eo pipefail
real=${quote(realNpm)}
prefix='' global='' install=''
for arg in "$@"; do
  case "$arg" in install|i) install=1 ;; --global|-g) global=1 ;; esac
done
args=("$@")
for ((i = 0; i < \${#args[@]} - 1; i++)); do [[ \${args[i]} == --prefix ]] && prefix=\${args[i+1]}; done
package=\${args[\${#args[@]}-1]}
if [[ -z $install || -z $global || -z $prefix || $package != *.tgz || ! -f $package ]]; then exec "$real" "$@"; fi
key=$(printf '%s\n' "$(sha256sum "$package" | cut -d' ' -f1)" "\${args[*]:0:\${#args[@]}-1}" | sed "s|$prefix||g" | sha256sum | cut -d' ' -f1)
entry=${quote(cache)}/$key
if [[ ! -d $entry ]]; then
  "$real" "$@"
  mkdir -p ${quote(cache)}
  staging=$(mktemp -d ${quote(cache)}/.staging-XXXXXX)
  cp -a "$prefix/." "$staging/"
  mv -T "$staging" "$entry" 2>/dev/null || rm -rf "$staging"
  exit 0
fi
touch "$entry"
mkdir -p "$prefix"
cp -al "$entry/." "$prefix/" 2>/dev/null || cp -a "$entry/." "$prefix/"
`,
  );
  chmodSync(join(shims, 'npm'), 0o755);
  return shims;
}

export interface Runner {
  forge: FakeForge;
  /** The bare repository the checkout clones. */
  remote: string;
  /** Where job workspaces are made. */
  root: string;
  /** Environment every job starts from (PATH with node, git, terraform, zip; HOME; npm's cache). */
  base: Record<string, string>;
  secrets: Record<string, string>;
}

export interface JobResult {
  status: 'success' | 'failure' | 'skipped';
  outputs: Record<string, string>;
  log: string;
}

let workspaces = 0;

/** Clones the repository into a new workspace at `commit`. */
export async function checkout(runner: Runner, commit: string): Promise<string> {
  const workspace = join(runner.root, `ws-${++workspaces}`);
  await must(
    `git clone -q ${quote(runner.remote)} ${quote(workspace)} && git -C ${quote(workspace)} checkout -q --detach ${commit}`,
    runner.root,
  );
  return workspace;
}

/** Reads `name=value` and `name<<EOF` blocks, as GITHUB_OUTPUT and GITHUB_ENV hold them. */
function keyValues(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1);
      out[heredoc[1]] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i].includes('='))
      out[lines[i].slice(0, lines[i].indexOf('='))] = lines[i].slice(lines[i].indexOf('=') + 1);
  }
  return out;
}

type Step = {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  'working-directory'?: string;
};
type Job = {
  if?: string;
  needs?: string | string[];
  env?: Record<string, unknown>;
  strategy?: { matrix?: unknown; 'max-parallel'?: number };
  outputs?: Record<string, string>;
  steps: Step[];
};
export type Workflow = {
  env?: Record<string, unknown>;
  defaults?: { run?: { 'working-directory'?: string } };
  jobs: Record<string, Job>;
};

export interface ActionsEvent {
  forge: 'github' | 'gitea';
  /** `pull_request` or `push`. */
  name: string;
  /** The commit jobs check out (a pull request's test merge, or the pushed commit). */
  sha: string;
  ref: string;
  repository: string;
  runId: number;
  /** github.event: pull_request.number/head.sha, before. */
  payload: Record<string, unknown>;
  baseRef?: string;
}

function env(values: Record<string, unknown> | undefined, contexts: Contexts): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, String(interpolate(v, contexts) ?? '')]));
}

/** One job instance (one matrix entry), step by step. */
async function runActionsJob(
  runner: Runner,
  workflow: Workflow,
  job: Job,
  contexts: Contexts,
  event: ActionsEvent,
): Promise<JobResult> {
  const workspace = join(runner.root, `ws-${++workspaces}`);
  const temp = `${workspace}-temp`;
  mkdirSync(temp, { recursive: true });
  const files = { GITHUB_OUTPUT: join(temp, 'output'), GITHUB_PATH: join(temp, 'path'), GITHUB_ENV: join(temp, 'env') };
  const github = contexts.github as Record<string, unknown>;
  const forgeEnv: Record<string, string> = {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    ...(event.forge === 'gitea' ? { GITEA_ACTIONS: 'true' } : {}),
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: event.repository,
    GITHUB_SHA: event.sha,
    GITHUB_REF: event.ref,
    GITHUB_EVENT_NAME: event.name,
    GITHUB_BASE_REF: event.baseRef ?? '',
    GITHUB_API_URL: String(github.api_url),
    GITHUB_SERVER_URL: String(github.server_url),
    GITHUB_RUN_ID: String(event.runId),
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: temp,
    ...files,
  };
  let path = runner.base.PATH;
  let extraEnv: Record<string, string> = {};
  const steps: Record<string, { outputs: Record<string, string> }> = {};
  let status: 'success' | 'failure' = 'success';
  let log = '';
  for (const step of job.steps) {
    const ctx: Contexts = { ...contexts, steps, __status: status };
    if (!condition(step.if, ctx)) continue;
    const stepEnv = { ...env(workflow.env, ctx), ...env(job.env, ctx), ...env(step.env, ctx) };
    const withs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, String(interpolate(v, ctx))]));
    log += `\n--- ${step.name ?? step.uses ?? step.run?.split('\n')[0]}\n`;
    let code = 0;
    if (step.uses) {
      code = await playAction(runner, step.uses, withs, workspace, event).then(
        () => 0,
        (error) => {
          log += String(error);
          return 1;
        },
      );
    } else if (step.run) {
      const dir = join(workspace, step['working-directory'] ?? workflow.defaults?.run?.['working-directory'] ?? '');
      const result = await bash(step.run, dir, {
        ...runner.base,
        ...forgeEnv,
        ...extraEnv,
        ...stepEnv,
        PATH: path,
      });
      code = result.code;
      log += result.output;
      if (step.id) steps[step.id] = { outputs: keyValues(files.GITHUB_OUTPUT) };
      const added = existsSync(files.GITHUB_PATH)
        ? readFileSync(files.GITHUB_PATH, 'utf8').split('\n').filter(Boolean)
        : [];
      path = [...added.reverse(), runner.base.PATH].join(':');
      extraEnv = keyValues(files.GITHUB_ENV);
      writeFileSync(files.GITHUB_OUTPUT, '');
    }
    if (code !== 0) status = 'failure';
  }
  const outputs = env(job.outputs, { ...contexts, steps });
  return { status, outputs, log };
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

/** The actions the workflows use, played by the runner. */
async function playAction(
  runner: Runner,
  uses: string,
  withs: Record<string, string>,
  workspace: string,
  event: ActionsEvent,
): Promise<void> {
  const [action] = uses.split('@');
  if (action === 'actions/checkout') {
    await must(
      `git clone -q ${quote(runner.remote)} ${quote(workspace)} && git -C ${quote(workspace)} checkout -q --detach ${event.sha}`,
      runner.root,
    );
  } else if (action === 'actions/upload-artifact') {
    const zip = await zipFolder(join(workspace, withs.path));
    if (!zip) {
      if (withs['if-no-files-found'] === 'error') throw new Error(`no files at ${withs.path}`);
      return;
    }
    runner.forge.artifacts.push({ id: runner.forge.id(), name: withs.name, zip, run: event.runId });
  } else if (action === 'actions/download-artifact') {
    const target = join(workspace, withs.path ?? '.');
    const pattern = withs.name ? globToRegExp(withs.name) : withs.pattern ? globToRegExp(withs.pattern) : undefined;
    const chosen = runner.forge.artifacts.filter((a) => a.run === event.runId && (!pattern || pattern.test(a.name)));
    const merge = Boolean(withs.name) || withs['merge-multiple'] === 'true';
    for (const artifact of chosen) await unzipInto(artifact.zip, merge ? target : join(target, artifact.name));
  } else if (action !== 'actions/setup-node' && action !== 'hashicorp/setup-terraform') {
    throw new Error(`the simulated runner does not know ${uses}`);
  }
}

/** Runs a workflow's jobs for one event, in `needs` order, matrix entries up to max-parallel at once. */
export async function runActionsWorkflow(
  runner: Runner,
  workflow: Workflow,
  event: ActionsEvent,
  github: Record<string, unknown>,
): Promise<Record<string, JobResult>> {
  const results: Record<string, JobResult> = {};
  const pending = Object.keys(workflow.jobs);
  while (pending.length > 0) {
    const index = pending.findIndex((id) => [workflow.jobs[id].needs ?? []].flat().every((n) => results[n]));
    const [id] = pending.splice(index, 1);
    const job = workflow.jobs[id];
    const needs = Object.fromEntries(
      [job.needs ?? []].flat().map((n) => [n, { result: results[n].status, outputs: results[n].outputs }]),
    );
    const ok = [job.needs ?? []].flat().every((n) => results[n].status === 'success');
    // The forge's own token is a secret every run has (GITHUB_TOKEN on GitHub and Gitea).
    const secrets = { GITHUB_TOKEN: String(github.token), ...runner.secrets };
    const base: Contexts = { github, needs, secrets, __status: ok ? 'success' : 'failure' };
    if (!condition(job.if, base)) {
      results[id] = { status: 'skipped', outputs: {}, log: '' };
      continue;
    }
    const matrix = job.strategy?.matrix
      ? (interpolate(job.strategy.matrix, base) as { include: unknown[] })
      : undefined;
    const entries = matrix ? matrix.include : [undefined];
    const limit = job.strategy?.['max-parallel'] ?? entries.length;
    const runs: JobResult[] = [];
    for (let i = 0; i < entries.length; i += limit) {
      const batch = entries
        .slice(i, i + limit)
        .map((entry, j) =>
          runActionsJob(
            runner,
            workflow,
            job,
            { ...base, matrix: entry ?? {}, strategy: { 'job-index': i + j } },
            event,
          ),
        );
      runs.push(...(await Promise.all(batch)));
    }
    results[id] = {
      status: runs.every((r) => r.status === 'success') ? 'success' : 'failure',
      outputs: Object.assign({}, ...runs.map((r) => r.outputs)),
      log: runs.map((r) => r.log).join('\n'),
    };
  }
  return results;
}

type GitlabJob = {
  extends?: string;
  stage: string;
  rules?: Array<{ if: string; when?: string }>;
  parallel?: number;
  needs?: string[];
  before_script?: string[];
  script: string[];
  artifacts?: { paths: string[]; when?: string };
};

export interface GitlabEvent {
  /** merge_request_event or push. */
  source: string;
  sha: string;
  pipeline: number;
  variables: Record<string, string>;
}

/** `$A == "x"`, `$A == $B`: the rule conditions the pipeline uses. */
function gitlabCondition(expression: string, variables: Record<string, string>): boolean {
  const value = (side: string) => {
    const text = side.trim();
    if (text.startsWith('$')) return variables[text.slice(1)] ?? '';
    return text.replace(/^"(.*)"$/, '$1');
  };
  const [left, right] = expression.split('==');
  return value(left) === value(right);
}

/** Runs a GitLab pipeline's jobs, stage by stage; each job in a fresh clone, artifacts through the FakeForge. */
export async function runGitlabPipeline(
  runner: Runner,
  pipeline: Record<string, unknown>,
  event: GitlabEvent,
): Promise<Record<string, JobResult>> {
  const variables = { ...(pipeline.variables as Record<string, string>), ...event.variables };
  const jobs = Object.entries(pipeline)
    .filter(([name]) => !name.startsWith('.') && !['stages', 'workflow', 'variables', 'default'].includes(name))
    .map(([name, raw]) => {
      const job = raw as GitlabJob;
      return [name, { ...((job.extends ? pipeline[job.extends] : {}) as object), ...job } as GitlabJob] as const;
    });
  const results: Record<string, JobResult> = {};
  let failed = false;
  runner.forge.pipelines.push({ id: event.pipeline, sha: event.sha });
  for (const stage of pipeline.stages as string[]) {
    for (const [name, job] of jobs.filter(([, j]) => j.stage === stage)) {
      const rule = job.rules?.find((r) => gitlabCondition(r.if, variables));
      if (!rule || (failed && rule.when !== 'always')) {
        results[name] = { status: 'skipped', outputs: {}, log: '' };
        continue;
      }
      const total = job.parallel ?? 1;
      const runs: JobResult[] = [];
      for (let index = 1; index <= total; index++) {
        runs.push(await runGitlabJob(runner, name, job, event, variables, total > 1 ? { index, total } : undefined));
      }
      const status = runs.every((r) => r.status === 'success') ? 'success' : 'failure';
      if (status === 'failure') failed = true;
      results[name] = { status, outputs: {}, log: runs.map((r) => r.log).join('\n') };
    }
  }
  return results;
}

async function runGitlabJob(
  runner: Runner,
  name: string,
  job: GitlabJob,
  event: GitlabEvent,
  variables: Record<string, string>,
  node: { index: number; total: number } | undefined,
): Promise<JobResult> {
  const project = await checkout(runner, event.sha);
  const jobId = runner.forge.id();
  for (const need of job.needs ?? []) {
    for (const artifact of runner.forge.artifacts.filter(
      (a) => a.pipeline === event.pipeline && a.job?.name.split(' ')[0] === need,
    )) {
      await unzipInto(artifact.zip, project);
    }
  }
  const env: Record<string, string> = {
    ...runner.base,
    ...runner.secrets,
    ...variables,
    CI: 'true',
    GITLAB_CI: 'true',
    CI_PROJECT_DIR: project,
    CI_JOB_ID: String(jobId),
    CI_JOB_NAME: name,
    CI_PIPELINE_ID: String(event.pipeline),
    CI_PIPELINE_SOURCE: event.source,
    CI_COMMIT_SHA: event.sha,
    ...(node ? { CI_NODE_INDEX: String(node.index), CI_NODE_TOTAL: String(node.total) } : {}),
  };
  const result = await bash([...(job.before_script ?? []), ...job.script].join('\n'), project, env);
  const status = result.code === 0 ? 'success' : 'failure';
  if (job.artifacts && (status === 'success' || job.artifacts.when === 'always')) {
    const zip = await zipPaths(
      project,
      job.artifacts.paths.map((p) => p.replace(/\$(\w+)/g, (_, v: string) => env[v] ?? '')),
    );
    const jobName = node ? `${name} ${node.index}/${node.total}` : name;
    if (zip) {
      runner.forge.artifacts.push({
        id: runner.forge.id(),
        name: jobName,
        zip,
        pipeline: event.pipeline,
        job: { id: jobId, name: jobName, status },
      });
    }
  }
  return { status, outputs: {}, log: result.output };
}

/** Zips `paths` (relative to `root`, kept as they are), as GitLab's artifacts:paths do. */
async function zipPaths(root: string, paths: string[]): Promise<Buffer | undefined> {
  const present = paths.filter((p) => existsSync(join(root, p)));
  if (present.length === 0) return undefined;
  const zip = join(root, `.artifacts-${process.pid}.zip`);
  await must(`zip -qr ${quote(zip)} ${present.map(quote).join(' ')}`, root);
  const data = readFileSync(zip);
  await must(`rm -f ${quote(zip)}`, root);
  return data;
}
