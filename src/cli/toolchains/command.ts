/**
 * `strata terraform|packer|kubernetes|ansible <verb> <component> -s <stack> [native args] [-- native args]`:
 * splits the words into a typed request (flags checked here, once), opens the engine, runs the service and renders
 * its result. Returns the exit code (the tool's own when it ran).
 */
import { createInterface } from 'node:readline/promises';
import { KUBERNETES_VERBS } from '../../components/kubernetes/index.ts';
import { assertPackerVerb, PACKER_VERBS } from '../../components/packer/index.ts';
import { UsageError } from '../../errors.ts';
import { openEngine } from '../../services/engine.ts';
import {
  runToolchain,
  type TerraformRequest,
  type ToolchainKind,
  type ToolchainRequest,
  type ToolchainResult,
} from '../../services/toolchain.ts';
import { renderPlanText } from '../../util/plan.ts';
import { didYouMean } from '../../util/suggest.ts';
import { useColor } from '../../util/terminal.ts';
import { type OutputFormat, render } from '../output.ts';
import { out } from '../shared.ts';
import { StatusLine } from '../status-line.ts';
import { COMMON_FLAGS, type FlagSpec, rejectMisspeltFlags, type SplitArgs, splitArgs } from './argv.ts';
import { summaryTable } from './render.ts';

export interface DispatchContext {
  cwd?: string;
  /** Global --config / --base-path given before the command word. */
  configPath?: string;
  basePath?: string;
}

const TERRAFORM_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  { name: 'format', kind: 'string' },
  { name: 'skip-init', kind: 'boolean' },
  { name: 'from-plan', kind: 'boolean' },
  { name: 'planfile', kind: 'string' },
  { name: 'all', kind: 'boolean' },
  { name: 'components', kind: 'string' },
  { name: 'affected', kind: 'boolean' },
  { name: 'ref', kind: 'string' },
  { name: 'sha', kind: 'string' },
  { name: 'include-uncommitted', kind: 'boolean' },
  { name: 'max-concurrency', kind: 'string' },
  { name: 'continue-on-error', kind: 'boolean' },
  { name: 'file', kind: 'string' },
  { name: 'everything', kind: 'boolean' },
  { name: 'force', kind: 'boolean' },
  { name: 'skip-lock-file', kind: 'boolean' },
  { name: 'output', kind: 'string' },
];
const PACKER_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  { name: 'format', kind: 'string' },
  { name: 'template', kind: 'string' },
  { name: 'query', kind: 'string' },
];
const ANSIBLE_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  { name: 'playbook', kind: 'string' },
  { name: 'inventory', kind: 'string' },
];

/** Terraform subcommands with a second word strata keeps as part of the verb (`state list`, `providers lock`). */
const SUBVERBS: Record<string, string[]> = {
  state: ['list', 'show', 'mv', 'rm', 'pull', 'push', 'replace-provider', 'identities'],
  providers: ['lock', 'mirror', 'schema'],
};
const GENERATE_TARGETS = ['varfile', 'backend', 'planfile'];
/** Every subcommand Terraform 1.x / OpenTofu has, and strata's own; another word is a usage error before init. */
const TERRAFORM_SUBCOMMANDS = new Set(
  (
    'apply console destroy fmt force-unlock get graph help import init login logout metadata modules ' +
    'output plan providers refresh show state taint test untaint validate version workspace deploy clean ' +
    'shell generate'
  ).split(' '),
);
/** Terraform's own `--name` flags (it accepts two dashes too): never taken for a misspelt strata flag. */
const TERRAFORM_NATIVE_FLAGS = new Set(
  (
    'auto-approve backend backend-config check compact-warnings destroy detailed-exitcode diff force-copy ' +
    'from-module generate-config-out get input json list lock lock-timeout lockfile migrate-state ' +
    'no-color out parallelism plugin-dir raw recursive reconfigure refresh refresh-only replace state ' +
    'state-out target upgrade var var-file write'
  ).split(' '),
);

function str(flags: SplitArgs['flags'], name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

function formatOf(split: SplitArgs): 'json' | 'yaml' | undefined {
  const format = str(split.flags, 'format');
  if (format === undefined) return undefined;
  if (format !== 'json' && format !== 'yaml') {
    throw new UsageError(`invalid --format '${format}'`, { hint: 'use one of: json, yaml' });
  }
  return format;
}

/** What every toolchain request shares, from the words strata itself reads. */
function common(split: SplitArgs, verb: string, component: string | undefined) {
  return {
    verb,
    component,
    stack: str(split.flags, 'stack'),
    args: split.native,
    dryRun: split.flags['dry-run'] === true,
    color: process.env.NO_COLOR ? false : undefined,
  };
}

export async function runComponentCommand(
  kind: ToolchainKind,
  words: string[],
  context: DispatchContext = {},
): Promise<number> {
  if (words.includes('--no-color') && !words.slice(0, words.indexOf('--no-color')).includes('--')) {
    process.env.NO_COLOR = '1';
  }
  const { split, request, format, status } = parse(kind, words, context);
  const engine = await openEngine({
    cwd: context.cwd,
    configPath: str(split.flags, 'config') ?? context.configPath,
    basePath: str(split.flags, 'base-path') ?? context.basePath,
  });
  let result: ToolchainResult;
  try {
    result = await runToolchain(engine, request);
  } finally {
    status?.clear();
  }
  show(result, format, request);
  return result.exitCode;
}

interface ParsedCommand {
  split: SplitArgs;
  request: ToolchainRequest;
  format?: OutputFormat;
  /** The running/finished/failed line of a live multi-component run on a terminal. */
  status?: StatusLine;
}

function parse(kind: ToolchainKind, words: string[], context: DispatchContext): ParsedCommand {
  switch (kind) {
    case 'terraform':
      return terraformRequest(words, context);
    case 'packer': {
      const split = splitArgs(words, PACKER_FLAGS, 2);
      const verb = assertPackerVerb(split.positionals[0]);
      const request: ToolchainRequest = {
        kind,
        ...common(split, verb, split.positionals[1]),
        template: str(split.flags, 'template'),
        query: str(split.flags, 'query'),
      };
      return { split, request, format: verb === 'output' ? formatOf(split) : undefined };
    }
    case 'kubernetes': {
      const split = splitArgs(words, COMMON_FLAGS, 2);
      const verb = split.positionals[0];
      if (!verb || !(KUBERNETES_VERBS as readonly string[]).includes(verb)) {
        throw new UsageError(verb ? `unknown kubernetes command '${verb}'` : 'missing kubernetes command', {
          hint: `use one of: ${KUBERNETES_VERBS.join(', ')}`,
        });
      }
      return { split, request: { kind, ...common(split, verb, split.positionals[1]) } };
    }
    case 'ansible': {
      const split = splitArgs(words, ANSIBLE_FLAGS, 2);
      const verb = split.positionals[0];
      if (verb !== 'playbook') {
        throw new UsageError(verb ? `unknown ansible command '${verb}'` : 'missing ansible command', {
          hint: 'use: strata ansible playbook <component> -s <stack> [-- ansible-playbook args]',
        });
      }
      const request: ToolchainRequest = {
        kind,
        ...common(split, verb, split.positionals[1]),
        playbook: str(split.flags, 'playbook'),
        inventory: str(split.flags, 'inventory'),
      };
      return { split, request };
    }
  }
}

function terraformRequest(words: string[], context: DispatchContext): ParsedCommand & { request: TerraformRequest } {
  const firstBare = words.find((w) => !w.startsWith('-'));
  const split = splitArgs(words, TERRAFORM_FLAGS, firstBare === 'generate' ? 3 : 2);
  let [verb, component] = split.positionals;
  if (!verb) {
    throw new UsageError('missing terraform command', {
      hint: 'e.g. strata terraform plan <component> -s <stack>; see strata terraform --help',
    });
  }
  if (!TERRAFORM_SUBCOMMANDS.has(verb)) {
    throw new UsageError(`unknown terraform command '${verb}'`, {
      hint: didYouMean(verb, TERRAFORM_SUBCOMMANDS) ?? `use one of: ${[...TERRAFORM_SUBCOMMANDS].join(', ')}`,
    });
  }
  rejectMisspeltFlags(words, TERRAFORM_FLAGS, TERRAFORM_NATIVE_FLAGS);
  // `state list vpc`: the second word belongs to the verb, the component follows.
  if (SUBVERBS[verb]?.includes(component ?? '')) {
    const again = splitArgs(words, TERRAFORM_FLAGS, 3);
    verb = `${again.positionals[0]} ${again.positionals[1]}`;
    component = again.positionals[2];
    split.native = again.native;
  }
  const many = split.flags.all || split.flags.components || split.flags.affected;
  let format: OutputFormat | undefined;
  let status: StatusLine | undefined;
  if (many) format = formatOf(split);
  else if (verb === 'generate') {
    const [, what, generated] = split.positionals;
    if (!what || !GENERATE_TARGETS.includes(what)) {
      throw new UsageError(what ? `unknown generate target '${what}'` : 'missing generate target', {
        hint: `use one of: ${GENERATE_TARGETS.join(', ')} (e.g. strata terraform generate varfile vpc -s dev)`,
      });
    }
    verb = `generate ${what}`;
    component = generated;
    if (what === 'planfile') format = formatOf(split);
  } else if (verb !== 'clean' && split.flags.format !== undefined) {
    throw new UsageError('--format applies to --all / --components runs and to generate planfile', {
      hint: 'terraform output -json prints outputs as JSON: strata terraform output <component> -s <stack> -json',
    });
  }
  const request: TerraformRequest = {
    kind: 'terraform',
    ...common(split, verb, component),
    skipInit: split.flags['skip-init'] === true,
    fromPlan: split.flags['from-plan'] === true,
    planFile: str(split.flags, 'planfile'),
    format,
    file: str(split.flags, 'file'),
    everything: split.flags.everything === true,
    force: split.flags.force === true,
    skipLockFile: split.flags['skip-lock-file'] === true,
    confirm: confirmDelete,
  };
  if (many) {
    const concurrencyText = str(split.flags, 'max-concurrency') ?? '4';
    const maxConcurrency = Number(concurrencyText);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new UsageError(`--max-concurrency must be a whole number >= 1 (got '${concurrencyText}')`);
    }
    request.selection = {
      components: str(split.flags, 'components')
        ?.split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      affected: split.flags.affected
        ? {
            cwd: context.cwd,
            configPath: str(split.flags, 'config') ?? context.configPath,
            basePath: str(split.flags, 'base-path') ?? context.basePath,
            ref: str(split.flags, 'ref'),
            sha: str(split.flags, 'sha'),
            includeUncommitted: split.flags['include-uncommitted'] === true,
          }
        : undefined,
    };
    request.maxConcurrency = maxConcurrency;
    request.continueOnError = split.flags['continue-on-error'] === true;
    request.output = outputOf(split);
    // With --format the summary is the data on stdout; the tools' output goes to stderr.
    const stream = format === undefined ? process.stdout : process.stderr;
    request.color = useColor(stream);
    request.onOutput = (text) => stream.write(text);
    if (request.output === 'stream' && StatusLine.wanted(stream)) {
      status = new StatusLine(stream, request.color);
      request.onOutput = (text) => status?.write(text);
    }
  } else if (split.flags.output !== undefined) {
    throw new UsageError('--output applies to --all / --components / --affected runs');
  }
  return { split, request, format: many ? format : undefined, status };
}

function outputOf(split: SplitArgs): 'stream' | 'grouped' {
  const output = str(split.flags, 'output') ?? 'stream';
  if (output !== 'stream' && output !== 'grouped') {
    throw new UsageError(`invalid --output '${output}'`, { hint: 'use one of: stream, grouped' });
  }
  return output;
}

/** `clean` without --force: lists the files and asks; undefined when there is no terminal to answer. */
async function confirmDelete(targets: string[]): Promise<boolean | undefined> {
  process.stderr.write(`This deletes:\n${targets.map((t) => `  ${t}`).join('\n')}\n`);
  if (!process.stdin.isTTY) return undefined;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question('Delete these files? [y/N] ');
  prompt.close();
  return /^y(es)?$/i.test(answer.trim());
}

function show(result: ToolchainResult, format: OutputFormat | undefined, request: ToolchainRequest): void {
  for (const notice of result.notices) process.stderr.write(`${notice}\n`);
  if (result.dryRun) out(renderPlanText(result.dryRun));
  if (result.many) {
    const { results, exitCode, durationMs, maxConcurrency } = result.many;
    if (format) out(render({ results, exitCode, durationMs, maxConcurrency }, format));
    else out(`\n${summaryTable(result.many)}`);
  }
  if (request.kind === 'packer' && request.verb === 'output') {
    const value = result.value;
    if (!format && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
      out(String(value));
    } else out(render(value, format ?? 'yaml'));
  }
}

/** Terraform/OpenTofu verbs completion offers (any other verb is passed to the tool as well). */
const TERRAFORM_VERBS = [
  'plan',
  'apply',
  'deploy',
  'destroy',
  'init',
  'validate',
  'output',
  'show',
  'import',
  'refresh',
  'console',
  'workspace',
  'fmt',
  'graph',
  'get',
  'test',
  'version',
  'clean',
  'shell',
];

/** The words `strata <kind>` takes, for shell completion: verbs (with the second words some take) and flags. */
export function toolchainWords(kind: string): {
  verbs: string[];
  subverbs: Record<string, string[]>;
  flags: FlagSpec[];
} {
  switch (kind) {
    case 'terraform':
      return { verbs: TERRAFORM_VERBS, subverbs: { ...SUBVERBS, generate: GENERATE_TARGETS }, flags: TERRAFORM_FLAGS };
    case 'packer':
      return { verbs: [...PACKER_VERBS], subverbs: {}, flags: PACKER_FLAGS };
    case 'kubernetes':
      return { verbs: [...KUBERNETES_VERBS], subverbs: {}, flags: COMMON_FLAGS };
    default:
      return { verbs: ['playbook'], subverbs: {}, flags: ANSIBLE_FLAGS };
  }
}
