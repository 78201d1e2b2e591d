/**
 * The plans a pull request's CI reviewed, handed to the job that applies the merge:
 * - `ci summary` gathers the plans several CI jobs made (a matrix, or shards) into one markdown summary;
 * - `ci fetch-plans` finds, for a commit on the default branch, the pull/merge request it came from and downloads
 *   the plans artifact its CI kept for the request's head commit (`strata-plans-<sha>` on GitHub and Gitea; the
 *   `strata-summary` job's artifacts on GitLab). `apply --affected --require-plan` then applies exactly those plans,
 *   or refuses an instance whose inputs changed since (its digest).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { StrataError } from '../errors.ts';
import { readZip } from '../util/zip.ts';
import { GITLAB_SUMMARY_JOB } from './ci-templates.ts';
import { type Forge, forgeClient } from './forge.ts';
import { commitRange, type PlanEntry, renderSummary, type Summary } from './summary.ts';

/** The artifact name the workflows give the reviewed plans of a head commit. */
export const plansArtifactName = (sha: string) => `strata-plans-${sha}`;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

interface Recorded {
  component: string;
  stack: string;
  base?: string;
  head?: string;
  error?: string;
  details?: string;
  logUrl?: string;
}

/** Reads every saved plan (`*.digest.json` + `*.plan.json`) and failure (`*.failed.json`) under `plansDir`. */
export function gatheredPlans(plansDir: string): { entries: PlanEntry[]; range?: string } {
  const entries: PlanEntry[] = [];
  let range: string | undefined;
  for (const file of filesUnder(plansDir).sort()) {
    const failed = file.endsWith('.failed.json');
    if (!failed && !file.endsWith('.digest.json')) continue;
    const record = JSON.parse(readFileSync(file, 'utf8')) as Recorded;
    if (record.base && record.head) range = commitRange(record.base, record.head);
    if (failed) {
      const { component, stack, error, details, logUrl } = record;
      entries.push({ component, stack, error: error ?? 'failed', details, logUrl });
    } else {
      const plan = JSON.parse(readFileSync(file.replace(/\.digest\.json$/, '.plan.json'), 'utf8')) as unknown;
      entries.push({ component: record.component, stack: record.stack, plan });
    }
  }
  entries.sort((a, b) => `${a.stack}/${a.component}`.localeCompare(`${b.stack}/${b.component}`));
  return { entries, range };
}

/**
 * Moves the files of per-job folders (a forge that downloads each artifact into its own folder) up into `plansDir`,
 * where `apply --plans-dir` looks for them; plan files are named by stack and component, so they do not collide.
 */
function flatten(plansDir: string): void {
  for (const entry of readdirSync(plansDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const folder = join(plansDir, entry.name);
    for (const file of filesUnder(folder)) renameSync(file, join(plansDir, basename(file)));
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * `strata ci summary`: gathers the plans under `plansDir` into it (from per-job folders too) and writes one summary
 * to `summaryFile` (+ `-full.md`).
 */
export function writeGatheredSummary(plansDir: string, summaryFile: string): Summary {
  flatten(plansDir);
  const { entries, range } = gatheredPlans(plansDir);
  const target = resolve(summaryFile);
  const artifact = target.replace(/(\.md)?$/, '-full.md');
  const summary = renderSummary(entries, { range, artifactName: relative(process.cwd(), artifact) });
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, summary.markdown);
  if (summary.truncated) writeFileSync(artifact, summary.full);
  return summary;
}

export interface FetchPlansOptions {
  forge: Forge;
  api: string;
  token: string;
  /** owner/name (GitHub, Gitea) or the project id or path (GitLab). */
  repo: string;
  /** The commit on the default branch being applied (the merge, squash or rebase result). */
  commit: string;
  /** Where the plans go (the folder `apply --plans-dir` reads). */
  out: string;
}

export interface FetchedPlans {
  /** The pull/merge request number the commit came from. */
  request: number;
  /** The request's head commit, whose plans were reviewed. */
  head: string;
  files: string[];
}

interface PullRequest {
  number: number;
  merged_at?: string | null;
  head: { sha: string };
}

interface Artifact {
  id: number;
  name: string;
  expired?: boolean;
  created_at?: string;
  archive_download_url?: string;
}

async function actionsPlans(options: FetchPlansOptions): Promise<{ request: number; head: string; zip: Buffer }> {
  const client = forgeClient(options.forge, options.api, options.token);
  const repo = `/repos/${options.repo}`;
  let pull: PullRequest | undefined;
  if (options.forge === 'github') {
    const pulls = await client.json<PullRequest[]>('GET', `${repo}/commits/${options.commit}/pulls`);
    pull = pulls.find((p) => p.merged_at) ?? pulls[0];
  } else {
    pull = await client.json<PullRequest>('GET', `${repo}/commits/${options.commit}/pull`).catch(() => undefined);
  }
  if (!pull) throw noRequest(options.commit);
  const name = plansArtifactName(pull.head.sha);
  const { artifacts } = await client.json<{ artifacts: Artifact[] }>(
    'GET',
    `${repo}/actions/artifacts?name=${encodeURIComponent(name)}&per_page=100`,
  );
  const newest = artifacts
    .filter((a) => a.name === name && !a.expired)
    .sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? '') || b.id - a.id)[0];
  if (!newest) throw noPlans(`no artifact ${name} for pull request #${pull.number}`);
  const zip = await client.bytes(newest.archive_download_url ?? `${repo}/actions/artifacts/${newest.id}/zip`);
  return { request: pull.number, head: pull.head.sha, zip };
}

async function gitlabPlans(options: FetchPlansOptions): Promise<{ request: number; head: string; zip: Buffer }> {
  const client = forgeClient('gitlab', options.api, options.token);
  const project = `/projects/${encodeURIComponent(options.repo)}`;
  const requests = await client.json<Array<{ iid: number; sha: string; state: string }>>(
    'GET',
    `${project}/repository/commits/${options.commit}/merge_requests`,
  );
  const request = requests.find((r) => r.state === 'merged') ?? requests[0];
  if (!request) throw noRequest(options.commit);
  const pipelines = await client.json<Array<{ id: number }>>(
    'GET',
    `${project}/pipelines?sha=${request.sha}&order_by=id&sort=desc&per_page=20`,
  );
  for (const pipeline of pipelines) {
    const jobs = await client.json<Array<{ id: number; name: string; status: string }>>(
      'GET',
      `${project}/pipelines/${pipeline.id}/jobs?per_page=100`,
    );
    const job = jobs.find((j) => j.name === GITLAB_SUMMARY_JOB && j.status === 'success');
    if (job)
      return {
        request: request.iid,
        head: request.sha,
        zip: await client.bytes(`${project}/jobs/${job.id}/artifacts`),
      };
  }
  throw noPlans(
    `no successful ${GITLAB_SUMMARY_JOB} job for merge request !${request.iid} (${request.sha.slice(0, 7)})`,
  );
}

const noRequest = (commit: string) =>
  new StrataError(`commit ${commit.slice(0, 12)} came from no pull/merge request: no plan was reviewed for it`, {
    hint: 'changes reach the default branch through reviewed requests; plan and apply by hand otherwise',
  });
const noPlans = (what: string) =>
  new StrataError(`${what}: nothing reviewed to apply`, {
    hint: 'the request was merged before its plan job finished, or the artifact expired: plan again in a new request',
  });

/** Entry paths relative to the folder all of them share (GitLab keeps the project path, GitHub does not). */
function commonFolder(paths: string[]): string {
  const parts = paths.map((p) => p.split('/').slice(0, -1));
  let depth = 0;
  while (parts.every((p) => p.length > depth && p[depth] === parts[0][depth])) depth++;
  return depth === 0 ? '' : `${parts[0].slice(0, depth).join('/')}/`;
}

/** `strata ci fetch-plans`: the reviewed plans of the request `commit` came from, extracted into `out`. */
export async function fetchReviewedPlans(options: FetchPlansOptions): Promise<FetchedPlans> {
  const { request, head, zip } = options.forge === 'gitlab' ? await gitlabPlans(options) : await actionsPlans(options);
  const entries = readZip(zip);
  const prefix = commonFolder([...entries.keys()]);
  const out = resolve(options.out);
  const files: string[] = [];
  for (const [name, data] of entries) {
    const target = resolve(out, name.slice(prefix.length));
    if (!target.startsWith(out + sep)) throw new StrataError(`artifact entry ${name} points outside ${out}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
    files.push(relative(out, target));
  }
  return { request, head, files: files.sort() };
}
