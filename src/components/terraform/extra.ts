/** The Atmos-only Terraform verbs: `shell`, `clean`, `generate varfile|backend|planfile`, and plan summaries. */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { StrataError } from '../../errors.ts';
import { run } from '../../exec/index.ts';
import { yaml } from '../../util/yaml-lib.ts';
import {
  json,
  requireComponentDir,
  terraformEnv,
  terraformPlanfileName,
  terraformVarfileName,
  toolCommand,
} from '../common.ts';
import type { Step } from '../steps.ts';
import {
  BACKEND_FILE,
  backendDocument,
  PROVIDERS_OVERRIDE_FILE,
  TERRAFORM_OVERRIDE_FILE,
  terraformSettings,
  workspaceName,
} from './files.ts';
import { initSteps, prepareSteps, varfilePath } from './runner.ts';

const MAX_SHELL_LEVEL = 10;

/** `shell`: files, init and workspace as for any command, then the user's shell in the component folder. */
export function planShell(
  config: StrataConfig,
  instance: ComponentInstance,
  options: { env?: NodeJS.ProcessEnv; skipInit?: boolean; color?: boolean; privateDir?: string } = {},
): Step[] {
  const base = options.env ?? process.env;
  const level = Number(base.STRATA_SHLVL ?? base.ATMOS_SHLVL ?? 0) || 0;
  if (level >= MAX_SHELL_LEVEL) {
    throw new StrataError(`already ${level} strata shells deep`, {
      hint: 'exit the current shells (STRATA_SHLVL counts them) before starting another',
    });
  }
  const workspace = workspaceName(config, instance);
  const varfile = varfilePath(instance, options.privateDir);
  const env: Record<string, string | undefined> = {
    ...terraformEnv(config, instance, base),
    STRATA_SHLVL: String(level + 1),
    ATMOS_SHLVL: String(level + 1),
    STRATA_STACK: instance.stack,
    STRATA_COMPONENT: instance.name,
  };
  // Plain `terraform plan` inside the shell picks up the stack's variables, as in Atmos's shell.
  for (const verb of ['plan', 'apply', 'destroy', 'refresh', 'import', 'console']) {
    env[`TF_CLI_ARGS_${verb}`] = `-var-file=${varfile}`;
  }
  const steps: Step[] = [...prepareSteps(config, instance, workspace, options.privateDir)];
  if (!options.skipInit) {
    const { color, privateDir } = options;
    steps.push(...initSteps(config, instance, { verb: 'shell', base, color, privateDir }));
  }
  steps.push({
    type: 'run',
    role: 'main',
    command: base.SHELL && base.SHELL !== '' ? base.SHELL : '/bin/sh',
    args: [],
    cwd: instance.componentDir,
    env,
    interactive: true,
  });
  return steps;
}

export interface CleanOptions {
  everything?: boolean;
  skipLockFile?: boolean;
}

/**
 * What `clean` removes from a component folder: `.terraform/`, the lock file, generated files, and var files and
 * planfiles (only this stack's when an instance is given, else every stack's); `everything` adds workspace state.
 */
export async function cleanTargets(
  config: StrataConfig,
  dir: string,
  instance: ComponentInstance | undefined,
  options: CleanOptions = {},
): Promise<string[]> {
  const names = ['.terraform', PROVIDERS_OVERRIDE_FILE, TERRAFORM_OVERRIDE_FILE];
  if (!options.skipLockFile) names.push('.terraform.lock.hcl');
  if (terraformSettings(config).auto_generate_backend_file === true) names.push(BACKEND_FILE);
  if (options.everything) names.push('terraform.tfstate.d');
  if (instance) {
    const planfile = terraformPlanfileName(instance);
    names.push(terraformVarfileName(instance), planfile, `${planfile}.json`, `${planfile}.yaml`);
  } else {
    const files = await readdir(dir).catch(() => [] as string[]);
    names.push(...files.filter((f) => /\.terraform\.tfvars\.json$|\.planfile(\.json|\.yaml)?$/.test(f)));
  }
  return [...new Set(names)].map((n) => join(dir, n)).filter((p) => existsSync(p));
}

/** `generate varfile`: the stack's vars as JSON, to the Atmos file name or `file`. Returns the path written. */
export function varfileStep(instance: ComponentInstance, file?: string): Step {
  const path = file ? resolve(file) : join(instance.componentDir, terraformVarfileName(instance));
  return { type: 'write', path, content: json(instance.description.vars ?? {}) };
}

/** `generate backend`: backend.tf.json whether or not auto-generation is on. */
export function backendStep(config: StrataConfig, instance: ComponentInstance): Step {
  const document = backendDocument(instance, workspaceName(config, instance));
  return { type: 'write', path: join(instance.componentDir, BACKEND_FILE), content: json(document) };
}

export interface PlanCounts {
  add: number;
  change: number;
  destroy: number;
}

/** Counts a plan's resource changes as Terraform's own summary does (a replacement is one add and one destroy). */
export function countChanges(plan: unknown): PlanCounts {
  const counts: PlanCounts = { add: 0, change: 0, destroy: 0 };
  const changes = (plan as { resource_changes?: unknown })?.resource_changes;
  if (!Array.isArray(changes)) return counts;
  for (const change of changes) {
    const actions: unknown = (change as { change?: { actions?: unknown } })?.change?.actions;
    if (!Array.isArray(actions)) continue;
    if (actions.includes('create')) counts.add++;
    if (actions.includes('delete')) counts.destroy++;
    if (actions.includes('update')) counts.change++;
  }
  return counts;
}

/** `terraform show -json <planfile>`, parsed. */
export async function showPlan(
  config: StrataConfig,
  instance: ComponentInstance,
  planfile: string,
  base: NodeJS.ProcessEnv = process.env,
): Promise<unknown> {
  requireComponentDir(instance);
  const result = await run(toolCommand(config, instance, 'terraform'), ['show', '-json', planfile], {
    cwd: instance.componentDir,
    env: terraformEnv(config, instance, base),
    stdio: 'capture',
  });
  if (result.exitCode !== 0) {
    throw new StrataError(`cannot read the plan ${planfile}`, {
      details: result.stderr.trim(),
      hint: `run 'strata terraform plan ${instance.name} -s ${instance.stack}' first`,
    });
  }
  try {
    return JSON.parse(result.stdout);
  } catch (error) {
    throw new StrataError(`terraform show -json printed something that is not JSON for ${planfile}`, { cause: error });
  }
}

export function renderPlan(plan: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? json(plan) : yaml().stringify(plan, { lineWidth: 0 });
}
