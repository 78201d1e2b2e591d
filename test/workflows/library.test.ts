import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { renderPlanText } from '../../src/util/plan.ts';
import { runWorkflow, type WorkflowStreams } from '../../src/workflows/index.ts';
import { makeProject, records } from './helpers.ts';

const project = makeProject({
  'main.yaml': `workflows:
  deploy:
    stack: dev
    steps:
      - command: terraform plan vpc
      - name: greet
        command: echo hello; echo oops >&2
        type: shell
        needs: [step1]
`,
});
after(() => project.cleanup());
const workflowsDir = join(project.dir, 'stacks', 'workflows');
const strata = { command: 'strata-bin', args: ['main.js'] };

function collector(): { streams: WorkflowStreams; text: { stdout: string; stderr: string } } {
  const text = { stdout: '', stderr: '' };
  return {
    text,
    streams: {
      stdout: { write: (chunk: string) => (text.stdout += chunk) },
      stderr: { write: (chunk: string) => (text.stderr += chunk) },
    },
  };
}

test('a dry run returns the plan and prints nothing', async () => {
  const { streams, text } = collector();
  const result = await runWorkflow('deploy', {
    workflowsDir,
    basePath: project.dir,
    dryRun: true,
    streams,
    progress: 'plain',
    strata,
  });
  assert.equal(text.stdout + text.stderr, '');
  const plan = result.plan!;
  assert.equal(plan.title, 'Dry run of workflow deploy (main.yaml): nothing is executed');
  assert.deepEqual(
    plan.actions.map((a) => [a.kind, a.subject, a.summary, a.needs]),
    [
      ['run', 'step1', 'step1: strata terraform plan vpc -s dev', undefined],
      ['run', 'greet', 'greet: echo hello; echo oops >&2  [type shell; needs step1]', ['step1']],
    ],
  );
  assert.deepEqual(plan.actions[0].command?.args, ['main.js', 'terraform', 'plan', 'vpc', '-s', 'dev']);
  assert.equal(plan.actions[0].command?.program, 'strata-bin');
  assert.equal(plan.actions[1].command?.env?.STRATA_WORKFLOW_STEP, 'greet');
  assert.equal(
    renderPlanText(plan),
    `${plan.title}\nstep1: strata terraform plan vpc -s dev\ngreet: echo hello; echo oops >&2  [type shell; needs step1]\n`,
  );
});

test('a run writes step output and progress to the streams it is given, and nothing without them', async () => {
  const { streams, text } = collector();
  const options = { workflowsDir, basePath: project.dir, fromStep: 'greet', strata };
  const loud = await runWorkflow('deploy', { ...options, streams, progress: 'plain' });
  assert.equal(loud.status, 'succeeded');
  assert.equal(text.stdout, '[greet] hello\n'); // steps with `needs` may run side by side: prefixed
  assert.match(text.stderr, /▶ greet: echo hello/);
  assert.match(text.stderr, /^\[greet\] oops$/m);

  const quiet = await runWorkflow('deploy', options);
  assert.equal(quiet.status, 'succeeded');
  assert.deepEqual(records(project.dir, 'deploy').at(-1)!.steps[1].output, ['hello', 'oops']);
});
