/**
 * Runs one Terraform/OpenTofu command for one component in one stack, the way Atmos does: var file, generated
 * backend and provider overrides, `init`, workspace select-or-create, then the subcommand with `-var-file`.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { UsageError } from '../../errors.ts';
import type { RunResult } from '../../exec/index.ts';
import type { DryRunPlan } from '../../util/plan.ts';
import { useColor } from '../../util/terminal.ts';
import {
  checkRestrictions,
  disabledNotice,
  json,
  maskSensitiveVars,
  requireComponentDir,
  section,
  terraformEnv,
  terraformPlanfileName,
  terraformVarfileName,
  toolCommand,
} from '../common.ts';
import { type ExecuteOptions, executeSteps, planSteps, type Step } from '../steps.ts';
import {
  BACKEND_FILE,
  backendDocument,
  PROVIDERS_OVERRIDE_FILE,
  providersOverride,
  TERRAFORM_OVERRIDE_FILE,
  terraformOverride,
  terraformSettings,
  workspaceName,
} from './files.ts';

export interface TerraformOptions {
  /** The subcommand: any Terraform subcommand, or `deploy`. */
  verb: string;
  /** Native arguments, passed through in order. */
  args?: string[];
  skipInit?: boolean;
  /** `deploy --from-plan`: apply the saved planfile instead of planning again. */
  fromPlan?: boolean;
  /** A planfile path (relative to the component folder) for `plan -out` / `deploy --from-plan`. */
  planFile?: string;
  /** Whether a person can answer prompts (stdin is a terminal); default: process.stdin.isTTY. */
  interactive?: boolean;
  /** The inherited environment, default process.env (decides TF_WORKSPACE / TF_CLI_CONFIG_FILE handling). */
  env?: NodeJS.ProcessEnv;
  /** Colour in Terraform's output; default: stdout is a terminal and NO_COLOR is unset. */
  color?: boolean;
}

/** Subcommands that get `-var-file` (Atmos's list, plus console which also reads variables). */
const VARFILE_VERBS = new Set(['plan', 'apply', 'deploy', 'destroy', 'import', 'refresh', 'test', 'console']);
/** Subcommands that accept `-no-color` (strata adds it when colour is off, e.g. output piped or NO_COLOR). */
const NO_COLOR_VERBS = new Set([
  'init',
  'plan',
  'apply',
  'deploy',
  'destroy',
  'output',
  'refresh',
  'import',
  'validate',
  'show',
  'test',
]);
/** Subcommands that need neither init nor a workspace. */
const NO_INIT_VERBS = new Set(['version', 'fmt', 'init', '-version', '-help', 'help', 'login', 'logout']);
/** Subcommands that need init but not a workspace (Atmos skips the workspace for `providers*`). */
const NO_WORKSPACE_VERBS = new Set(['providers', 'get', 'validate', 'graph', 'modules', 'metadata']);

export interface PlannedRun {
  steps: Step[];
  command: string;
  cwd: string;
  varfile: string;
  planfile: string;
  /** The main command is a plan that writes `planfile`. */
  savesPlan: boolean;
  workspace: string;
}

function hasFlag(args: string[], ...names: string[]): boolean {
  return args.some((a) => names.some((n) => a === n || a.startsWith(`${n}=`)));
}

function resolveIn(dir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dir, path);
}

/** The data dir Terraform uses (`TF_DATA_DIR`, default `.terraform`), from the component env or the process env. */
function dataDir(dir: string, env: Record<string, string | undefined>, base: NodeJS.ProcessEnv): string {
  const value = env.TF_DATA_DIR ?? base.TF_DATA_DIR;
  return resolveIn(dir, value && value !== '' ? value : '.terraform');
}

/** Files written before every command that reads the configuration. */
export function prepareSteps(config: StrataConfig, instance: ComponentInstance, workspace: string): Step[] {
  const dir = instance.componentDir;
  const steps: Step[] = [
    {
      type: 'write',
      path: join(dir, terraformVarfileName(instance)),
      content: json(instance.description.vars ?? {}),
    },
  ];
  if (terraformSettings(config).auto_generate_backend_file === true && instance.description.backend_type) {
    if (isDefaultLocal(instance)) {
      // `backend "local" {}` equals Terraform's implicit backend, but declaring it makes a fresh init offer to
      // "migrate" the workspaces already on disk into themselves (a prompt, so a failure without a terminal).
      // A generated file left by another stack of this folder must go, though.
      steps.push({ type: 'delete', path: join(dir, BACKEND_FILE) });
    } else {
      steps.push({ type: 'write', path: join(dir, BACKEND_FILE), content: json(backendDocument(instance, workspace)) });
    }
  }
  const providers = providersOverride(instance);
  if (providers) steps.push({ type: 'write', path: join(dir, PROVIDERS_OVERRIDE_FILE), content: json(providers) });
  const override = terraformOverride(instance);
  if (override) steps.push({ type: 'write', path: join(dir, TERRAFORM_OVERRIDE_FILE), content: json(override) });
  return steps;
}

function isDefaultLocal(instance: ComponentInstance): boolean {
  return (
    instance.description.backend_type === 'local' && Object.keys(section(instance.description.backend)).length === 0
  );
}

/**
 * Atmos adds `-reconfigure` (init_run_reconfigure, default on). Not for a configured `local` backend (a custom
 * path): Terraform then treats the workspaces already on disk as another backend and asks to migrate them.
 */
function reconfigure(config: StrataConfig, instance: ComponentInstance, verb: string): boolean {
  if (instance.description.backend_type === 'local' && !isDefaultLocal(instance)) return false;
  return terraformSettings(config).init_run_reconfigure !== false || verb === 'workspace';
}

/** `init` (after deleting `.terraform/environment`) and workspace select-or-create, as Atmos runs them first. */
export function initSteps(
  config: StrataConfig,
  instance: ComponentInstance,
  options: { verb: string; base?: NodeJS.ProcessEnv; skipWorkspace?: boolean; color?: boolean },
): Step[] {
  const settings = terraformSettings(config);
  const base = options.base ?? process.env;
  const env = terraformEnv(config, instance, base);
  const dir = instance.componentDir;
  const command = toolCommand(config, instance, 'terraform');
  const varfile = terraformVarfileName(instance);
  const steps: Step[] = [{ type: 'delete', path: join(dataDir(dir, env, base), 'environment') }];
  const init = ['init'];
  if (reconfigure(config, instance, options.verb)) init.push('-reconfigure');
  if (section(settings.init).pass_vars === true) init.push(`-var-file=${varfile}`);
  const noColor = options.color === false ? ['-no-color'] : [];
  init.push(...noColor);
  steps.push({ type: 'run', role: 'init', command, args: init, cwd: dir, env });
  const workspace = workspaceName(config, instance);
  const tfWorkspace = env.TF_WORKSPACE ?? base.TF_WORKSPACE;
  const skip =
    options.skipWorkspace ||
    (tfWorkspace !== undefined && tfWorkspace !== '') ||
    settings.workspaces_enabled === false ||
    instance.description.backend_type === 'http';
  if (!skip) {
    steps.push({
      type: 'run',
      role: 'workspace',
      command,
      args: ['workspace', 'select', ...noColor, workspace],
      orElse: { args: ['workspace', 'new', ...noColor, workspace] },
      quiet: true,
      cwd: dir,
      env,
    });
  }
  return steps;
}

/** Plans the whole run without touching anything: what `--dry-run` prints and what `runTerraform` executes. */
export function planTerraform(
  config: StrataConfig,
  instance: ComponentInstance,
  options: TerraformOptions,
): PlannedRun {
  const settings = terraformSettings(config);
  const base = options.env ?? process.env;
  const dir = instance.componentDir;
  const command = toolCommand(config, instance, 'terraform');
  const env = terraformEnv(config, instance, base);
  const workspace = workspaceName(config, instance);
  const varfileName = terraformVarfileName(instance);
  const varfile = join(dir, varfileName);
  const planfile = resolveIn(dir, options.planFile ?? terraformPlanfileName(instance));
  // Relative inside the component folder (the command's cwd), so command lines read like Atmos's.
  const planArg = relative(dir, planfile).startsWith('..') ? planfile : relative(dir, planfile);
  const args = options.args ?? [];
  const verb = options.verb;
  const interactive = options.interactive ?? process.stdin.isTTY === true;
  const color = options.color ?? useColor(process.stdout);

  const steps: Step[] = [];
  if (verb !== 'version' && verb !== 'fmt') steps.push(...prepareSteps(config, instance, workspace));

  const runInit =
    !NO_INIT_VERBS.has(verb) && !options.skipInit && !(verb === 'deploy' && settings.deploy_run_init === false);
  if (runInit) {
    steps.push(...initSteps(config, instance, { verb, base, color, skipWorkspace: NO_WORKSPACE_VERBS.has(verb) }));
  }

  const varfileArg = `-var-file=${varfileName}`;
  const autoApprove = hasFlag(args, '-auto-approve', '--auto-approve');
  // `apply <saved plan>`: the last word names an existing file (not the value of `-var x=1`). Older Terraform
  // versions reject -var-file next to a saved plan.
  const last = args.at(-1);
  const appliesPlan =
    verb === 'apply' &&
    last !== undefined &&
    !last.startsWith('-') &&
    existsSync(resolveIn(dir, last)) &&
    !args.at(-2)?.match(/^-var(-file)?$/);
  let main: string[] | undefined;
  let prompts = false;
  let savesPlan = false;
  switch (verb) {
    case 'plan': {
      savesPlan = !hasFlag(args, '-out') && section(settings.plan).skip_planfile !== true;
      const out = savesPlan ? [`-out=${planArg}`] : [];
      main = ['plan', varfileArg, ...out, ...args];
      break;
    }
    case 'deploy':
      main = ['apply', ...(autoApprove ? [] : ['-auto-approve'])];
      main.push(...(options.fromPlan ? [...args, planArg] : [varfileArg, ...args]));
      break;
    case 'apply': {
      const approve = !autoApprove && settings.apply_auto_approve === true ? ['-auto-approve'] : [];
      main = ['apply', ...approve, ...(appliesPlan ? [] : [varfileArg]), ...args];
      prompts = !autoApprove && approve.length === 0 && !appliesPlan;
      break;
    }
    case 'destroy':
      main = ['destroy', varfileArg, ...args];
      prompts = !autoApprove;
      break;
    case 'init': {
      const init = ['init'];
      if (reconfigure(config, instance, verb)) init.push('-reconfigure');
      if (section(settings.init).pass_vars === true) init.push(varfileArg);
      steps.push({ type: 'delete', path: join(dataDir(dir, env, base), 'environment') });
      main = [...init, ...args];
      break;
    }
    case 'workspace':
      // `strata terraform workspace vpc -s dev` selects (or creates) the stack's workspace; extra words run as-is.
      main = args.length > 0 ? ['workspace', ...args] : undefined;
      break;
    default:
      main = VARFILE_VERBS.has(verb) ? [verb, varfileArg, ...args] : [verb, ...args];
      prompts = verb === 'console';
  }
  if (main) {
    if (!color && NO_COLOR_VERBS.has(verb) && !main.includes('-no-color')) main.splice(1, 0, '-no-color');
    if (prompts && !interactive) {
      throw new UsageError(`'terraform ${verb}' asks for confirmation, and there is no terminal to answer it`, {
        hint:
          verb === 'console'
            ? 'run it from a terminal'
            : `pass -auto-approve${verb === 'apply' ? ", use 'strata terraform deploy'," : ''} or run it from a terminal`,
      });
    }
    steps.push({ type: 'run', role: 'main', command, args: main, cwd: dir, env, interactive: prompts });
  }
  if (verb === 'deploy' || verb === 'apply') {
    // Atmos removes the var file after apply: it may hold secrets, and the next run writes it again.
    steps.push({ type: 'delete', path: varfile, always: true });
    if (options.fromPlan) steps.push({ type: 'delete', path: planfile });
  }
  return { steps, command, cwd: dir, varfile, planfile, savesPlan, workspace };
}

export interface TerraformResult {
  exitCode: number;
  /** Set when nothing ran because the component is disabled. */
  skipped?: string;
  /** The dry run, when asked for: the files and commands, nothing run. */
  dryRun?: DryRunPlan;
  main?: RunResult;
  interrupted: boolean;
  planned: PlannedRun;
  /** Why a failed run failed, when strata can tell (a held state lock, a broken backend); also sent to onLine. */
  hint?: string;
}

export interface RunTerraformOptions extends TerraformOptions, ExecuteOptions {
  dryRun?: boolean;
}

/** Restrictions first (before any file or process), then the planned steps, then a hint when a lock was held. */
export async function runTerraform(
  config: StrataConfig,
  instance: ComponentInstance,
  options: RunTerraformOptions,
): Promise<TerraformResult> {
  checkRestrictions(instance, options.verb);
  if (!instance.enabled) {
    // Nothing runs for a disabled component, so nothing could prompt either.
    const planned = planTerraform(config, instance, { ...options, interactive: true });
    return { exitCode: 0, skipped: disabledNotice(instance), interrupted: false, planned };
  }
  // A dry run only prints the commands, so a missing terminal for a prompt does not matter.
  const planned = planTerraform(config, instance, options.dryRun ? { ...options, interactive: true } : options);
  await maskSensitiveVars(instance.componentDir, instance.description.vars ?? {}, ['.tf', '.tf.json']);
  if (options.dryRun) {
    return { exitCode: 0, dryRun: planSteps(planned.steps, config.basePath), interrupted: false, planned };
  }
  requireComponentDir(instance);
  const outcome = await executeSteps(planned.steps, options);
  const failedRole = outcome.exitCode !== 0 ? outcome.last : undefined;
  const hint = failedRole && !outcome.interrupted ? failureHint(instance, failedRole, planned) : undefined;
  if (hint) options.onLine?.(hint, 'stderr');
  return { exitCode: outcome.exitCode, main: outcome.main, interrupted: outcome.interrupted, planned, hint };
}

/** A one-line explanation for the failures people hit most: a held state lock, a broken backend. */
function failureHint(instance: ComponentInstance, result: RunResult, planned: PlannedRun): string | undefined {
  const where = `'${instance.name}' in stack '${instance.stack}'`;
  if (result.stderr.includes('Error acquiring the state lock')) {
    return `strata: the state of ${where} is locked by another run; wait for it to finish, or pass -lock-timeout=60s to wait for the lock`;
  }
  if (result.args[0] === 'init') {
    const type = instance.description.backend_type || 'local';
    return `strata: init failed for ${where}; check its backend settings (backend_type: ${type}${
      planned.steps.some((s) => s.type === 'write' && s.path.endsWith(BACKEND_FILE))
        ? `, written to ${BACKEND_FILE}`
        : ''
    })`;
  }
  return undefined;
}
