/**
 * How a component's values reach its tool. Secrets (`!secret`, `!vault`, `!env` of a secret-like name) stay
 * SecretRefs, printed masked, through describe and dry runs; right before the tool runs they are resolved here and
 * registered with the masker. Values of variables the component declares `sensitive = true` count as secrets too.
 * A run whose vars hold a secret writes its var files into a private folder (0700, outside the repository:
 * src/secrets/tempfile), removed when the run ends, fails or is interrupted; secrets in `env:` reach the tool's
 * environment only. Nothing holding a secret is written into the component folder.
 */
import type { ComponentInstance, Section } from '../data/instance.ts';
import { StrataError } from '../errors.ts';
import { type PrivateDirOptions, privateDirShown, withPrivateDir } from '../secrets/tempfile.ts';
import { containsSecrets, resolveSecrets } from '../secrets/values.ts';
import { MASK } from '../util/mask.ts';
import { maskValue, section, sensitiveVariables } from './common.ts';

/** The HCL files whose `variable` blocks declare sensitivity, per component kind. */
const VARIABLE_FILES: Record<string, string[]> = {
  terraform: ['.tf', '.tf.json'],
  packer: ['.pkr.hcl', '.pkr.json'],
};

/** Names of the component's variables declared `sensitive = true` (none for kinds without declarations). */
export function sensitiveNames(instance: ComponentInstance): Promise<Set<string>> {
  const suffixes = VARIABLE_FILES[instance.kind];
  return suffixes ? sensitiveVariables(instance.componentDir, suffixes) : Promise.resolve(new Set());
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** Whether the vars a tool receives hold a secret: a SecretRef, or a value of a variable declared sensitive. */
export function varsHoldSecrets(instance: ComponentInstance, sensitive: Set<string>): boolean {
  const vars = section(instance.description.vars);
  return containsSecrets(vars) || [...sensitive].some((name) => present(vars[name]));
}

/** What a value declared sensitive shows in describe output and generated files. */
export const SENSITIVE_SHOWN = `${MASK} (sensitive variable)`;

/** The instance as describe and generated files show it: values of variables declared sensitive masked. */
export async function withSensitiveMasked(instance: ComponentInstance): Promise<ComponentInstance> {
  const sensitive = await sensitiveNames(instance);
  const vars = section(instance.description.vars);
  const hidden = [...sensitive].filter((name) => present(vars[name]));
  if (hidden.length === 0) return instance;
  const shown: Section = { ...vars };
  for (const name of hidden) shown[name] = SENSITIVE_SHOWN;
  return { ...instance, description: { ...instance.description, vars: shown } };
}

export interface Handover {
  /** The instance with plain values in `vars` and `env`: for the tool only, never for printing. */
  instance: ComponentInstance;
  /** The private folder for files that hold the values; undefined when nothing is secret (Atmos's file places). */
  privateDir?: string;
}

export interface HandoverOptions extends PrivateDirOptions {
  /** Always give a private folder (tools whose inputs never go into the component folder: Ansible, kustomize). */
  alwaysPrivate?: boolean;
  /** Sections that are written into the component folder as they are, so a secret there is refused. */
  writtenSections?: string[];
}

/** Where a dry run shows the private folder, or undefined when the run would not use one. */
export async function dryRunPrivateDir(
  instance: ComponentInstance,
  options: HandoverOptions = {},
): Promise<string | undefined> {
  const needed = options.alwaysPrivate || varsHoldSecrets(instance, await sensitiveNames(instance));
  return needed ? privateDirShown(options) : undefined;
}

function refuseWrittenSecrets(instance: ComponentInstance, sections: string[]): void {
  for (const name of sections) {
    if (!containsSecrets(instance.description[name])) continue;
    throw new StrataError(
      `the ${name} section of '${instance.name}' in stack '${instance.stack}' holds a secret, and it is written into the component folder`,
      {
        hint: `hand the credential over in env: instead (e.g. PG_CONN_STR, AWS_SECRET_ACCESS_KEY: !secret …), which reaches the tool's environment only`,
      },
    );
  }
}

/**
 * Runs `task` with the instance's secrets resolved (and masked from then on), in a private folder when its vars
 * hold a secret; the folder is removed when `task` ends, throws, or strata is interrupted.
 */
export async function withHandover<T>(
  instance: ComponentInstance,
  task: (handover: Handover) => Promise<T>,
  options: HandoverOptions = {},
): Promise<T> {
  refuseWrittenSecrets(instance, options.writtenSections ?? []);
  const sensitive = await sensitiveNames(instance);
  const vars = section(instance.description.vars);
  for (const name of sensitive) maskValue(vars[name]);
  const needsDir = options.alwaysPrivate || varsHoldSecrets(instance, sensitive);
  const resolved = await resolveInstance(instance);
  if (!needsDir) return task({ instance: resolved });
  return withPrivateDir((privateDir) => task({ instance: resolved, privateDir }), options);
}

async function resolveInstance(instance: ComponentInstance): Promise<ComponentInstance> {
  const { vars, env } = instance.description;
  if (!containsSecrets(vars) && !containsSecrets(env)) return instance;
  // One call, so a file referenced from both sections is decrypted once.
  const resolved = (await resolveSecrets({ vars, env })) as { vars: Section; env: Section };
  return { ...instance, description: { ...instance.description, vars: resolved.vars, env: resolved.env } };
}
