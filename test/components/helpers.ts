/** Builds configs and component instances by hand, so runners can be driven without the stack engine. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { StrataConfig } from '../../src/config/types.ts';
import type { ComponentDescription, ComponentInstance, Section } from '../../src/data/instance.ts';

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `strata-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function writeTree(root: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

export function makeConfig(basePath: string, kinds: Record<string, Record<string, unknown>> = {}): StrataConfig {
  const kind = (name: string, command: string) => ({
    basePath: join(basePath, 'components', name),
    relativeBasePath: `components/${name}`,
    command,
    raw: { base_path: `components/${name}`, ...(kinds[name] ?? {}) },
  });
  return {
    configFiles: [],
    configDir: basePath,
    basePath,
    basePathAsWritten: '.',
    components: {
      terraform: kind('terraform', 'terraform'),
      packer: kind('packer', 'packer'),
      kubernetes: kind('kubernetes', 'kubectl'),
      ansible: kind('ansible', 'ansible-playbook'),
    },
    stacks: {
      basePath: join(basePath, 'stacks'),
      includedPaths: ['**/*'],
      excludedPaths: [],
      namePattern: '',
      nameTemplate: '',
      inheritMetadata: true,
    },
    workflows: { basePath: join(basePath, 'stacks', 'workflows') },
    schemas: { jsonschemaBasePath: '', opaBasePath: '' },
    templates: {
      enabled: false,
      evaluations: 1,
      delimiters: ['{{', '}}'],
      sprigEnabled: false,
      gomplateEnabled: false,
      ignoreMissingTemplateValues: false,
    },
    listMergeStrategy: 'replace',
    raw: {},
  };
}

export interface InstanceSpec {
  kind?: string;
  name: string;
  stack: string;
  component?: string;
  vars?: Section;
  env?: Section;
  settings?: Section;
  metadata?: Section;
  backend_type?: string;
  backend?: Section;
  providers?: Section;
  workspace?: string;
  abstract?: boolean;
  locked?: boolean;
  enabled?: boolean;
  command?: string;
}

export function makeInstance(config: StrataConfig, spec: InstanceSpec): ComponentInstance {
  const kind = spec.kind ?? 'terraform';
  const folder = spec.component ?? spec.name;
  const description: ComponentDescription = {
    atmos_component: spec.name,
    atmos_manifest: '',
    atmos_stack: spec.stack,
    atmos_stack_file: '',
    auth: {},
    backend: spec.backend ?? {},
    backend_type: spec.backend_type ?? '',
    command: spec.command ?? '',
    component: folder,
    component_info: { component_path: `components/${kind}/${folder}`, component_type: kind },
    env: spec.env ?? {},
    generate: {},
    hooks: {},
    inheritance: [],
    metadata: spec.metadata ?? {},
    overrides: {},
    providers: spec.providers ?? {},
    provision: {},
    remote_state_backend: {},
    remote_state_backend_type: '',
    required_providers: {},
    required_version: '',
    settings: spec.settings ?? {},
    source: {},
    stack: spec.stack,
    vars: spec.vars ?? {},
    workspace: spec.workspace ?? '',
  };
  return {
    kind,
    name: spec.name,
    stack: spec.stack,
    componentDir: join(config.components[kind].basePath, folder),
    abstract: spec.abstract ?? false,
    enabled: spec.enabled ?? true,
    locked: spec.locked ?? false,
    description,
  };
}

/** A root module using only Terraform built-ins (no provider downloads are possible on these machines). */
export const BASIC_TF = `
variable "name" {
  type = string
}

variable "token" {
  type      = string
  default   = ""
  sensitive = true
}

variable "sleep" {
  type    = number
  default = 0
}

resource "terraform_data" "node" {
  input = "\${var.name}-\${terraform.workspace}"
  provisioner "local-exec" {
    command = "sleep \${var.sleep}"
  }
}

output "name" {
  value = terraform_data.node.output
}

output "workspace" {
  value = terraform.workspace
}

output "list" {
  value = [var.name, "second"]
}
`;

/** A resource replaced on every apply whose provisioner sleeps: holds the state lock for `sleep` seconds. */
export const SLOW_TF = `
variable "sleep" {
  type    = number
  default = 0
}

variable "name" {
  type    = string
  default = "slow"
}

resource "terraform_data" "slow" {
  triggers_replace = [timestamp()]
  input            = var.name
  provisioner "local-exec" {
    command = "sleep \${var.sleep}"
  }
}

output "name" {
  value = terraform_data.slow.output
}
`;

/**
 * A resource replaced on every apply whose provisioner waits until `${signal_dir}/release` exists (at most 60 s):
 * holds the state lock until the test lets go, with no fixed sleep.
 */
export const HOLD_TF = `variable "name" {
  type = string
}
variable "signal_dir" {
  type = string
}
resource "terraform_data" "held" {
  triggers_replace = [timestamp()]
  input            = var.name
  provisioner "local-exec" {
    command = "i=0; while [ ! -f '\${var.signal_dir}/release' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
  }
}
output "name" {
  value = terraform_data.held.output
}
`;

/** Packer 1.6-compatible template: null builder, shell-local, manifest post-processor (all offline). */
export const PACKER_TEMPLATE = `
variable "image_name" {
  type    = string
  default = "base"
}

variable "version" {
  type = string
}

variable "token" {
  type      = string
  default   = ""
  sensitive = true
}

source "null" "local" {
  communicator = "none"
}

build {
  name    = "demo"
  sources = ["source.null.local"]

  provisioner "shell-local" {
    inline = ["mkdir -p out", "echo '\${var.image_name}-\${var.version}' > out/artifact.txt", "echo token=\${var.token}"]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
    custom_data = {
      image = "\${var.image_name}-\${var.version}"
    }
  }
}
`;
