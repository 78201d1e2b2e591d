/**
 * The shape of a component instance: what the stack engine (layer 4) produces and every check, runner and report
 * reads. It lives below both the engine and the validators (layer 3) so that neither imports the other for it.
 */
export type Section = Record<string, unknown>;

/**
 * A component as `describe component` prints it: Atmos's section names (snake_case) so output matches Atmos.
 * Every section is always present (empty map / empty string when unset).
 */
export interface ComponentDescription {
  atmos_component: string;
  atmos_manifest: string;
  atmos_stack: string;
  atmos_stack_file: string;
  auth: Section;
  backend: Section;
  backend_type: string;
  command: string;
  component: string;
  component_info: { component_path: string; component_type: string };
  env: Section;
  generate: Section;
  hooks: Section;
  inheritance: string[];
  metadata: Section;
  overrides: Section;
  providers: Section;
  provision: Section;
  remote_state_backend: Section;
  remote_state_backend_type: string;
  required_providers: Section;
  required_version: string;
  settings: Section;
  source: Section;
  stack: string;
  vars: Section;
  /** Terraform only: other kinds have no workspace. */
  workspace?: string;
  [key: string]: unknown;
}

/** One component in one stack, fully merged and evaluated: the unit every runner, report and check works on. */
export interface ComponentInstance {
  /** Component kind: `terraform`, `packer`, `kubernetes`, `ansible`, `helmfile`. */
  kind: string;
  /** The component's name in the stack (Atmos: atmos_component), e.g. `k3s-cluster` or `vpc/private`. */
  name: string;
  /** Canonical stack name (Atmos: atmos_stack). */
  stack: string;
  /** Absolute folder of the component's code (components/<kind>/<metadata.component>). */
  componentDir: string;
  abstract: boolean;
  enabled: boolean;
  locked: boolean;
  description: ComponentDescription;
}
