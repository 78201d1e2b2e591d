/** The files Atmos writes into a Terraform component folder before running it. */
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { StrataError } from '../../errors.ts';
import { section } from '../common.ts';

export const BACKEND_FILE = 'backend.tf.json';
export const PROVIDERS_OVERRIDE_FILE = 'providers_override.tf.json';
export const TERRAFORM_OVERRIDE_FILE = 'terraform_override.tf.json';

export function terraformSettings(config: StrataConfig): Record<string, unknown> {
  return config.components.terraform?.raw ?? {};
}

/** The workspace Atmos selects: the engine's `workspace`, else the Atmos rule (§2.6) from the stack name. */
export function workspaceName(config: StrataConfig, instance: ComponentInstance): string {
  if (terraformSettings(config).workspaces_enabled === false) return 'default';
  if (instance.description.backend_type === 'http') return 'default';
  const given = instance.description.workspace;
  if (typeof given === 'string' && given !== '') return given.replace(/\//g, '-');
  const base = instance.description.component;
  const workspace = base && base !== instance.name ? `${instance.stack}-${instance.name}` : instance.stack;
  return workspace.replace(/\//g, '-');
}

/** `{"terraform":{"backend":{"<type>":{...}}}}`, or `{"terraform":{"cloud":{...}}}` for Terraform Cloud. */
export function backendDocument(instance: ComponentInstance, workspace: string): Record<string, unknown> {
  const type = instance.description.backend_type;
  if (!type) {
    throw new StrataError(`component '${instance.name}' in stack '${instance.stack}' has no backend_type`, {
      hint: "set backend_type (e.g. 'local', 's3', 'pg') and a matching backend: section in the stack, or turn off components.terraform.auto_generate_backend_file",
    });
  }
  const backend = section(instance.description.backend);
  if (type === 'cloud') {
    const text = JSON.stringify(backend).replace(/\{terraform_workspace\}/g, workspace);
    return { terraform: { cloud: JSON.parse(text) } };
  }
  return { terraform: { backend: { [type]: backend } } };
}

/** `{"provider": {...}}` when the stack sets `providers:`; undefined otherwise. */
export function providersOverride(instance: ComponentInstance): Record<string, unknown> | undefined {
  const providers = section(instance.description.providers);
  return Object.keys(providers).length > 0 ? { provider: providers } : undefined;
}

/** `required_version` / `required_providers` from the stack, as `terraform_override.tf.json`. */
export function terraformOverride(instance: ComponentInstance): Record<string, unknown> | undefined {
  const terraform: Record<string, unknown> = {};
  const version = instance.description.required_version;
  if (typeof version === 'string' && version !== '') terraform.required_version = version;
  const providers = section(instance.description.required_providers);
  if (Object.keys(providers).length > 0) terraform.required_providers = providers;
  return Object.keys(terraform).length > 0 ? { terraform } : undefined;
}
