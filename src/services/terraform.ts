/**
 * Terraform requests of `runToolchain`: one component (any verb, `shell`), many (`--all`, `--components`,
 * `--affected`, in dependency order), and the Atmos-only `clean` and `generate varfile|backend|planfile`.
 */
import { checkRestrictions, disabledNotice, maskSensitiveVars } from '../components/common.ts';
import { dryRunPrivateDir, withHandover, withSensitiveMasked } from '../components/handover.ts';
import { executeSteps, planSteps, type Step } from '../components/steps.ts';
import {
  backendStep,
  cleanTargets,
  planShell,
  renderPlan,
  showPlan,
  varfileStep,
} from '../components/terraform/extra.ts';
import { runTerraformMany } from '../components/terraform/multi.ts';
import { runTerraform } from '../components/terraform/runner.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { StrataError, UsageError } from '../errors.ts';
import type { StackEngine } from '../stacks/engine.ts';
import { didYouMean } from '../util/suggest.ts';
import { defaultResolvers } from './engine.ts';
import {
  type AffectedSelection,
  instanceFor,
  type TerraformRequest,
  type ToolchainResult,
} from './toolchain-request.ts';

export function runTerraformRequest(engine: StackEngine, request: TerraformRequest): Promise<ToolchainResult> {
  if (request.selection) return terraformMany(engine, request);
  const [mainVerb] = request.verb.split(' ');
  if (mainVerb === 'clean') return terraformClean(engine, request);
  if (mainVerb === 'generate') return terraformGenerate(engine, request);
  return terraformOne(engine, request);
}

/** Runs the steps, or plans them for a dry run. */
async function runSteps(steps: Step[], engine: StackEngine, dryRun: boolean): Promise<ToolchainResult> {
  if (dryRun) return { exitCode: 0, notices: [], dryRun: planSteps(steps, engine.config.basePath) };
  return { exitCode: (await executeSteps(steps)).exitCode, notices: [] };
}

async function terraformOne(engine: StackEngine, request: TerraformRequest): Promise<ToolchainResult> {
  const [mainVerb, ...subverb] = request.verb.split(' ');
  const instance = await instanceFor(engine, request, mainVerb);
  if (request.verb === 'shell') {
    if (!instance.enabled) return { exitCode: 0, notices: [disabledNotice(instance)] };
    await maskSensitiveVars(instance.componentDir, instance.description.vars ?? {}, ['.tf', '.tf.json']);
    const options = { skipInit: request.skipInit };
    if (request.dryRun) {
      const privateDir = await dryRunPrivateDir(instance);
      return runSteps(planShell(engine.config, instance, { ...options, privateDir }), engine, true);
    }
    // The var file lives as long as the shell, in a private folder when the vars hold secrets.
    return withHandover(instance, ({ instance: resolved, privateDir }) =>
      runSteps(planShell(engine.config, resolved, { ...options, privateDir }), engine, false),
    );
  }
  const result = await runTerraform(engine.config, instance, {
    verb: mainVerb,
    args: [...subverb, ...request.args],
    skipInit: request.skipInit,
    // `deploy --planfile f` applies that plan, as Atmos does.
    fromPlan: request.fromPlan === true || (mainVerb === 'deploy' && request.planFile !== undefined),
    planFile: request.planFile,
    dryRun: request.dryRun,
    color: request.color,
  });
  const notices = [result.skipped, result.hint].filter((n): n is string => n !== undefined);
  return { exitCode: result.exitCode, notices, dryRun: result.dryRun };
}

/** The terraform instances a change affects (`--affected`), as `describe affected` computes them. */
async function affectedInstances(
  engine: StackEngine,
  selection: AffectedSelection,
  stack: string | undefined,
): Promise<ComponentInstance[]> {
  // Loaded only for --affected: git and the affected machinery stay out of every other toolchain run.
  const { describeAffected } = await import('../gitops/affected.ts');
  const items = await describeAffected({ ...selection, stack, resolvers: defaultResolvers });
  const wanted = new Set(
    items.filter((i) => i.component_type === 'terraform' && !i.deleted).map((i) => `${i.component}@${i.stack}`),
  );
  return (await engine.instances({ stack, kind: 'terraform' })).filter((i) => wanted.has(`${i.name}@${i.stack}`));
}

async function terraformMany(engine: StackEngine, request: TerraformRequest): Promise<ToolchainResult> {
  const { stack, selection = {} } = request;
  const wanted = selection.components;
  const all = selection.affected
    ? await affectedInstances(engine, selection.affected, stack)
    : await engine.instances({ stack, kind: 'terraform' });
  if (selection.affected && all.length === 0) {
    return { exitCode: 0, notices: ['No terraform component instance is affected by the change.'] };
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
  for (const instance of selected) checkRestrictions(instance, request.verb);
  const many = await runTerraformMany(engine.config, selected, {
    verb: request.verb,
    args: request.args,
    maxConcurrency: request.maxConcurrency ?? 4,
    skipInit: request.skipInit,
    dryRun: request.dryRun,
    onError: request.continueOnError ? 'continue' : 'stop',
    color: request.color,
    output: request.output,
    write: request.onOutput,
  });
  return { exitCode: many.exitCode, notices: [], many };
}

async function terraformClean(engine: StackEngine, request: TerraformRequest): Promise<ToolchainResult> {
  const { component, stack } = request;
  const options = { everything: request.everything === true, skipLockFile: request.skipLockFile === true };
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
  if (targets.length === 0) return { exitCode: 0, notices: ['Nothing to clean.'] };
  const steps: Step[] = targets.map((path) => ({ type: 'delete', path }));
  if (request.dryRun) return runSteps(steps, engine, true);
  if (request.force !== true) {
    const answer = await request.confirm?.(targets);
    if (answer === undefined) {
      throw new UsageError('clean deletes files and needs confirmation', {
        hint: 'pass --force to delete them, or --dry-run to only list them',
      });
    }
    if (!answer) return { exitCode: 1, notices: [] };
  }
  await executeSteps(steps);
  return { exitCode: 0, notices: targets.map((target) => `Deleted ${target}`) };
}

async function terraformGenerate(engine: StackEngine, request: TerraformRequest): Promise<ToolchainResult> {
  const [, what] = request.verb.split(' ');
  const instance = await instanceFor(engine, request);
  if (!instance.enabled) return { exitCode: 0, notices: [disabledNotice(instance)] };
  if (what === 'varfile' || what === 'backend') {
    // Generated files show secrets masked, as describe does: `varfileStep` writes a SecretRef as its masked form.
    const shown = await withSensitiveMasked(instance);
    const step = what === 'varfile' ? varfileStep(shown, request.file) : backendStep(engine.config, shown);
    const result = await runSteps([step], engine, request.dryRun);
    if (!request.dryRun && step.type === 'write') result.notices.push(`Wrote ${step.path}`);
    return result;
  }
  const format = request.format ?? 'json';
  const result = await runTerraform(engine.config, instance, {
    verb: 'plan',
    args: request.args,
    skipInit: request.skipInit,
    dryRun: request.dryRun,
  });
  if (result.dryRun !== undefined) return { exitCode: 0, notices: [], dryRun: result.dryRun };
  if (result.exitCode !== 0) return { exitCode: result.exitCode, notices: result.hint ? [result.hint] : [] };
  const plan = await showPlan(engine.config, instance, result.planned.planfile);
  const file = request.file ?? `${result.planned.planfile}.${format}`;
  await executeSteps([{ type: 'write', path: file, content: renderPlan(plan, format) }]);
  return { exitCode: 0, notices: [`Wrote ${file}`] };
}
