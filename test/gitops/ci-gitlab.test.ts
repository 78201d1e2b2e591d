/**
 * The GitLab pipeline `strata ci init gitlab` writes, run on a simulated runner against a fake GitLab API: a merge
 * request's affected instances are planned in parallel shards, one note is posted, the gathered plans are kept
 * as the summary job's artifacts; the merge pipeline fetches and applies exactly those plans.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { COMMENT_MARKER } from '../../src/gitops/ci.ts';
import { type JobResult, runGitlabPipeline } from '../helpers/ci-runners.ts';
import { appliedInput, mergeRequest, openRequest, type Scenario, scenario, stackFile } from './ci-scenario.ts';

const TOKEN = 'glpat-test-token';
let s: Scenario;
before(async () => {
  s = await scenario(TOKEN);
  s.runner.secrets = { STRATA_GITLAB_TOKEN: TOKEN };
});
after(() => s.cleanup());

const logs = (results: Record<string, JobResult>) =>
  Object.entries(results)
    .map(([id, r]) => `== ${id}: ${r.status}\n${r.log}`)
    .join('\n');

test('GitLab: plan in shards, one note, plans kept by the summary job; the merge pipeline applies them', async () => {
  execFileSync(s.strata, ['ci', 'init', 'gitlab', '--package', s.tarball, '--max-parallel', '2'], {
    cwd: join(s.repo.dir, 'infra'),
  });
  const pipeline = parse(readFileSync(join(s.repo.dir, '.gitlab-ci.yml'), 'utf8')) as Record<string, unknown>;
  assert.equal((pipeline.variables as Record<string, string>).STRATA_DIR, 'infra');
  s.repo.commit('add strata CI');
  s.repo.git('push', '-q', 'origin', 'main');

  s.repo.git('checkout', '-q', '-b', 'bigger');
  s.repo.write('infra/stacks/dev.yaml', stackFile(s.state, { size: 'medium' }, { size: 'small' }));
  s.repo.commit('bigger web and dns');
  const { head } = openRequest(s, 'bigger', 7);
  const common = { CI_PROJECT_ID: '42', CI_API_V4_URL: `${s.forge.url}/api/v4`, CI_DEFAULT_BRANCH: 'main' };
  const planned = await runGitlabPipeline(s.runner, pipeline, {
    source: 'merge_request_event',
    sha: head,
    pipeline: 501,
    variables: {
      ...common,
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_MERGE_REQUEST_IID: '7',
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
    },
  });
  assert.equal(planned['strata-plan'].status, 'success', logs(planned));
  assert.equal(planned['strata-summary'].status, 'success', logs(planned));
  assert.equal(planned['strata-apply'].status, 'skipped');
  const shards = s.forge.artifacts.filter((a) => a.job?.name.startsWith('strata-plan '));
  assert.deepEqual(shards.map((a) => a.job?.name).sort(), ['strata-plan 1/2', 'strata-plan 2/2']);
  const notes = s.forge.comments.get(7) ?? [];
  assert.equal(notes.length, 1);
  assert.ok(notes[0].body.startsWith(COMMENT_MARKER));
  assert.match(notes[0].body, /web/);
  assert.match(notes[0].body, /dns/);

  const { before, after } = mergeRequest(s, 'bigger', 7);
  const applied = await runGitlabPipeline(s.runner, pipeline, {
    source: 'push',
    sha: after,
    pipeline: 502,
    variables: {
      ...common,
      CI_PIPELINE_SOURCE: 'push',
      CI_COMMIT_BRANCH: 'main',
      CI_COMMIT_BEFORE_SHA: before,
    },
  });
  assert.equal(applied['strata-plan'].status, 'skipped');
  assert.equal(applied['strata-apply'].status, 'success', logs(applied));
  assert.match(applied['strata-apply'].log, /saved plan/);
  assert.equal(appliedInput(s, 'web'), 'medium');
  assert.equal(appliedInput(s, 'dns'), 'small');
});
