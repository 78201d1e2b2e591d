/**
 * The keys Atmos's JSON Schemas define for atmos.yaml and for stack manifests, for `validate config` and
 * `validate stacks`. An unknown key whose name is close to a known one (`includd_paths`) is an error: it is almost
 * certainly a typo that silently changes the result. Any other unknown key is a warning: newer Atmos versions add
 * keys, and a stack may carry data for other tools.
 */
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { closestNames } from '../util/suggest.ts';

type KeyTree = { [key: string]: KeyTree | true };

const COMPONENT_KIND_CONFIG: KeyTree = {
  base_path: true,
  command: true,
  apply_auto_approve: true,
  deploy_run_init: true,
  init_run_reconfigure: true,
  auto_generate_backend_file: true,
  auto_generate_files: true,
  append_user_agent: true,
  workspaces_enabled: true,
  init: true,
  plan: true,
  shell: true,
  cloud: true,
  backend: true,
  provision: true,
  use_eks: true,
  kubeconfig_path: true,
  helm_aws_profile_pattern: true,
  cluster_name_pattern: true,
  cluster_name_template: true,
  playbook: true,
  inventory: true,
  ansible_cfg: true,
};

/** atmos.yaml: top-level sections and, where strata reads them, their keys. */
export const ATMOS_CONFIG_KEYS: KeyTree = {
  base_path: true,
  import: true,
  components: {
    terraform: COMPONENT_KIND_CONFIG,
    helmfile: COMPONENT_KIND_CONFIG,
    packer: COMPONENT_KIND_CONFIG,
    ansible: COMPONENT_KIND_CONFIG,
    kubernetes: COMPONENT_KIND_CONFIG,
  },
  stacks: {
    base_path: true,
    included_paths: true,
    excluded_paths: true,
    name_pattern: true,
    name_template: true,
    inherit: true,
  },
  workflows: true,
  logs: true,
  commands: true,
  aliases: true,
  integrations: true,
  schemas: true,
  templates: true,
  settings: true,
  vendor: true,
  validate: true,
  describe: true,
  list: true,
  version: true,
  toolchain: true,
  auth: true,
  stores: true,
  secrets: true,
  hooks: true,
  errors: true,
  docs: true,
  profiler: true,
  profiles: true,
  devcontainer: true,
  env: true,
  pro: true,
  ci: true,
  metadata: true,
  mcp: true,
  ai: true,
  edition: true,
  telemetry: true,
  terminal: true,
  emulators: true,
  containers: true,
  scaffolds: true,
  generate: true,
  policies: true,
  registries: true,
  test: true,
  // strata's engine limits (docs/stacks.md, "Limits and sandboxing").
  limits: true,
};

/** A stack manifest's top level. */
export const MANIFEST_KEYS = new Set([
  'import',
  'name',
  'vars',
  'settings',
  'env',
  'auth',
  'locals',
  'components',
  'overrides',
  'terraform',
  'helmfile',
  'packer',
  'ansible',
  'kubernetes',
  'dependencies',
  'secrets',
  'version',
  'hooks',
  'generate',
  'providers',
  'workflows',
  'description',
  'metadata',
]);

/** A component's section in a stack manifest. */
export const COMPONENT_KEYS = new Set([
  'metadata',
  'vars',
  'settings',
  'env',
  'auth',
  'locals',
  'backend',
  'backend_type',
  'remote_state_backend',
  'remote_state_backend_type',
  'providers',
  'hooks',
  'generate',
  'overrides',
  'command',
  'component',
  'dependencies',
  'source',
  'provision',
  'required_providers',
  'required_version',
  'secrets',
  'mocks',
  'workspace',
]);

export interface UnknownKey {
  /** Dotted path of the unknown key. */
  path: string;
  key: string;
  /** A close known key: when set, the key is an error (a typo), else a warning. */
  suggestion?: string;
}

/** Unknown keys of `value` against `known` (a set of names or a key tree), at any depth the tree describes. */
export function unknownKeys(value: unknown, known: KeyTree | Set<string>, prefix = ''): UnknownKey[] {
  if (!isPlainMap(value)) return [];
  const names = known instanceof Set ? [...known] : Object.keys(known);
  const out: UnknownKey[] = [];
  for (const key of Object.keys(value as PlainMap)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (!names.includes(key)) {
      out.push({ path, key, suggestion: closestNames(key, names, 1)[0] });
      continue;
    }
    const child = known instanceof Set ? true : known[key];
    if (child !== true) out.push(...unknownKeys(value[key], child, path));
  }
  return out;
}
