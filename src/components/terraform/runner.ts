/**
 * Runs one Terraform/OpenTofu command for one component in one stack, the way Atmos does: var file, generated
 * backend and provider overrides, `init`, workspace select-or-create, then the subcommand with `-var-file`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
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
import { dryRunPrivateDir, withHandover } from '../handover.ts';
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
import { failureHint } from './hints.ts';

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
  /** A private folder for the var file (its vars hold secrets: handover.ts); default the component folder. */
  privateDir?: string;
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
  /** The private folder holding the var file, when the vars hold secrets. */
  privateDir?: string;
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

/** The var file: Atmos's name, in the component folder, or in the run's private folder when its vars hold secrets. */
export function varfilePath(instance: ComponentInstance, privateDir?: string): string {
  return join(privateDir ?? instance.componentDir, terraformVarfileName(instance));
}

/** `-var-file=` as Atmos writes it (relative in the component folder), or the private file's full path. */
function varfileArgument(instance: ComponentInstance, privateDir?: string): string {
  return `-var-file=${privateDir ? varfilePath(instance, privateDir) : terraformVarfileName(instance)}`;
}

/** Files written before every command that reads the configuration. */
export function prepareSteps(
  config: StrataConfig,
  instance: ComponentInstance,
  workspace: string,
  privateDir?: string,
): Step[] {
  const dir = instance.componentDir;
  const steps: Step[] = [
    {
      type: 'write',
      path: varfilePath(instance, privateDir),
      content: json(instance.description.vars ?? {}),
      ...(privateDir ? { mode: 0o600 } : {}),
    },
  ];
  if (terraformSettings(config).auto_generate_backend_file === true && instance.description.backend_type) {
    if (isDefaultLocal(instance)) {
      // `backend "local" {}` equals Terraform's implicit backend, but declaring it makes a fresh init offer to
      // "migrate" the workspaces already on disk into themselves (a prompt, so a failure without a terminal).
      // A generated file left by another stack of this folder must go, though.
      steps.push({ type: 'delete', path: join(dir, BACKEND_FILE) });
    } else {
      steps.push({
        type: 'write',
        path: join(dir, BACKEND_FILE),
        content: json(generatedBackend(instance, workspace)),
      });
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
 * The backend file strata writes. A `local` backend with its own `path` also gets `workspace_dir` beside it
 * (`<path>.d`, as Terraform's own terraform.tfstate.d), unless the stack sets one: Terraform keeps `path` for the
 * default workspace only and would put every other workspace's state under the component folder, where the next
 * stack's `init -reconfigure` finds it and asks to migrate it into its own backend.
 */
export function generatedBackend(instance: ComponentInstance, workspace: string): Record<string, unknown> {
  const document = backendDocument(instance, workspace);
  const local = section(section(section(document.terraform).backend).local);
  if (typeof local.path !== 'string' || local.path === '' || local.workspace_dir !== undefined) return document;
  return { terraform: { backend: { local: { ...local, workspace_dir: `${local.path}.d` } } } };
}

/** What `init` last configured in the data dir (`<data dir>/terraform.tfstate`): backend type and settings. */
function savedBackend(dataDirPath: string): { type?: string; config?: Record<string, unknown> } | undefined {
  try {
    const saved = JSON.parse(readFileSync(join(dataDirPath, 'terraform.tfstate'), 'utf8')) as Record<string, unknown>;
    const backend = section(saved.backend);
    return { type: typeof backend.type === 'string' ? backend.type : undefined, config: section(backend.config) };
  } catch {
    return undefined;
  }
}

/**
 * Whether the backend strata generates differs from the one the folder was last initialised with (another stack
 * of the same component folder ran last): init must then reconfigure, whatever init_run_reconfigure says.
 */
function backendChanged(instance: ComponentInstance, workspace: string, dataDirPath: string): boolean {
  const saved = savedBackend(dataDirPath);
  if (!saved || !instance.description.backend_type || isDefaultLocal(instance)) return false;
  const backend = section(generatedBackend(instance, workspace).terraform).backend;
  const [[type, wanted] = ['', {}]] = Object.entries(section(backend));
  if (saved.type !== type) return true;
  return Object.entries(section(wanted)).some(
    ([key, value]) => JSON.stringify(saved.config?.[key]) !== JSON.stringify(value),
  );
}

/** Atmos adds `-reconfigure` (init_run_reconfigure, default on); so does strata when the backend changed. */
function reconfigure(config: StrataConfig, instance: ComponentInstance, verb: string, dataDirPath: string): boolean {
  if (terraformSettings(config).init_run_reconfigure !== false || verb === 'workspace') return true;
  return backendChanged(instance, workspaceName(config, instance), dataDirPath);
}

/** `init` (after deleting `.terraform/environment`) and workspace select-or-create, as Atmos runs them first. */
export function initSteps(
  config: StrataConfig,
  instance: ComponentInstance,
  options: { verb: string; base?: NodeJS.ProcessEnv; skipWorkspace?: boolean; color?: boolean; privateDir?: string },
): Step[] {
  const settings = terraformSettings(config);
  const base = options.base ?? process.env;
  const env = terraformEnv(config, instance, base);
  const dir = instance.componentDir;
  const command = toolCommand(config, instance, 'terraform');
  const data = dataDir(dir, env, base);
  const steps: Step[] = [{ type: 'delete', path: join(data, 'environment') }];
  const init = ['init'];
  if (reconfigure(config, instance, options.verb, data)) init.push('-reconfigure');
  if (section(settings.init).pass_vars === true) init.push(varfileArgument(instance, options.privateDir));
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
  const varfile = varfilePath(instance, options.privateDir);
  const planfile = resolveIn(dir, options.planFile ?? terraformPlanfileName(instance));
  // Relative inside the component folder (the command's cwd), so command lines read like Atmos's.
  const planArg = relative(dir, planfile).startsWith('..') ? planfile : relative(dir, planfile);
  const args = options.args ?? [];
  const verb = options.verb;
  const interactive = options.interactive ?? process.stdin.isTTY === true;
  const color = options.color ?? useColor(process.stdout);

  const steps: Step[] = [];
  const privateDir = options.privateDir;
  if (verb !== 'version' && verb !== 'fmt') steps.push(...prepareSteps(config, instance, workspace, privateDir));

  const runInit =
    !NO_INIT_VERBS.has(verb) && !options.skipInit && !(verb === 'deploy' && settings.deploy_run_init === false);
  if (runInit) {
    const skipWorkspace = NO_WORKSPACE_VERBS.has(verb);
    steps.push(...initSteps(config, instance, { verb, base, color, skipWorkspace, privateDir }));
  }

  const varfileArg = varfileArgument(instance, privateDir);
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
      if (reconfigure(config, instance, verb, dataDir(dir, env, base))) init.push('-reconfigure');
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
    // Atmos removes the var file after apply: it may hold secrets, and the next run writes it again. A concurrent
    // run of the same stack and component (waiting for the state lock) still needs it: the last one removes it.
    steps.push({ type: 'delete', path: varfile, always: true, shared: true });
    if (options.fromPlan) steps.push({ type: 'delete', path: planfile });
  }
  return { steps, command, cwd: dir, varfile, planfile, savesPlan, workspace, privateDir };
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
  /** Why a failed run failed, when strata can tell (hints.ts); also sent to onLine. */
  hint?: string;
}

export interface RunTerraformOptions extends TerraformOptions, ExecuteOptions {
  dryRun?: boolean;
}

/** Sections Terraform gets as files in the component folder: a secret there is refused (handover.ts). */
const WRITTEN_SECTIONS = ['backend', 'providers'];

/**
 * Plans the run for the instance with its secrets handed over (resolved; the var file in a private folder that is
 * removed afterwards when the vars hold a secret) and gives the plan to `run`.
 */
export function withTerraformHandover<T>(
  config: StrataConfig,
  instance: ComponentInstance,
  options: TerraformOptions,
  run: (planned: PlannedRun) => Promise<T>,
): Promise<T> {
  return withHandover(
    instance,
    ({ instance: resolved, privateDir }) => run(planTerraform(config, resolved, { ...options, privateDir })),
    { writtenSections: WRITTEN_SECTIONS },
  );
}

/** Restrictions first (before any file or process), then the planned steps, then a hint when the run failed. */
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
  await maskSensitiveVars(instance.componentDir, instance.description.vars ?? {}, ['.tf', '.tf.json']);
  if (options.dryRun) {
    // A dry run only prints the commands, so a missing terminal for a prompt does not matter.
    const privateDir = await dryRunPrivateDir(instance);
    const planned = planTerraform(config, instance, { ...options, interactive: true, privateDir });
    return { exitCode: 0, dryRun: planSteps(planned.steps, config.basePath), interrupted: false, planned };
  }
  // Refuses a prompt without a terminal before any secret is read or file written.
  planTerraform(config, instance, options);
  requireComponentDir(instance);
  return withTerraformHandover(config, instance, options, async (planned) => {
    const outcome = await executeSteps(planned.steps, options);
    // A saved plan holds the variables' values: readable by its owner only when they include secrets.
    if (planned.privateDir && planned.savesPlan) {
      await chmod(planned.planfile, 0o600).catch(() => undefined);
    }
    const failedRole = outcome.exitCode !== 0 ? outcome.last : undefined;
    const wroteBackend = planned.steps.some((s) => s.type === 'write' && s.path.endsWith(BACKEND_FILE));
    const hint = failedRole && !outcome.interrupted ? failureHint(instance, failedRole, wroteBackend) : undefined;
    if (hint) options.onLine?.(hint, 'stderr');
    return { exitCode: outcome.exitCode, main: outcome.main, interrupted: outcome.interrupted, planned, hint };
  });
}
