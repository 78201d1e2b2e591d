/**
 * `strata terraform|packer|kubernetes|ansible <verb> <component> -s <stack> [native args] [-- native args]`:
 * splits the words, finds the component instance through the stack engine and hands it to the kind's runner.
 * Returns the exit code (the tool's own when it ran).
 */
import { createInterface } from 'node:readline/promises';
import { render } from '../cli/output.ts';
import { StrataError, UsageError } from '../errors.ts';
import { openEngine, type StackEngine } from '../stacks/index.ts';
import type { ComponentInstance } from '../stacks/types.ts';
import { didYouMean } from '../util/suggest.ts';
import { runAnsible } from './ansible/index.ts';
import { COMMON_FLAGS, type FlagSpec, type SplitArgs, splitArgs } from './argv.ts';
import { checkRestrictions, disabledNotice, maskSensitiveVars } from './common.ts';
import { KUBERNETES_VERBS, runKubernetes } from './kubernetes/index.ts';
import { assertPackerVerb, packerOutput, runPacker } from './packer/index.ts';
import { describeSteps, executeSteps, type Step } from './steps.ts';
import { backendStep, cleanTargets, planShell, renderPlan, showPlan, varfileStep } from './terraform/extra.ts';
import { runTerraformMany, summaryTable } from './terraform/multi.ts';
import { runTerraform } from './terraform/runner.ts';

export type ToolchainKind = 'terraform' | 'packer' | 'kubernetes' | 'ansible';

export interface DispatchContext {
  cwd?: string;
  /** Global --config / --base-path given before the command word. */
  configPath?: string;
  basePath?: string;
}

const TERRAFORM_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  { name: 'format', kind: 'string' },
  { name: 'skip-init', kind: 'boolean' },
  { name: 'from-plan', kind: 'boolean' },
  { name: 'planfile', kind: 'string' },
  { name: 'all', kind: 'boolean' },
  { name: 'components', kind: 'string' },
  { name: 'affected', kind: 'boolean' },
  { name: 'ref', kind: 'string' },
  { name: 'sha', kind: 'string' },
  { name: 'include-uncommitted', kind: 'boolean' },
  { name: 'max-concurrency', kind: 'string' },
  { name: 'continue-on-error', kind: 'boolean' },
  { name: 'file', kind: 'string' },
  { name: 'everything', kind: 'boolean' },
  { name: 'force', kind: 'boolean' },
  { name: 'skip-lock-file', kind: 'boolean' },
];
const PACKER_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  { name: 'format', kind: 'string' },
  { name: 'template', kind: 'string' },
  { name: 'query', kind: 'string' },
];
const ANSIBLE_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  { name: 'playbook', kind: 'string' },
  { name: 'inventory', kind: 'string' },
];

/** Terraform subcommands with a second word strata keeps as part of the verb (`state list`, `providers lock`). */
const SUBVERBS: Record<string, string[]> = {
  state: ['list', 'show', 'mv', 'rm', 'pull', 'push', 'replace-provider', 'identities'],
  providers: ['lock', 'mirror', 'schema'],
};

function str(flags: SplitArgs['flags'], name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

function engineFor(split: SplitArgs, context: DispatchContext): Promise<StackEngine> {
  return openEngine({
    cwd: context.cwd,
    configPath: str(split.flags, 'config') ?? context.configPath,
    basePath: str(split.flags, 'base-path') ?? context.basePath,
  });
}

function formatOf(split: SplitArgs): 'json' | 'yaml' | undefined {
  const format = str(split.flags, 'format');
  if (format === undefined) return undefined;
  if (format !== 'json' && format !== 'yaml') {
    throw new UsageError(`invalid --format '${format}'`, { hint: 'use one of: json, yaml' });
  }
  return format;
}

async function instanceFor(
  engine: StackEngine,
  kind: ToolchainKind,
  verb: string,
  component: string | undefined,
  stack: string | undefined,
): Promise<ComponentInstance> {
  if (!component) {
    throw new UsageError(`missing component: strata ${kind} ${verb} <component> -s <stack>`);
  }
  if (!stack) {
    const stacks = await engine.stackNames();
    throw new UsageError(`missing stack: strata ${kind} ${verb} ${component} -s <stack>`, {
      hint:
        stacks.length > 0 ? `stacks: ${stacks.slice(0, 10).join(', ')}${stacks.length > 10 ? ', ...' : ''}` : undefined,
    });
  }
  return engine.describeComponent(component, stack, { kind });
}

export async function runComponentCommand(
  kind: ToolchainKind,
  words: string[],
  context: DispatchContext = {},
): Promise<number> {
  if (words.includes('--no-color') && !words.slice(0, words.indexOf('--no-color')).includes('--')) {
    process.env.NO_COLOR = '1';
  }
  switch (kind) {
    case 'terraform':
      return terraformCommand(words, context);
    case 'packer':
      return packerCommand(words, context);
    case 'kubernetes':
      return kubernetesCommand(words, context);
    case 'ansible':
      return ansibleCommand(words, context);
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function terraformCommand(words: string[], context: DispatchContext): Promise<number> {
  const firstBare = words.find((w) => !w.startsWith('-'));
  const split = splitArgs(words, TERRAFORM_FLAGS, firstBare === 'generate' ? 3 : 2);
  let [verb, component] = split.positionals;
  if (!verb) {
    throw new UsageError('missing terraform command', {
      hint: 'e.g. strata terraform plan <component> -s <stack>; see strata terraform --help',
    });
  }
  // `state list vpc`: the second word belongs to the verb, the component follows.
  if (SUBVERBS[verb]?.includes(component ?? '')) {
    const again = splitArgs(words, TERRAFORM_FLAGS, 3);
    verb = `${again.positionals[0]} ${again.positionals[1]}`;
    component = again.positionals[2];
    split.native = again.native;
  }
  const stack = str(split.flags, 'stack');
  const dryRun = split.flags['dry-run'] === true;
  const engine = await engineFor(split, context);

  if (split.flags.all || split.flags.components || split.flags.affected) {
    return terraformMany(engine, verb, split, context);
  }
  if (verb === 'clean') return terraformClean(engine, component, stack, split);
  if (verb === 'generate') return terraformGenerate(engine, split);

  if (split.flags.format !== undefined) {
    throw new UsageError('--format applies to --all / --components runs and to generate planfile', {
      hint: 'terraform output -json prints outputs as JSON: strata terraform output <component> -s <stack> -json',
    });
  }
  const [mainVerb, ...subverb] = verb.split(' ');
  const instance = await instanceFor(engine, 'terraform', mainVerb, component, stack);
  if (verb === 'shell') {
    if (!instance.enabled) {
      process.stderr.write(`${disabledNotice(instance)}\n`);
      return 0;
    }
    await maskSensitiveVars(instance.componentDir, instance.description.vars ?? {}, ['.tf', '.tf.json']);
    const steps = planShell(engine.config, instance, { skipInit: split.flags['skip-init'] === true });
    return runSteps(steps, engine, dryRun);
  }
  const result = await runTerraform(engine.config, instance, {
    verb: mainVerb,
    args: [...subverb, ...split.native],
    skipInit: split.flags['skip-init'] === true,
    // `deploy --planfile f` applies that plan, as Atmos does.
    fromPlan:
      split.flags['from-plan'] === true || (mainVerb === 'deploy' && str(split.flags, 'planfile') !== undefined),
    planFile: str(split.flags, 'planfile'),
    dryRun,
  });
  if (result.skipped) process.stderr.write(`${result.skipped}\n`);
  if (result.dryRun !== undefined) out(result.dryRun);
  return result.exitCode;
}

async function runSteps(steps: Step[], engine: StackEngine, dryRun: boolean): Promise<number> {
  if (dryRun) {
    out(describeSteps(steps, engine.config.basePath));
    return 0;
  }
  return (await executeSteps(steps)).exitCode;
}

/** The terraform instances a change affects (`--affected`), as `describe affected` computes them. */
async function affectedInstances(engine: StackEngine, split: SplitArgs, context: DispatchContext, stack?: string) {
  const { describeAffected } = await import('../gitops/affected.ts');
  const items = await describeAffected({
    cwd: context.cwd,
    configPath: str(split.flags, 'config') ?? context.configPath,
    basePath: str(split.flags, 'base-path') ?? context.basePath,
    ref: str(split.flags, 'ref'),
    sha: str(split.flags, 'sha'),
    includeUncommitted: split.flags['include-uncommitted'] === true,
    stack,
  });
  const wanted = new Set(
    items.filter((i) => i.component_type === 'terraform' && !i.deleted).map((i) => `${i.component}@${i.stack}`),
  );
  return (await engine.instances({ stack, kind: 'terraform' })).filter((i) => wanted.has(`${i.name}@${i.stack}`));
}

async function terraformMany(
  engine: StackEngine,
  verb: string,
  split: SplitArgs,
  context: DispatchContext,
): Promise<number> {
  const stack = str(split.flags, 'stack');
  const wanted = str(split.flags, 'components')
    ?.split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const format = formatOf(split);
  const concurrencyText = str(split.flags, 'max-concurrency') ?? '4';
  const maxConcurrency = Number(concurrencyText);
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new UsageError(`--max-concurrency must be a whole number >= 1 (got '${concurrencyText}')`);
  }
  const all = split.flags.affected
    ? await affectedInstances(engine, split, context, stack)
    : await engine.instances({ stack, kind: 'terraform' });
  if (split.flags.affected && all.length === 0) {
    process.stderr.write('No terraform component instance is affected by the change.\n');
    return 0;
  }
  if (stack && all.length === 0 && !(await engine.stackNames()).includes(stack)) {
    throw new StrataError(`stack '${stack}' not found`, {
      hint: didYouMean(stack, await engine.stackNames()) ?? 'run `strata list stacks` to see the stacks',
    });
  }
  if (wanted) {
    const names = new Set(all.map((i) => i.name));
    const unknown = wanted.filter((w) => !names.has(w));
    if (unknown.length > 0) {
      throw new StrataError(`unknown component(s) for --components: ${unknown.join(', ')}`, {
        hint: `terraform components${stack ? ` in '${stack}'` : ''}: ${[...names].sort().join(', ')}`,
      });
    }
  }
  // Abstract components are never provisioned; --all skips them as Atmos does.
  const selected = all.filter((i) => !i.abstract && (!wanted || wanted.includes(i.name)));
  if (selected.length === 0) {
    throw new StrataError(`no terraform components to run${stack ? ` in stack '${stack}'` : ''}`);
  }
  for (const instance of selected) checkRestrictions(instance, verb);
  const toStdout = format === undefined;
  const result = await runTerraformMany(engine.config, selected, {
    verb,
    args: split.native,
    maxConcurrency,
    skipInit: split.flags['skip-init'] === true,
    dryRun: split.flags['dry-run'] === true,
    onError: split.flags['continue-on-error'] === true ? 'continue' : 'stop',
    // With --format the summary is the data on stdout; the tools' output goes to stderr.
    write: (text) => (toStdout ? process.stdout : process.stderr).write(text),
  });
  if (format)
    out(
      render(
        { results: result.results, exitCode: result.exitCode, durationMs: result.durationMs, maxConcurrency },
        format,
      ),
    );
  else out(`\n${summaryTable(result)}`);
  return result.exitCode;
}

async function terraformClean(
  engine: StackEngine,
  component: string | undefined,
  stack: string | undefined,
  split: SplitArgs,
): Promise<number> {
  const options = { everything: split.flags.everything === true, skipLockFile: split.flags['skip-lock-file'] === true };
  let targets: string[] = [];
  if (component && stack) {
    const instance = await engine.describeComponent(component, stack, { kind: 'terraform' });
    targets = await cleanTargets(engine.config, instance.componentDir, instance, options);
  } else {
    const instances = await engine.instances({ stack, kind: 'terraform' });
    const chosen = component ? instances.filter((i) => i.name === component) : instances;
    if (component && chosen.length === 0) {
      throw new StrataError(`terraform component '${component}' not found${stack ? ` in stack '${stack}'` : ''}`);
    }
    const dirs = [...new Set(chosen.map((i) => i.componentDir))];
    for (const dir of dirs) targets.push(...(await cleanTargets(engine.config, dir, undefined, options)));
  }
  if (targets.length === 0) {
    process.stderr.write('Nothing to clean.\n');
    return 0;
  }
  const steps: Step[] = targets.map((path) => ({ type: 'delete', path }));
  if (split.flags['dry-run'] === true) return runSteps(steps, engine, true);
  if (split.flags.force !== true) {
    process.stderr.write(`This deletes:\n${targets.map((t) => `  ${t}`).join('\n')}\n`);
    if (!process.stdin.isTTY) {
      throw new UsageError('clean deletes files and needs confirmation', {
        hint: 'pass --force to delete them, or --dry-run to only list them',
      });
    }
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await prompt.question('Delete these files? [y/N] ');
    prompt.close();
    if (!/^y(es)?$/i.test(answer.trim())) return 1;
  }
  await executeSteps(steps);
  for (const target of targets) process.stderr.write(`Deleted ${target}\n`);
  return 0;
}

async function terraformGenerate(engine: StackEngine, split: SplitArgs): Promise<number> {
  const [, what, component] = split.positionals;
  const stack = str(split.flags, 'stack');
  const choices = ['varfile', 'backend', 'planfile'];
  if (!what || !choices.includes(what)) {
    throw new UsageError(what ? `unknown generate target '${what}'` : 'missing generate target', {
      hint: `use one of: ${choices.join(', ')} (e.g. strata terraform generate varfile vpc -s dev)`,
    });
  }
  const instance = await instanceFor(engine, 'terraform', `generate ${what}`, component, stack);
  if (!instance.enabled) {
    process.stderr.write(`${disabledNotice(instance)}\n`);
    return 0;
  }
  const dryRun = split.flags['dry-run'] === true;
  if (what === 'varfile' || what === 'backend') {
    const step =
      what === 'varfile' ? varfileStep(instance, str(split.flags, 'file')) : backendStep(engine.config, instance);
    const code = await runSteps([step], engine, dryRun);
    if (!dryRun && step.type === 'write') process.stderr.write(`Wrote ${step.path}\n`);
    return code;
  }
  const format = formatOf(split) ?? 'json';
  const result = await runTerraform(engine.config, instance, {
    verb: 'plan',
    args: split.native,
    skipInit: split.flags['skip-init'] === true,
    dryRun,
  });
  if (result.dryRun !== undefined) {
    out(result.dryRun);
    return 0;
  }
  if (result.exitCode !== 0) return result.exitCode;
  const plan = await showPlan(engine.config, instance, result.planned.planfile);
  const file = str(split.flags, 'file') ?? `${result.planned.planfile}.${format}`;
  const step: Step = { type: 'write', path: file, content: renderPlan(plan, format) };
  await executeSteps([step]);
  process.stderr.write(`Wrote ${step.path}\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------

async function packerCommand(words: string[], context: DispatchContext): Promise<number> {
  const split = splitArgs(words, PACKER_FLAGS, 2);
  const verb = assertPackerVerb(split.positionals[0]);
  const engine = await engineFor(split, context);
  const instance = await instanceFor(engine, 'packer', verb, split.positionals[1], str(split.flags, 'stack'));
  if (verb === 'output') {
    const value = await packerOutput(instance, str(split.flags, 'query'));
    const format = formatOf(split);
    if (!format && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
      out(String(value));
    } else out(render(value, format ?? 'yaml'));
    return 0;
  }
  const result = await runPacker(engine.config, instance, {
    verb,
    args: split.native,
    template: str(split.flags, 'template'),
    dryRun: split.flags['dry-run'] === true,
  });
  if (result.skipped) process.stderr.write(`${result.skipped}\n`);
  if (result.dryRun !== undefined) out(result.dryRun);
  return result.exitCode;
}

async function kubernetesCommand(words: string[], context: DispatchContext): Promise<number> {
  const split = splitArgs(words, COMMON_FLAGS, 2);
  const verb = split.positionals[0];
  if (!verb || !(KUBERNETES_VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(verb ? `unknown kubernetes command '${verb}'` : 'missing kubernetes command', {
      hint: `use one of: ${KUBERNETES_VERBS.join(', ')}`,
    });
  }
  const engine = await engineFor(split, context);
  const instance = await instanceFor(engine, 'kubernetes', verb, split.positionals[1], str(split.flags, 'stack'));
  const result = await runKubernetes(engine.config, instance, {
    verb,
    args: split.native,
    dryRun: split.flags['dry-run'] === true,
  });
  if (result.skipped) process.stderr.write(`${result.skipped}\n`);
  if (result.dryRun !== undefined) out(result.dryRun);
  return result.exitCode;
}

async function ansibleCommand(words: string[], context: DispatchContext): Promise<number> {
  const split = splitArgs(words, ANSIBLE_FLAGS, 2);
  const verb = split.positionals[0];
  if (verb !== 'playbook') {
    throw new UsageError(verb ? `unknown ansible command '${verb}'` : 'missing ansible command', {
      hint: 'use: strata ansible playbook <component> -s <stack> [-- ansible-playbook args]',
    });
  }
  const engine = await engineFor(split, context);
  const instance = await instanceFor(engine, 'ansible', verb, split.positionals[1], str(split.flags, 'stack'));
  const result = await runAnsible(engine.config, instance, {
    verb,
    args: split.native,
    playbook: str(split.flags, 'playbook'),
    inventory: str(split.flags, 'inventory'),
    dryRun: split.flags['dry-run'] === true,
    color: process.env.NO_COLOR ? false : undefined,
    engine,
  });
  if (result.skipped) process.stderr.write(`${result.skipped}\n`);
  if (result.dryRun !== undefined) out(result.dryRun);
  return result.exitCode;
}
