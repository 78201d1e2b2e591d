/**
 * The one shape of a dry run, whoever plans: a toolchain (files written, commands run), a workflow (its steps in
 * run order) or the operator (nodes, Proxmox calls, tofu commands). Producers return a `DryRunPlan`; views render it
 * as text (`renderPlanText`) or hand it out as JSON. Every string in it is already masked.
 */

export type PlannedActionKind = 'run' | 'write' | 'delete' | 'call' | 'wait' | 'set';

export interface PlannedCommand {
  program: string;
  args: string[];
  cwd?: string;
  /** Only the variables strata sets over the inherited environment; `undefined` unsets one. */
  env?: Record<string, string | undefined>;
}

export interface PlannedAction {
  /** `run` a command, `write`/`delete` a file, `call` an API, `wait` for a condition, `set` values for later steps. */
  kind: PlannedActionKind;
  /** Whose action it is: `stack/component`, a workflow step, a manifest node. */
  subject?: string;
  /** The line people read: the command as a shell takes it, `# write path`, `clone 9000 -> VM 'web'`. */
  summary: string;
  /** `run`: the exact program, arguments, folder and environment. */
  command?: PlannedCommand;
  /** `write`/`delete`: the file. */
  path?: string;
  /** `write`: the content (masked), printed under the summary line. */
  content?: string;
  /** Subjects this action waits for (parallel plans). */
  needs?: string[];
  /** Indented lines under the summary (a node's delegation, a step's options). */
  details?: string[];
  /** How far the action is nested under the one before it: two more spaces per level (a module's commands). */
  depth?: number;
}

export interface DryRunPlan {
  /** What is planned, e.g. `Dry run of workflow deploy (deploy.yaml): nothing is executed`. */
  title?: string;
  /** Lines printed after the title, before the actions. */
  notes?: string[];
  actions: PlannedAction[];
}

/** Text for people: title, notes, then each action's summary (indented by its depth) with its content and details. */
export function renderPlanText(plan: DryRunPlan, indent = ''): string {
  const lines: string[] = [];
  if (plan.title !== undefined) lines.push(plan.title);
  for (const note of plan.notes ?? []) lines.push(note);
  for (const action of plan.actions) {
    const pad = indent + '  '.repeat(action.depth ?? 0);
    lines.push(`${pad}${action.summary}`);
    if (action.content !== undefined) {
      for (const line of action.content.replace(/\n$/, '').split('\n')) lines.push(`${pad}#   ${line}`);
    }
    for (const detail of action.details ?? []) lines.push(`${pad}    ${detail}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
