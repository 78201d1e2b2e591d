/** What `runToolchain` takes and gives: one toolchain verb as data, whoever asks (the CLI, a program). */

import type { ManyResult } from '../components/terraform/multi.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { UsageError } from '../errors.ts';
import type { StackEngine } from '../stacks/engine.ts';
import type { DryRunPlan } from '../util/plan.ts';

export type ToolchainKind = 'terraform' | 'packer' | 'kubernetes' | 'ansible';

/** Many terraform instances instead of one component (`--all`, `--components`, `--affected`). */
export interface InstanceSelection {
  /** Only these components (`--components a,b`); default every one in the stack, or everywhere (`--all`). */
  components?: string[];
  /** Only the instances a git change affects, as `describe affected` finds them. */
  affected?: AffectedSelection;
}

export interface AffectedSelection {
  ref?: string;
  sha?: string;
  includeUncommitted?: boolean;
  /** Where the repository and its configuration are, as the engine was opened. */
  cwd?: string;
  configPath?: string;
  basePath?: string;
}

interface RequestBase {
  /** The verb; two words for Terraform's `state list`, `providers lock`, `generate varfile`, ... */
  verb: string;
  component?: string;
  stack?: string;
  /** Native arguments for the tool, in order. */
  args: string[];
  /** Plan only: the result's `dryRun` says what would be written and run. */
  dryRun: boolean;
  /** Colour in the tool's output; default: stdout is a terminal and NO_COLOR is unset. */
  color?: boolean;
}

export interface TerraformRequest extends RequestBase {
  kind: 'terraform';
  selection?: InstanceSelection;
  skipInit?: boolean;
  /** `deploy`: apply the saved planfile (also implied by `planFile` on deploy). */
  fromPlan?: boolean;
  planFile?: string;
  /** Many instances: how many run at once (default 4) and whether a failure stops the rest. */
  maxConcurrency?: number;
  continueOnError?: boolean;
  /** `generate planfile`: the plan as json (default) or yaml. */
  format?: 'json' | 'yaml';
  /** `generate varfile|planfile`: where to write. */
  file?: string;
  /** `clean`: also the state and the lock file; skip the question; keep .terraform.lock.hcl. */
  everything?: boolean;
  force?: boolean;
  skipLockFile?: boolean;
  /** `clean` without `force`: asked before deleting; false keeps the files, undefined means nobody can answer. */
  confirm?: (targets: string[]) => Promise<boolean | undefined>;
  /** Many instances: live prefixed lines (default) or each one's block as it finishes. */
  output?: 'stream' | 'grouped';
  /** Many instances: where their output goes. */
  onOutput?: (text: string) => void;
}

export interface PackerRequest extends RequestBase {
  kind: 'packer';
  /** A template file or folder instead of settings.packer.template. */
  template?: string;
  /** `output`: a query into the manifest. */
  query?: string;
}

export interface KubernetesRequest extends RequestBase {
  kind: 'kubernetes';
}

export interface AnsibleRequest extends RequestBase {
  kind: 'ansible';
  playbook?: string;
  inventory?: string;
}

export type ToolchainRequest = TerraformRequest | PackerRequest | KubernetesRequest | AnsibleRequest;

export interface ToolchainResult {
  /** The tool's own exit code when it ran; 0 for a dry run or a skipped component. */
  exitCode: number;
  /** Lines for people, in order: skipped components, files written or deleted, why a run failed. */
  notices: string[];
  /** A dry run: the files and commands, nothing run. */
  dryRun?: DryRunPlan;
  /** Many terraform instances: one result per instance. */
  many?: ManyResult;
  /** `packer output`: the value read. */
  value?: unknown;
}

/** The instance a one-component request names, with usage errors that list what exists. */
export async function instanceFor(
  engine: StackEngine,
  request: RequestBase & { kind: ToolchainKind },
  verb = request.verb,
): Promise<ComponentInstance> {
  const { kind, component, stack } = request;
  if (!component) {
    throw new UsageError(`missing component: strata ${kind} ${verb} <component> -s <stack>`);
  }
  if (!stack) {
    const stacks = await engine.stackNames();
    throw new UsageError(`missing stack: strata ${kind} ${verb} ${component} -s <stack>`, {
      hint:
        stacks.length > 0 ? `stacks: ${stacks.slice(0, 10).join(', ')}${stacks.length > 10 ? ', ...' : ''}` : undefined,
    });
  }
  return engine.describeComponent(component, stack, { kind });
}
