/**
 * The second stage of a run: each step's command, stack, environment and folder, resolved as Atmos does, and the
 * graph of the steps still to run. A dry run stops here and hands back the plan as a `DryRunPlan`.
 */
import { relative, resolve } from 'node:path';
import { formatCommand } from '../exec/index.ts';
import { type GraphNode, topologicalLevels } from '../graph/index.ts';
import { globalMasker } from '../util/mask.ts';
import type { DryRunPlan, PlannedAction, PlannedCommand } from '../util/plan.ts';
import { formatDuration, stepNeeds, type Workflow, type WorkflowStep } from './model.ts';
import type { RunSettings } from './options.ts';
import type { StepStatus } from './record.ts';
import type { ResolvedRun } from './resolve.ts';
import { describeCondition } from './wait.ts';
import { splitWords, withStack } from './words.ts';

export interface PlannedStep {
  step: WorkflowStep;
  index: number;
  /** The stack applied to this step (strata steps only). */
  stack?: string;
  command: string;
  args: string[];
  /** The command as people read it, masked. */
  display: string;
  env: Record<string, string>;
  cwd: string;
  needs: string[];
  /** Set for steps not run this time (before --from-step, or finished by the resumed run). */
  done: StepStatus | undefined;
}

export interface StepPlan {
  steps: PlannedStep[];
  /** The steps to run, as graph nodes (needs on steps that are done are dropped). */
  nodes: GraphNode<PlannedStep>[];
  /** Some step declares `needs`, so steps may run side by side. */
  parallel: boolean;
}

/** The variable each step's process gets, naming the step. */
export function stepEnv(p: PlannedStep): Record<string, string> {
  return { ...p.env, STRATA_WORKFLOW_STEP: p.step.name };
}

export function planRun(run: ResolvedRun, settings: RunSettings): StepPlan {
  const { workflow } = run;
  let exported: Record<string, string> = {};
  const steps = workflow.steps.map((step, index): PlannedStep => {
    const env = { ...settings.env, ...workflow.env, ...exported, ...step.env };
    if (step.type === 'env') exported = { ...exported, ...step.vars };
    const planned: PlannedStep = {
      step,
      index,
      command: '',
      args: [],
      display: '',
      env,
      cwd: step.workingDirectory ? resolve(settings.basePath, step.workingDirectory) : process.cwd(),
      needs: stepNeeds(workflow, index),
      done: run.done.get(step.name),
    };
    planCommand(planned, workflow, run.stack, settings.strata);
    planned.display = globalMasker.mask(planned.display);
    return planned;
  });
  const byName = new Map(steps.map((p) => [p.step.name, p]));
  const nodes = steps
    .filter((p) => !p.done)
    .map((p) => ({ id: p.step.name, needs: p.needs.filter((n) => !byName.get(n)?.done), data: p }));
  return { steps, nodes, parallel: workflow.steps.some((s) => s.needs !== undefined) };
}

/** Fills in what the step runs (command, arguments) and how it is shown. */
function planCommand(
  planned: PlannedStep,
  workflow: Workflow,
  cliStack: string | undefined,
  strata: RunSettings['strata'],
): void {
  const { step } = planned;
  if (step.type === 'strata' || step.type === 'atmos') {
    // Precedence, lowest first: the command's own -s, the workflow's stack, the step's stack, the CLI --stack.
    const finalStack = cliStack ?? step.stack ?? workflow.stack;
    let words = splitWords(step.command);
    if (words[0] === 'strata' || words[0] === 'atmos') words = words.slice(1);
    const args = withStack(words, finalStack);
    planned.stack = finalStack ?? stackIn(words);
    planned.command = strata.command;
    planned.args = [...strata.args, ...args];
    planned.display = formatCommand('strata', args);
  } else if (step.type === 'shell') {
    planned.command = 'bash';
    planned.args = ['-c', step.command];
    planned.display = step.command;
  } else if (step.type === 'wait' && step.wait) {
    planned.display = `wait until ${describeCondition(step.wait.until)} (every ${formatDuration(
      step.wait.intervalMs,
    )}, up to ${formatDuration(step.wait.timeoutMs)})`;
  } else if (step.type === 'env') {
    planned.display = `set ${Object.keys(step.vars ?? {}).join(', ') || '(nothing)'} for later steps`;
  }
}

function stackIn(words: string[]): string | undefined {
  for (let i = 0; i < words.length && words[i] !== '--'; i++) {
    if (words[i] === '-s' || words[i] === '--stack') return words[i + 1];
    const match = /^(?:-s|--stack)=(.*)$/.exec(words[i]);
    if (match) return match[1];
  }
  return undefined;
}

/** The dry run: the steps to run in run order, after a note naming the ones that are not. */
export function dryRunPlan(run: ResolvedRun, plan: StepPlan, settings: RunSettings): DryRunPlan {
  const byName = new Map(plan.steps.map((p) => [p.step.name, p]));
  const skipped = plan.steps.filter((p) => p.done).map((p) => p.step.name);
  const actions = topologicalLevels(plan.nodes)
    .flat()
    .map((id) => plannedAction(byName.get(id)!, plan.parallel));
  return {
    title: `Dry run of workflow ${run.name} (${relative(settings.workflowsDir, run.location.file)}): nothing is executed`,
    notes: skipped.length > 0 ? [`Not run (before --from-step or finished earlier): ${skipped.join(', ')}`] : [],
    actions,
  };
}

function plannedAction(p: PlannedStep, parallel: boolean): PlannedAction {
  const { step } = p;
  const extras = [
    step.type === 'strata' || step.type === 'atmos' ? '' : `type ${step.type}`,
    step.workingDirectory ? `in ${relative(process.cwd(), p.cwd) || '.'}` : '',
    parallel && p.needs.length > 0 ? `needs ${p.needs.join(', ')}` : '',
  ].filter(Boolean);
  const action: PlannedAction = {
    kind: step.type === 'wait' ? 'wait' : step.type === 'env' ? 'set' : 'run',
    subject: step.name,
    summary: `${step.name}: ${p.display}${extras.length > 0 ? `  [${extras.join('; ')}]` : ''}`,
  };
  if (p.command !== '') action.command = plannedCommand(p);
  if (p.needs.length > 0) action.needs = p.needs;
  return action;
}

function plannedCommand(p: PlannedStep): PlannedCommand {
  const mask = (text: string) => globalMasker.mask(text);
  const env = Object.fromEntries(Object.entries(stepEnv(p)).map(([k, v]) => [k, mask(v)]));
  return { program: p.command, args: p.args.map(mask), cwd: p.cwd, env };
}
