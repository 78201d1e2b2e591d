import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { StrataError, UsageError } from '../../errors.ts';
import { DIAGRAM_FORMATS, type DiagramFormat, renderDiagram } from '../../graph/render.ts';
import { openEngine } from '../../services/engine.ts';
import { renderPlanText } from '../../util/plan.ts';
import { didYouMean } from '../../util/suggest.ts';
import { yaml } from '../../util/yaml-lib.ts';
import {
  chooseProgressMode,
  describeWorkflows,
  findWorkflow,
  listWorkflowFiles,
  type ProgressMode,
  planDiagram,
  runWorkflow,
  WorkflowRunError,
  type WorkflowRunResult,
  type WorkflowStreams,
  type WorkflowSummary,
} from '../../workflows/index.ts';
import { parseFormat, render } from '../output.ts';
import { subcommand } from '../shared.ts';

interface GlobalOptions {
  config?: string;
  basePath?: string;
}

function paths(cmd: Command): { workflowsDir: string; basePath: string; env: Record<string, string> } {
  const globals = cmd.optsWithGlobals() as GlobalOptions;
  const config = loadConfig({ configPath: globals.config, basePath: globals.basePath });
  // Nested `strata` steps must find the same configuration as this process, whatever their working directory.
  const env: Record<string, string> = {};
  if (globals.config) env.ATMOS_CONFIG = resolve(globals.config);
  if (globals.basePath) env.ATMOS_BASE_PATH = config.basePath;
  return { workflowsDir: config.workflows.basePath, basePath: config.basePath, env };
}

/**
 * Before anything runs: every stack given to strata steps (the CLI -s, else the step's or the workflow's `stack:`)
 * must exist, so a typo fails with a did-you-mean instead of after the steps before it ran. A `-s` inside a step's
 * command is left to that step, as Atmos does (its failure prints the resume hint).
 */
async function checkWorkflowStacks(
  name: string,
  options: { workflowsDir: string; basePath: string; file?: string; stack?: string; cmd: Command },
): Promise<void> {
  const { workflow } = findWorkflow(options.workflowsDir, name, { file: options.file, basePath: options.basePath });
  const wanted = new Map<string, string>();
  for (const step of workflow.steps) {
    if (step.type !== 'strata' && step.type !== 'atmos') continue;
    const stack = options.stack ?? step.stack ?? workflow.stack;
    if (stack && !wanted.has(stack)) wanted.set(stack, step.name);
  }
  if (wanted.size === 0) return;
  const globals = options.cmd.optsWithGlobals() as GlobalOptions;
  const engine = await openEngine({ configPath: globals.config, basePath: globals.basePath, processFunctions: false });
  const known = await engine.stackNames();
  // A repository without stacks (workflows only) has nothing to check against: the steps report it themselves.
  if (known.length === 0) return;
  for (const [stack, step] of wanted) {
    if (known.includes(stack)) continue;
    throw new StrataError(`workflow '${name}': step '${step}' uses stack '${stack}', which does not exist`, {
      location: workflow.location,
      hint: `${didYouMean(stack, known) ?? ''} Run \`strata list stacks\` to see all available stacks.`.trim(),
    });
  }
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--max-concurrency must be a whole number >= 1 (got '${value}')`);
  return n;
}

function progressMode(value: string | undefined): ProgressMode | undefined {
  if (value === undefined) return undefined;
  if (value === 'tty' || value === 'plain' || value === 'none') return value;
  throw new UsageError(`invalid --progress '${value}'`, { hint: 'use one of: tty, plain, none' });
}

function table(rows: WorkflowSummary[]): string {
  if (rows.length === 0) return 'No workflows found\n';
  const header = ['FILE', 'WORKFLOW', 'DESCRIPTION'];
  const cells = rows.map((r) => [r.file, r.workflow, (r.description ?? '').split('\n')[0]]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return `${[header, ...cells]
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

export function register(program: Command): void {
  registerWorkflow(program);
  registerDescribe(program);
  registerList(program);
}

function registerWorkflow(program: Command): void {
  program
    .command('workflow')
    .description('Run a workflow: the steps of a workflow manifest, in order or as a dependency graph')
    .argument('[name]', 'workflow name')
    .option(
      '-f, --file <file>',
      'manifest under workflows.base_path (extension optional); found automatically if unique',
    )
    .option('-s, --stack <stack>', 'stack for every strata step (overrides the workflow and step stacks)')
    .option('--from-step <step>', 'start at this step (earlier steps are not run)')
    .option('--resume', 'continue the last failed or interrupted run of this workflow from its first unfinished step')
    .option('--dry-run', 'print every command in run order, with the resolved stack, and run nothing')
    .option('--max-concurrency <n>', 'steps run in parallel at most (steps with `needs`)', positiveInteger, 4)
    .option('--progress <mode>', 'progress display: tty (task list), plain (timestamped lines) or none')
    .option(
      '--format <format>',
      "text; json: the run (or the dry run's plan) as one JSON document on stdout; mermaid or dot (with --dry-run): the steps as a graph",
      'text',
    )
    .addHelpText(
      'after',
      `
Examples:
  strata workflow deploy-homelab -f deploy            # stacks/workflows/deploy.yaml
  strata workflow lab-test -f lab --format json       # steps' output on stderr, the run record on stdout
  strata workflow plan-all -s dev --dry-run           # show the commands with their stack
  strata workflow plan-all --dry-run --format mermaid # the steps and what they need, as a picture
  strata workflow deploy-homelab --from-step apply
  strata workflow deploy-homelab --resume             # after a failure or Ctrl-C
Run records: <base_path>/.strata/runs/<workflow>/<timestamp>.{json,md}`,
    )
    .action(async (name: string | undefined, opts, cmd: Command) => {
      const { workflowsDir, basePath, env } = paths(cmd);
      if (!name) {
        const names = describeWorkflows(workflowsDir, { basePath, onProblem: () => {} });
        throw new UsageError('missing workflow name: strata workflow <name> [-f <file>]', {
          details:
            names.length > 0
              ? `Available workflows:\n\n${names.map((w) => `  • ${w.workflow} (${w.file})`).join('\n')}`
              : undefined,
          hint: names.length > 0 ? undefined : `no workflow manifests under ${workflowsDir}`,
        });
      }
      const format = parseFormat(opts.format, ['text', 'json', ...DIAGRAM_FORMATS]) as string;
      const json = format === 'json';
      if (format !== 'text' && !json && opts.dryRun !== true) {
        throw new UsageError(`--format ${format} draws the dry run's steps: add --dry-run`);
      }
      if (opts.resume !== true) {
        await checkWorkflowStacks(name, { workflowsDir, basePath, file: opts.file, stack: opts.stack, cmd });
      }
      // With --format json, stdout holds only the document: the steps' own output goes to stderr.
      const streams: WorkflowStreams = { stdout: json ? process.stderr : process.stdout, stderr: process.stderr };
      const run = runWorkflow(name, {
        workflowsDir,
        basePath,
        file: opts.file,
        stack: opts.stack,
        fromStep: opts.fromStep,
        resume: opts.resume === true,
        dryRun: opts.dryRun === true,
        maxConcurrency: opts.maxConcurrency,
        streams,
        progress: progressMode(opts.progress) ?? chooseProgressMode(streams),
        env,
      });
      if (!json) {
        const result = await run;
        if (result.plan && format !== 'text') {
          process.stdout.write(renderDiagram(planDiagram(result.plan), format as DiagramFormat));
        } else if (result.plan) process.stdout.write(renderPlanText(result.plan));
        return;
      }
      const document = (result: WorkflowRunResult, error?: string) =>
        render({ workflow: name, dryRun: opts.dryRun === true, ...result, ...(error ? { error } : {}) }, 'json');
      try {
        process.stdout.write(document(await run));
      } catch (error) {
        if (error instanceof WorkflowRunError) process.stdout.write(document(error.result, error.message));
        throw error;
      }
    });
}

function registerDescribe(program: Command): void {
  subcommand(program, 'describe', 'Show the merged configuration of stacks, components, workflows, ...')
    .command('workflows')
    .description('List the workflows under workflows.base_path (as Atmos: -o list | map | all)')
    .option('-f, --file <file>', 'only this manifest')
    .option('-o, --output <kind>', 'list (file + workflow), map (file -> names) or all (file -> manifest)', 'list')
    .option('--format <format>', 'yaml or json', 'yaml')
    .addHelpText('after', '\nExample:\n  strata describe workflows -o map --format json')
    .action((opts, cmd: Command) => {
      const format = parseFormat(opts.format);
      const { workflowsDir, basePath } = paths(cmd);
      const warn = (message: string) => process.stderr.write(`Warning: ${message}\n`);
      const rows = describeWorkflows(workflowsDir, { basePath, file: opts.file, onProblem: warn });
      let data: unknown;
      if (opts.output === 'list') data = rows.map(({ file, workflow }) => ({ file, workflow }));
      else if (opts.output === 'map') {
        const map: Record<string, string[]> = {};
        for (const r of rows) {
          map[r.file] = [...(map[r.file] ?? []), r.workflow];
        }
        data = map;
      } else if (opts.output === 'all') {
        const all: Record<string, unknown> = {};
        for (const file of new Set(rows.map((r) => r.file)))
          all[file] = yaml().parse(readFileSync(join(workflowsDir, file), 'utf8'));
        data = all;
      } else {
        throw new UsageError(`invalid --output '${opts.output}'`, { hint: 'use one of: list, map, all' });
      }
      process.stdout.write(render(data, format));
    });
}

function registerList(program: Command): void {
  subcommand(program, 'list', 'List stacks, components, workflows, ...')
    .command('workflows')
    .description('List the workflows under workflows.base_path with their descriptions')
    .option('-f, --file <file>', 'only this manifest')
    .option('--format <format>', 'table, yaml or json', 'table')
    .addHelpText('after', '\nExample:\n  strata list workflows --format json')
    .action((opts, cmd: Command) => {
      const { workflowsDir, basePath } = paths(cmd);
      if (listWorkflowFiles(workflowsDir).length === 0 && opts.file === undefined) {
        throw new StrataError(`no workflow manifests under ${workflowsDir}`, {
          hint: 'set workflows.base_path in atmos.yaml / strata.yaml and add a manifest with a `workflows:` key',
        });
      }
      const warn = (message: string) => process.stderr.write(`Warning: ${message}\n`);
      const rows = describeWorkflows(workflowsDir, { basePath, file: opts.file, onProblem: warn });
      if (opts.format === 'table') process.stdout.write(table(rows));
      else process.stdout.write(render(rows, parseFormat(opts.format)));
    });
}
