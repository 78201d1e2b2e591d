/**
 * The first stage of a run: find the workflow (or the run `--resume` continues), check its steps form a graph, and
 * work out which steps are not run again (before `--from-step`, or finished by the resumed run).
 */
import { join } from 'node:path';
import { StrataError, UsageError } from '../errors.ts';
import { GraphCycleError, validateGraph } from '../graph/index.ts';
import { didYouMean } from '../util/suggest.ts';
import { findWorkflow, type WorkflowLocation } from './discover.ts';
import { stepNeeds, type Workflow } from './model.ts';
import type { RunSettings } from './options.ts';
import { type RunRecord, resumableRecord, type StepStatus } from './record.ts';

export interface ResolvedRun {
  name: string;
  location: WorkflowLocation;
  workflow: Workflow;
  /** The CLI --stack, or the one of the run being resumed. */
  stack?: string;
  /** The run `--resume` continues. */
  previous?: RunRecord;
  /** Steps not run this time, with the status they keep. */
  done: Map<string, StepStatus>;
}

export function resolveRun(name: string, settings: RunSettings): ResolvedRun {
  const { location, previous } = locate(name, settings);
  const { workflow } = location;
  checkSteps(name, workflow);
  const done = new Map<string, StepStatus>();
  const stepNames = workflow.steps.map((s) => s.name);
  if (settings.fromStep !== undefined) skipBefore(settings.fromStep, name, stepNames, done);
  if (previous) {
    for (const s of previous.steps) {
      if ((s.status === 'succeeded' || s.status === 'skipped') && stepNames.includes(s.name))
        done.set(s.name, s.status);
    }
  }
  return { name, location, workflow, stack: settings.stack ?? previous?.stack, previous, done };
}

function locate(name: string, settings: RunSettings): { location: WorkflowLocation; previous?: RunRecord } {
  const { basePath, workflowsDir } = settings;
  if (!settings.resume) {
    return { location: findWorkflow(workflowsDir, name, { file: settings.file, basePath }) };
  }
  if (settings.fromStep) throw new UsageError('--resume and --from-step cannot be used together');
  const previous = resumableRecord(basePath, name);
  const location = findWorkflow(workflowsDir, name, {
    file: settings.file ?? join(workflowsDir, previous.file),
    basePath,
  });
  location.fileArg = settings.file ?? previous.fileArg;
  return { location, previous };
}

/** At least one step, and `needs` that name existing steps without a cycle. */
function checkSteps(name: string, workflow: Workflow): void {
  if (workflow.steps.length === 0) {
    throw new StrataError(
      `workflow has no steps defined: workflow ${name} is empty and requires at least one step to execute`,
      { location: workflow.location, hint: 'add steps, e.g.  steps: [{ command: terraform plan vpc, stack: dev }]' },
    );
  }
  try {
    validateGraph(workflow.steps.map((s, i) => ({ id: s.name, needs: stepNeeds(workflow, i), data: s })));
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    const hint =
      error instanceof GraphCycleError
        ? 'each step needs the next one in this list; remove one of these needs'
        : error.hint;
    throw new StrataError(`workflow ${name}: ${error.message}`, { location: workflow.location, hint });
  }
}

function skipBefore(fromStep: string, name: string, stepNames: string[], done: Map<string, StepStatus>): void {
  const from = stepNames.indexOf(fromStep);
  if (from < 0) {
    throw new StrataError(
      `invalid from-step flag: the --from-step flag was set to ${fromStep}, but this step does not exist in workflow ${name}`,
      {
        details: `Available steps:\n\n${stepNames.map((s) => `  • ${s}`).join('\n')}`,
        hint: didYouMean(fromStep, stepNames),
      },
    );
  }
  for (const s of stepNames.slice(0, from)) done.set(s, 'skipped');
}
