/**
 * The GitHub and Gitea workflows `strata ci init` writes, run on simulated runners against a fake forge: a pull
 * request's affected instances are planned in a matrix, one summary comment is posted and the plans are kept by
 * head commit; the merge applies exactly those plans; a merge whose inputs changed after review is refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { COMMENT_MARKER } from '../../src/gitops/ci.ts';
import { type JobResult, runActionsWorkflow, type Workflow } from '../helpers/ci-runners.ts';
import { appliedInput, mergeRequest, openRequest, type Scenario, scenario, stackFile } from './ci-scenario.ts';

const TOKEN = 'ghs_test_token';
let s: Scenario;
before(async () => {
  s = await scenario(TOKEN);
});
after(() => s.cleanup());

function workflowFor(forge: 'github' | 'gitea'): Workflow {
  // Run where a user would: in the folder holding atmos.yaml, inside the repository.
  const args = ['ci', 'init', forge, '--package', s.tarball, '--max-parallel', '2', '--force'];
  execFileSync(s.strata, args, { cwd: join(s.repo.dir, 'infra'), encoding: 'utf8' });
  return parse(readFileSync(join(s.repo.dir, `.${forge}/workflows/strata.yml`), 'utf8')) as Workflow;
}

function github(forge: 'github' | 'gitea', event: Record<string, unknown>) {
  const api = forge === 'github' ? s.forge.url : `${s.forge.url}/api/v1`;
  return { api_url: api, server_url: s.forge.url, repository: 'acme/infra', token: TOKEN, ...event };
}

const summary = (results: Record<string, JobResult>) =>
  Object.entries(results)
    .map(([id, r]) => `== ${id}: ${r.status}\n${r.log}`)
    .join('\n');

async function pullRequest(
  forge: 'github' | 'gitea',
  workflow: Workflow,
  branch: string,
  number: number,
  runId: number,
) {
  const { head, testMerge } = openRequest(s, branch, number);
  const results = await runActionsWorkflow(
    s.runner,
    workflow,
    {
      forge,
      name: 'pull_request',
      sha: testMerge,
      ref: `refs/pull/${number}/merge`,
      repository: 'acme/infra',
      runId,
      baseRef: 'main',
      payload: {},
    },
    github(forge, {
      event_name: 'pull_request',
      base_ref: 'main',
      ref: `refs/pull/${number}/merge`,
      sha: testMerge,
      event: { pull_request: { number, head: { sha: head } } },
    }),
  );
  return { head, results };
}

async function push(forge: 'github' | 'gitea', workflow: Workflow, before: string, after: string, runId: number) {
  return runActionsWorkflow(
    s.runner,
    workflow,
    { forge, name: 'push', sha: after, ref: 'refs/heads/main', repository: 'acme/infra', runId, payload: {} },
    github(forge, { event_name: 'push', ref: 'refs/heads/main', sha: after, event: { before } }),
  );
}

test('GitHub: plan in a matrix, one comment, plans kept by head commit; the merge applies exactly them', async () => {
  const workflow = workflowFor('github');
  assert.equal(workflow.defaults?.run?.['working-directory'], 'infra');
  s.repo.commit('add strata CI');
  s.repo.git('push', '-q', 'origin', 'main');

  s.repo.git('checkout', '-q', '-b', 'bigger');
  s.repo.write('infra/stacks/dev.yaml', stackFile(s.state, { size: 'medium' }, { size: 'small' }));
  s.repo.commit('bigger web and dns');
  const { head, results } = await pullRequest('github', workflow, 'bigger', 1, 1);
  assert.equal(results.affected.status, 'success', summary(results));
  assert.equal(results.affected.outputs.count, '2');
  assert.equal(results.plan.status, 'success', summary(results));
  assert.equal(results.summary.status, 'success', summary(results));
  assert.equal(results.apply.status, 'skipped');
  assert.equal(
    s.forge.artifacts.filter((a) => a.name.startsWith(`strata-plan-${head}-`)).length,
    2,
    'one per matrix job',
  );
  const comments = s.forge.comments.get(1) ?? [];
  assert.equal(comments.length, 1);
  assert.ok(comments[0].body.startsWith(COMMENT_MARKER));
  assert.match(comments[0].body, /web/);
  assert.match(comments[0].body, /dns/);
  assert.ok(s.forge.artifacts.some((a) => a.name === `strata-plans-${head}`));
  assert.equal(appliedInput(s, 'web'), undefined, 'nothing applied by a pull request');

  const { before, after } = mergeRequest(s, 'bigger', 1);
  const applied = await push('github', workflow, before, after, 2);
  assert.equal(applied.apply.status, 'success', summary(applied));
  assert.equal(applied.affected.status, 'skipped');
  assert.match(applied.apply.log, /saved plan/);
  assert.equal(appliedInput(s, 'web'), 'medium');
  assert.equal(appliedInput(s, 'dns'), 'small');
});

test('GitHub: a merge whose inputs changed after the review is refused, and nothing is applied', async () => {
  const workflow = workflowFor('github');
  s.repo.git('checkout', '-q', '-b', 'large', 'main');
  s.repo.write('infra/stacks/dev.yaml', stackFile(s.state, { size: 'large' }, { size: 'small' }));
  s.repo.commit('large web');
  const { results } = await pullRequest('github', workflow, 'large', 2, 3);
  assert.equal(results.summary.status, 'success', summary(results));
  assert.equal(results.affected.outputs.count, '1');

  // Another change to web lands on main after the review (a different line, so the merge is clean).
  s.repo.git('checkout', '-q', 'main');
  s.repo.write('infra/stacks/dev.yaml', stackFile(s.state, { size: 'medium', note: '-tagged' }, { size: 'small' }));
  s.repo.commit('tag web');
  s.repo.git('push', '-q', 'origin', 'main');

  const { before, after } = mergeRequest(s, 'large', 2);
  assert.match(readFileSync(join(s.repo.dir, 'infra/stacks/dev.yaml'), 'utf8'), /note: "-tagged"[\s\S]*size: large/);
  const applied = await push('github', workflow, before, after, 4);
  assert.equal(applied.apply.status, 'failure', summary(applied));
  assert.match(applied.apply.log, /the inputs of web@dev changed since its plan was made/);
  assert.equal(appliedInput(s, 'web'), 'medium', 'the reviewed-then-stale plan was not applied');
});

test('GitHub: a push that came from no pull request applies nothing', async () => {
  const workflow = workflowFor('github');
  const before = s.repo.head();
  s.repo.write('infra/stacks/dev.yaml', stackFile(s.state, { size: 'huge' }, { size: 'small' }));
  const after = s.repo.commit('straight to main');
  s.repo.git('push', '-q', 'origin', 'main');
  const applied = await push('github', workflow, before, after, 5);
  assert.equal(applied.apply.status, 'failure');
  assert.match(applied.apply.log, /came from no pull\/merge request/);
  assert.equal(appliedInput(s, 'web'), 'medium');
});

test('Gitea: the same workflow shape, Gitea API and v3 artifacts: plan, comment, apply on merge', async () => {
  const workflow = workflowFor('gitea');
  s.repo.commit('add the Gitea workflow');
  s.repo.git('push', '-q', 'origin', 'main');
  s.repo.git('checkout', '-q', '-b', 'dns-large');
  s.repo.write('infra/stacks/dev.yaml', stackFile(s.state, { size: 'huge' }, { size: 'large' }));
  s.repo.commit('large dns');
  const { results } = await pullRequest('gitea', workflow, 'dns-large', 3, 6);
  assert.equal(results.summary.status, 'success', summary(results));
  assert.match((s.forge.comments.get(3) ?? [])[0]?.body ?? '', /dns/);
  const { before, after } = mergeRequest(s, 'dns-large', 3);
  const applied = await push('gitea', workflow, before, after, 7);
  assert.equal(applied.apply.status, 'success', summary(applied));
  assert.match(applied.apply.log, /dns@dev: terraform apply \(saved plan\)/);
  assert.equal(appliedInput(s, 'dns'), 'large');
});
