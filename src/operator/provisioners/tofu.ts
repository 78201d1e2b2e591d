/**
 * The tofu provisioner: one generated root module per manifest+stack+node, with the bpg/proxmox provider, its own
 * local state and its own TF_DATA_DIR, so nodes never share state and a re-run is an idempotent apply.
 * The module is written as Terraform JSON syntax (main.tf.json): JSON.stringify produces it exactly, with no HCL
 * escaping to get wrong. The API token is passed as TF_VAR_api_token, never written to disk.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../errors.ts';
import { formatCommand, run } from '../../exec/index.ts';
import { writeFileAtomicSync } from '../../util/fs.ts';
import type { ProxmoxTarget, ResolvedNode } from '../context.ts';
import { slug } from '../state.ts';
import type { Identity } from './proxmox-api.ts';

export const BPG_PROVIDER_VERSION = '~> 0.111';

/** A Terraform interpolation `${expr}`; a string holding only one keeps the value's type (list, number, ...). */
export const tf = (expr: string): string => `\${${expr}}`;

export interface TofuNodeInput {
  node: ResolvedNode;
  id: Identity;
  /** Where the VM goes: the stack's host, or a nested PVE host. */
  endpoint: { url: string; insecure?: boolean };
  pveNode: string;
  target: Pick<ProxmoxTarget, 'storage' | 'bridge' | 'ciuser' | 'sshKeys' | 'nameserver'>;
}

export interface TofuCommand {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The isolated folder of one node: <workDir>/tofu/<manifest>--<stack>/<node>/. */
export function tofuDir(workDir: string, manifest: string, stack: string, node: string): string {
  return join(workDir, 'tofu', `${slug(manifest)}--${slug(stack || 'default')}`, slug(node));
}

/** The root module (Terraform JSON syntax) for one node. */
export function rootModule(input: TofuNodeInput): Record<string, unknown> {
  const { node } = input;
  const templateById = node.imageRef.templateVmid !== undefined;
  const vm: Record<string, unknown> = {
    name: tf('var.vm.name'),
    node_name: tf('var.node_name'),
    description: tf('var.vm.description'),
    tags: tf('var.vm.tags'),
    vm_id: tf('var.vm.vmid'),
    started: true,
    clone: [
      {
        vm_id: templateById
          ? tf('var.vm.template_vmid')
          : tf('data.proxmox_virtual_environment_vms.template.vms[0].vm_id'),
        full: true,
        datastore_id: tf('var.vm.storage'),
      },
    ],
    agent: [{ enabled: true }],
    cpu: [{ cores: tf('var.vm.cores'), type: tf('var.vm.cpu_type') }],
    memory: [{ dedicated: tf('var.vm.memory') }],
    network_device: [{ bridge: tf('var.vm.bridge') }],
    initialization: [
      {
        ip_config: [{ ipv4: [{ address: tf('var.vm.ip'), gateway: tf('var.vm.gateway') }] }],
        user_account: [{ username: tf('var.vm.ciuser'), keys: tf('var.vm.ssh_keys') }],
        dns: [{ servers: tf('var.vm.nameservers') }],
      },
    ],
    // Disk size only grows a cloned disk; null keeps the template's.
    dynamic: {
      disk: {
        for_each: tf('var.vm.disk == null ? [] : [var.vm.disk]'),
        content: { interface: 'scsi0', size: tf('disk.value'), datastore_id: tf('var.vm.storage') },
      },
    },
  };
  const module: Record<string, unknown> = {
    terraform: [
      {
        required_providers: [{ proxmox: { source: 'bpg/proxmox', version: BPG_PROVIDER_VERSION } }],
        backend: [{ local: [{ path: 'terraform.tfstate' }] }],
      },
    ],
    variable: {
      endpoint: [{ type: 'string' }],
      api_token: [{ type: 'string', sensitive: true }],
      insecure: [{ type: 'bool', default: false }],
      node_name: [{ type: 'string' }],
      vm: [{ type: 'any' }],
    },
    provider: {
      proxmox: [{ endpoint: tf('var.endpoint'), api_token: tf('var.api_token'), insecure: tf('var.insecure') }],
    },
    resource: { proxmox_virtual_environment_vm: { node: [vm] } },
    output: {
      vm_id: [{ value: tf('proxmox_virtual_environment_vm.node.vm_id') }],
      ipv4_addresses: [{ value: tf('proxmox_virtual_environment_vm.node.ipv4_addresses') }],
      node_name: [{ value: tf('proxmox_virtual_environment_vm.node.node_name') }],
    },
  };
  if (!templateById) {
    module.data = {
      proxmox_virtual_environment_vms: {
        template: [
          {
            filter: [
              { name: 'name', values: [tf('var.vm.template')] },
              { name: 'template', values: [true] },
            ],
          },
        ],
      },
    };
  }
  return module;
}

/** Values for the module; null means "provider default". */
export function tfvars(input: TofuNodeInput): Record<string, unknown> {
  const { node, target } = input;
  return {
    endpoint: input.endpoint.url,
    insecure: input.endpoint.insecure ?? false,
    node_name: input.pveNode,
    vm: {
      name: input.id.vmName,
      description: input.id.marker,
      tags: input.id.tags,
      vmid: node.vmid ?? null,
      template: node.imageRef.template ?? null,
      template_vmid: node.imageRef.templateVmid ?? null,
      storage: target.storage ?? null,
      cores: node.cores ?? 1,
      cpu_type: node.type === 'pve' ? 'host' : 'x86-64-v2-AES',
      memory: node.memory ?? 1024,
      disk: node.disk ?? null,
      bridge: target.bridge,
      ip: node.ip && node.ip !== 'dhcp' ? node.ip : 'dhcp',
      gateway: node.gateway ?? null,
      ciuser: target.ciuser ?? null,
      ssh_keys: target.sshKeys,
      nameservers: target.nameserver ? [target.nameserver] : [],
    },
  };
}

/** Writes main.tf.json and terraform.tfvars.json into the node's folder; returns the folder. */
export async function writeModule(dir: string, input: TofuNodeInput): Promise<string> {
  await mkdir(join(dir, 'data'), { recursive: true });
  writeFileAtomicSync(join(dir, 'main.tf.json'), `${JSON.stringify(rootModule(input), null, 2)}\n`);
  writeFileAtomicSync(join(dir, 'terraform.tfvars.json'), `${JSON.stringify(tfvars(input), null, 2)}\n`);
  return dir;
}

/** The commands apply (init, apply, output) or destroy (init, destroy) run, in order. */
export function tofuCommands(
  dir: string,
  verb: 'apply' | 'destroy',
  tokenSecretEnv: Record<string, string>,
  binary = 'tofu',
): TofuCommand[] {
  // TF_DATA_DIR holds providers and the backend cache; the state stays beside the module (outside TF_DATA_DIR).
  const env = { TF_DATA_DIR: join(dir, 'data'), TF_IN_AUTOMATION: '1', ...tokenSecretEnv };
  const common = ['-input=false', '-no-color'];
  const cmd = (args: string[]): TofuCommand => ({ command: binary, args, cwd: dir, env });
  const init = cmd(['init', ...common]);
  if (verb === 'destroy') {
    return [init, cmd(['destroy', '-auto-approve', ...common, '-var-file=terraform.tfvars.json'])];
  }
  return [
    init,
    cmd(['apply', '-auto-approve', ...common, '-var-file=terraform.tfvars.json']),
    cmd(['output', '-json']),
  ];
}

/** Commands as a user could paste them (the token shown as a variable reference). */
export function describeCommands(commands: TofuCommand[]): string[] {
  return commands.map((c) => {
    const env = Object.keys(c.env)
      .map((k) => (k === 'TF_VAR_api_token' ? `${k}=$PROXMOX_VE_API_TOKEN` : `${k}=${c.env[k]}`))
      .join(' ');
    return `(cd ${c.cwd} && ${env} ${formatCommand(c.command, c.args)})`;
  });
}

/** Runs the commands through the toolchain runner; returns vm id and IP from `tofu output -json`. */
export async function runTofu(
  commands: TofuCommand[],
  options: { prefix: string; signal?: AbortSignal; timeoutMs?: number },
): Promise<{ vmid?: number; ip?: string; pveNode?: string }> {
  let outputJson = '';
  for (const c of commands) {
    const result = await run(c.command, c.args, {
      cwd: c.cwd,
      env: c.env,
      stdio: c.args[0] === 'output' ? 'capture' : 'stream',
      prefix: options.prefix,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    if (result.exitCode !== 0) {
      const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
      throw new StrataError(`${c.command} ${c.args[0]} failed in ${c.cwd} (exit ${result.exitCode})`, {
        details: tail || undefined,
        hint: result.timedOut ? 'The command timed out; raise settings.timeouts.task.' : undefined,
      });
    }
    if (c.args[0] === 'output') outputJson = result.stdout;
  }
  if (!outputJson) return {};
  const outputs = JSON.parse(outputJson) as Record<string, { value: unknown }>;
  const lists = (outputs.ipv4_addresses?.value ?? []) as string[][];
  const ip = lists.flat().find((a) => a && !a.startsWith('127.') && !a.startsWith('169.254.'));
  return {
    vmid: typeof outputs.vm_id?.value === 'number' ? outputs.vm_id.value : undefined,
    ip,
    pveNode: typeof outputs.node_name?.value === 'string' ? outputs.node_name.value : undefined,
  };
}

/** Has this node's module been applied before (a state file exists)? */
export async function hasTofuState(dir: string): Promise<boolean> {
  try {
    const state = JSON.parse(await readFile(join(dir, 'terraform.tfstate'), 'utf8')) as { resources?: unknown[] };
    return (state.resources ?? []).length > 0;
  } catch {
    return false;
  }
}
