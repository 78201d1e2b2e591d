/**
 * Ansible components: `strata ansible playbook <component> -s <stack>` runs ansible-playbook in the component
 * folder with the stack's vars (secrets resolved) as extra vars, from a mode-0600 file in a private temporary
 * folder that is removed afterwards (also after Ctrl-C: the child gets the signal, strata waits for it, then
 * cleans up).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { StrataError, UsageError } from '../../errors.ts';
import { privateDirShown } from '../../secrets/tempfile.ts';
import { resolveSecrets } from '../../secrets/values.ts';
import type { DryRunPlan } from '../../util/plan.ts';
import {
  checkRestrictions,
  componentEnv,
  disabledNotice,
  json,
  requireComponentDir,
  section,
  setting,
  toolCommand,
} from '../common.ts';
import { withHandover } from '../handover.ts';
import { type ExecuteOptions, executeSteps, planSteps, type Step } from '../steps.ts';
import { type OutputsEngine, readTerraformOutput } from '../terraform/outputs.ts';

export interface AnsibleOptions extends ExecuteOptions {
  verb: string;
  args?: string[];
  /** `--playbook`: overrides settings.ansible.playbook (default site.yml, then playbook.yml). */
  playbook?: string;
  /** `--inventory`: overrides settings.ansible.inventory. */
  inventory?: string;
  dryRun?: boolean;
  color?: boolean;
  /** Needed for settings.ansible.inventory_from_terraform. */
  engine?: OutputsEngine;
}

export interface AnsibleResult {
  exitCode: number;
  skipped?: string;
  /** The dry run, when asked for: the files and commands, nothing run. */
  dryRun?: DryRunPlan;
}

export function playbookFile(instance: ComponentInstance, flag?: string): string {
  if (flag) return flag;
  const configured = setting(instance, 'ansible', 'playbook');
  if (typeof configured === 'string' && configured !== '') return configured;
  for (const name of ['site.yml', 'site.yaml', 'playbook.yml', 'playbook.yaml']) {
    if (existsSync(join(instance.componentDir, name))) return name;
  }
  throw new StrataError(`no playbook for ansible component '${instance.name}'`, {
    hint: `add site.yml to ${instance.componentDir}, set settings.ansible.playbook, or pass --playbook <file>`,
  });
}

/** Hosts from a Terraform output: an address, a list of addresses, or a map of host name to address. */
export function inventoryFromValue(value: unknown, group: string, hostVars: Record<string, unknown> = {}): unknown {
  const hosts: Record<string, Record<string, unknown>> = {};
  if (typeof value === 'string') hosts[value] = { ...hostVars };
  else if (Array.isArray(value)) for (const item of value) hosts[String(item)] = { ...hostVars };
  else if (value !== null && typeof value === 'object') {
    for (const [name, address] of Object.entries(value)) hosts[name] = { ansible_host: String(address), ...hostVars };
  } else {
    throw new StrataError(`the Terraform output for the inventory is ${value === null ? 'null' : typeof value}`, {
      hint: 'point settings.ansible.inventory_from_terraform.output at an address, a list or a map of addresses',
    });
  }
  return group === 'all' ? { all: { hosts } } : { all: { children: { [group]: { hosts } } } };
}

type Inventory = { arg: string } | { document: unknown };

async function resolveInventory(instance: ComponentInstance, options: AnsibleOptions): Promise<Inventory | undefined> {
  if (options.inventory) return { arg: options.inventory };
  const fromTerraform = section(setting(instance, 'ansible', 'inventory_from_terraform'));
  if (fromTerraform.component) {
    if (!options.engine) {
      throw new StrataError('settings.ansible.inventory_from_terraform needs the stack engine');
    }
    const value = await readTerraformOutput(
      options.engine,
      {
        component: String(fromTerraform.component),
        stack: typeof fromTerraform.stack === 'string' ? fromTerraform.stack : instance.stack,
        expression: String(fromTerraform.output ?? 'hosts'),
      },
      'state',
    );
    const group = typeof fromTerraform.group === 'string' ? fromTerraform.group : 'all';
    return { document: inventoryFromValue(value, group, section(fromTerraform.host_vars)) };
  }
  const configured = setting(instance, 'ansible', 'inventory');
  if (typeof configured === 'string' && configured !== '') return { arg: configured };
  if (Array.isArray(configured)) return { arg: `${configured.map(String).join(',')},` };
  if (configured && typeof configured === 'object') return { document: configured };
  return undefined;
}

export async function planAnsible(
  config: StrataConfig,
  instance: ComponentInstance,
  options: AnsibleOptions,
  workDir: string,
): Promise<Step[]> {
  const command = toolCommand(config, instance, 'ansible-playbook');
  const env: Record<string, string | undefined> = { ANSIBLE_RETRY_FILES_ENABLED: 'False' };
  if (options.color === false) env.ANSIBLE_NOCOLOR = '1';
  Object.assign(env, componentEnv(config, instance));
  const playbook = playbookFile(instance, options.playbook);
  const varsFile = join(workDir, 'extra-vars.json');
  const steps: Step[] = [
    { type: 'write', path: varsFile, content: json(instance.description.vars ?? {}), mode: 0o600 },
  ];
  const inventory = await resolveInventory(instance, options);
  const args: string[] = [];
  if (inventory && 'arg' in inventory) args.push('-i', inventory.arg);
  if (inventory && 'document' in inventory) {
    const inventoryFile = join(workDir, 'inventory.json');
    // Host vars may hold secrets (ansible_password: !secret …): read them for a run, masked in a dry run.
    const document = options.dryRun ? inventory.document : await resolveSecrets(inventory.document);
    steps.push({ type: 'write', path: inventoryFile, content: json(document), mode: 0o600 });
    args.push('-i', inventoryFile);
  }
  args.push('-e', `@${varsFile}`, ...(options.args ?? []), playbook);
  steps.push({ type: 'run', role: 'main', command, args, cwd: instance.componentDir, env });
  steps.push({ type: 'delete', path: workDir, always: true });
  return steps;
}

/** Where the extra vars go: a private folder named for the tool. */
const PRIVATE = { prefix: 'strata-ansible-' };

export async function runAnsible(
  config: StrataConfig,
  instance: ComponentInstance,
  options: AnsibleOptions,
): Promise<AnsibleResult> {
  if (options.verb !== 'playbook') {
    throw new UsageError(`unknown ansible command '${options.verb}'`, {
      hint: 'use: strata ansible playbook <component> -s <stack>',
    });
  }
  checkRestrictions(instance, options.verb);
  if (!instance.enabled) return { exitCode: 0, skipped: disabledNotice(instance) };
  requireComponentDir(instance);
  if (options.dryRun) {
    const steps = await planAnsible(config, instance, options, privateDirShown(PRIVATE));
    return { exitCode: 0, dryRun: planSteps(steps, config.basePath) };
  }
  // The extra vars always go through a private folder (0700, a 0600 file), removed after the play or an interrupt.
  return withHandover(
    instance,
    async ({ instance: resolved, privateDir }) => {
      const steps = await planAnsible(config, resolved, options, privateDir as string);
      return { exitCode: (await executeSteps(steps, options)).exitCode };
    },
    { ...PRIVATE, alwaysPrivate: true },
  );
}
