/**
 * `runToolchain(engine, request)`: one toolchain verb for a component instance (or terraform for a selection of
 * them) as a typed request and result. Argument splitting, prompts and printing are the CLI's (src/cli/toolchains);
 * a dry run comes back as a DryRunPlan, nothing is printed here.
 */
import { runAnsible } from '../components/ansible/index.ts';
import { runKubernetes } from '../components/kubernetes/index.ts';
import { packerOutput, runPacker } from '../components/packer/index.ts';
import type { StackEngine } from '../stacks/engine.ts';
import { runTerraformRequest } from './terraform.ts';
import {
  type AnsibleRequest,
  instanceFor,
  type KubernetesRequest,
  type PackerRequest,
  type ToolchainRequest,
  type ToolchainResult,
} from './toolchain-request.ts';

export type {
  AffectedSelection,
  AnsibleRequest,
  InstanceSelection,
  KubernetesRequest,
  PackerRequest,
  TerraformRequest,
  ToolchainKind,
  ToolchainRequest,
  ToolchainResult,
} from './toolchain-request.ts';

export function runToolchain(engine: StackEngine, request: ToolchainRequest): Promise<ToolchainResult> {
  switch (request.kind) {
    case 'terraform':
      return runTerraformRequest(engine, request);
    case 'packer':
      return packer(engine, request);
    case 'kubernetes':
      return kubernetes(engine, request);
    case 'ansible':
      return ansible(engine, request);
  }
}

/** A runner's answer as a toolchain result. */
function resultOf(run: { exitCode: number; skipped?: string; dryRun?: ToolchainResult['dryRun'] }): ToolchainResult {
  return { exitCode: run.exitCode, notices: run.skipped ? [run.skipped] : [], dryRun: run.dryRun };
}

async function packer(engine: StackEngine, request: PackerRequest): Promise<ToolchainResult> {
  const instance = await instanceFor(engine, request);
  if (request.verb === 'output') {
    return { exitCode: 0, notices: [], value: await packerOutput(instance, request.query) };
  }
  return resultOf(
    await runPacker(engine.config, instance, {
      verb: request.verb,
      args: request.args,
      template: request.template,
      dryRun: request.dryRun,
      color: request.color,
    }),
  );
}

async function kubernetes(engine: StackEngine, request: KubernetesRequest): Promise<ToolchainResult> {
  const instance = await instanceFor(engine, request);
  return resultOf(
    await runKubernetes(engine.config, instance, { verb: request.verb, args: request.args, dryRun: request.dryRun }),
  );
}

async function ansible(engine: StackEngine, request: AnsibleRequest): Promise<ToolchainResult> {
  const instance = await instanceFor(engine, request);
  return resultOf(
    await runAnsible(engine.config, instance, {
      verb: request.verb,
      args: request.args,
      playbook: request.playbook,
      inventory: request.inventory,
      dryRun: request.dryRun,
      color: request.color,
      engine,
    }),
  );
}
