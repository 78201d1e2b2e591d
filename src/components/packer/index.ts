/**
 * Packer components: `packer <verb> -var-file=<stack>-<component>.packer.vars.json [args] <template>` in the
 * component folder, as Atmos runs it, plus `output`, which reads the manifest post-processor's file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { StrataError, UsageError } from '../../errors.ts';
import { run } from '../../exec/index.ts';
import type { DryRunPlan } from '../../util/plan.ts';
import { useColor } from '../../util/terminal.ts';
import {
  checkRestrictions,
  componentEnv,
  disabledNotice,
  json,
  maskSensitiveVars,
  packerVarfileName,
  requireComponentDir,
  section,
  setting,
  toolCommand,
} from '../common.ts';
import { dryRunPrivateDir, withHandover } from '../handover.ts';
import { evaluateQuery, parseQuery } from '../query.ts';
import { type ExecuteOptions, executeSteps, planSteps, type Step } from '../steps.ts';
import { type PackerRequirements, packerRequirements, satisfies } from './requirements.ts';

export const PACKER_VERBS = ['init', 'validate', 'build', 'inspect', 'fmt', 'version', 'console', 'output'] as const;

export interface PackerOptions extends ExecuteOptions {
  verb: string;
  args?: string[];
  /** `--template`: overrides settings.packer.template (default `.`, every *.pkr.hcl in the folder). */
  template?: string;
  dryRun?: boolean;
  /** Colour in Packer's build output; default: stdout is a terminal and NO_COLOR is unset. */
  color?: boolean;
}

export interface PackerResult {
  exitCode: number;
  skipped?: string;
  /** The dry run, when asked for: the files and commands, nothing run. */
  dryRun?: DryRunPlan;
}

export function packerTemplate(instance: ComponentInstance, flag?: string): string {
  const fromSettings = setting(instance, 'packer', 'template');
  if (flag) return flag;
  return typeof fromSettings === 'string' && fromSettings !== '' ? fromSettings : '.';
}

const versions = new Map<string, Promise<string | undefined>>();

/** `packer version` -> `1.6.6` (cached per executable); undefined when the output is unexpected. */
export function packerVersion(command: string): Promise<string | undefined> {
  let cached = versions.get(command);
  if (!cached) {
    cached = run(command, ['version'], { stdio: 'capture', env: { CHECKPOINT_DISABLE: '1' } }).then(
      (r) => /Packer v(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1],
    );
    versions.set(command, cached);
  }
  return cached;
}

function atLeast(version: string | undefined, major: number, minor: number): boolean {
  if (!version) return true;
  const [a, b] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * settings.packer.required_version (for a template that cannot declare it: a packer {} block stops Packer 1.6
 * reading the template at all), else the template's own requirements.
 */
async function requirementsOf(instance: ComponentInstance, template?: string): Promise<PackerRequirements> {
  const needs = await packerRequirements(instance.componentDir, packerTemplate(instance, template));
  const required = setting(instance, 'packer', 'required_version');
  if (typeof required === 'string' && required.trim() !== '') {
    needs.version = { constraint: required, file: `settings.packer of stack '${instance.stack}'` };
  }
  return needs;
}

/** Where to get a Packer that runs templates of Packer >= 1.7 (Debian ships 1.6.6). */
const INSTALL_HINT =
  'install Packer from HashiCorp (https://developer.hashicorp.com/packer/install: their apt repository, or the zip on PATH), then the plugins the template uses (packer init or packer plugins install)';

/**
 * The steps for one verb; `version` is the installed Packer's (decides init / inspect -var-file support). The var
 * file goes into `privateDir` when the vars hold secrets (handover.ts), else into the component folder (Atmos).
 */
export function planPacker(
  config: StrataConfig,
  instance: ComponentInstance,
  options: PackerOptions,
  version: string | undefined,
  privateDir?: string,
): Step[] {
  const dir = instance.componentDir;
  const command = toolCommand(config, instance, 'packer');
  const env = { CHECKPOINT_DISABLE: '1', ...componentEnv(config, instance) };
  const template = packerTemplate(instance, options.template);
  const args = options.args ?? [];
  const varfile = join(privateDir ?? dir, packerVarfileName(instance));
  const varfileName = privateDir ? varfile : packerVarfileName(instance);
  const withVars =
    ['build', 'validate', 'console'].includes(options.verb) || (options.verb === 'inspect' && atLeast(version, 1, 7));
  let main: string[];
  switch (options.verb) {
    case 'version':
      main = ['version', ...args];
      break;
    case 'init':
    case 'fmt':
      main = [options.verb, ...args, template];
      break;
    default: {
      const noColor = options.verb === 'build' && !(options.color ?? useColor(process.stdout)) ? ['-color=false'] : [];
      main = [options.verb, ...noColor, ...(withVars ? [`-var-file=${varfileName}`] : []), ...args, template];
    }
  }
  const steps: Step[] = [];
  const mode = privateDir ? { mode: 0o600 } : {};
  if (withVars) steps.push({ type: 'write', path: varfile, content: json(instance.description.vars ?? {}), ...mode });
  steps.push({ type: 'run', role: 'main', command, args: main, cwd: dir, env });
  // Atmos removes the var file after the run: it may hold secrets such as the Proxmox token.
  if (withVars) steps.push({ type: 'delete', path: varfile, always: true });
  return steps;
}

export async function runPacker(
  config: StrataConfig,
  instance: ComponentInstance,
  options: PackerOptions,
): Promise<PackerResult> {
  checkRestrictions(instance, options.verb);
  if (!instance.enabled) return { exitCode: 0, skipped: disabledNotice(instance) };
  const command = toolCommand(config, instance, 'packer');
  const dir = instance.componentDir;
  const needs = options.verb === 'version' ? {} : await requirementsOf(instance, options.template);
  const pluginsFile = needs.pluginsFile;
  const needVersion = options.verb === 'init' || options.verb === 'inspect' || pluginsFile || needs.version;
  const version = needVersion && !options.dryRun ? await packerVersion(command) : undefined;
  // fmt and inspect only read the syntax, which old Packers do too.
  const evaluates = ['build', 'validate', 'console'].includes(options.verb);
  if (version && needs.version && evaluates && !satisfies(version, needs.version.constraint)) {
    throw new StrataError(
      `'${instance.name}' needs Packer ${needs.version.constraint} (required_version in ${needs.version.file}); the installed packer is ${version}`,
      { hint: INSTALL_HINT },
    );
  }
  if (version && !atLeast(version, 1, 7)) {
    if (options.verb === 'init') {
      throw new StrataError(`'packer init' does not exist in the installed Packer ${version} (it came in 1.7.0)`, {
        hint: 'Packer 1.6 has its builders built in, so there is nothing to install: run validate or build directly, or install Packer >= 1.7 from HashiCorp',
      });
    }
    if (pluginsFile && options.verb !== 'fmt') {
      throw new StrataError(
        `${pluginsFile} of '${instance.name}' declares packer { required_plugins }, which Packer ${version} rejects`,
        {
          hint: `${INSTALL_HINT}; or remove the required_plugins block to use the builders built into 1.6`,
        },
      );
    }
  }
  await maskSensitiveVars(dir, instance.description.vars ?? {}, ['.pkr.hcl', '.pkr.json']);
  if (options.dryRun) {
    const steps = planPacker(config, instance, options, version, await dryRunPrivateDir(instance));
    return { exitCode: 0, dryRun: planSteps(steps, config.basePath) };
  }
  requireComponentDir(instance);
  return withHandover(instance, async ({ instance: resolved, privateDir }) => {
    const outcome = await executeSteps(planPacker(config, resolved, options, version, privateDir), options);
    return { exitCode: outcome.exitCode };
  });
}

/** `packer output`: the manifest post-processor's file (`vars.manifest_file_name`, default manifest.json). */
export async function packerOutput(instance: ComponentInstance, query?: string): Promise<unknown> {
  const vars = section(instance.description.vars);
  const name = typeof vars.manifest_file_name === 'string' ? vars.manifest_file_name : 'manifest.json';
  const path = join(instance.componentDir, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new StrataError(`no Packer manifest for '${instance.name}' in stack '${instance.stack}' at ${path}`, {
      hint: `run 'strata packer build ${instance.name} -s ${instance.stack}' first; the template needs a post-processor "manifest" writing ${name} (or set vars.manifest_file_name)`,
    });
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new StrataError(`the Packer manifest ${path} is not valid JSON`, { cause: error });
  }
  return query ? evaluateQuery(manifest, parseQuery(query)) : manifest;
}

export function assertPackerVerb(verb: string | undefined): string {
  if (!verb || !(PACKER_VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(verb ? `unknown packer command '${verb}'` : 'missing packer command', {
      hint: `use one of: ${PACKER_VERBS.join(', ')}`,
    });
  }
  return verb;
}
