/**
 * Workflow manifests: Atmos's format (`workflows: {<name>: {description, stack, env, steps}}`) plus strata's
 * extensions (needs, timeout, wait steps, richer retry). Parsing keeps line numbers so every error points at the file.
 */

import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { DEFAULT_LIMITS, LimitError, readFileBounded } from '../data/limits.ts';
import { type SourceLocation, StrataError } from '../errors.ts';
import { codeFrame } from '../util/suggest.ts';

/** `atmos` is Atmos's name for the same step type: both run a strata subcommand. */
export const STEP_TYPES = ['strata', 'atmos', 'shell', 'wait', 'env'] as const;
export type StepType = (typeof STEP_TYPES)[number];

export interface RetryPolicy {
  maxAttempts: number;
  delayMs: number;
  backoff: 'constant' | 'linear' | 'exponential';
  maxDelayMs?: number;
  multiplier: number;
  /** 0..1: each delay is varied by up to this fraction. */
  jitter: number;
}

export type WaitCondition =
  | { kind: 'command'; command: string }
  | { kind: 'http'; url: string; status?: number[] }
  | { kind: 'tcp'; host: string; port: number };

export interface WorkflowStep {
  name: string;
  type: StepType;
  /** Command text as written (strata subcommand or shell script); empty for wait and env steps. */
  command: string;
  stack?: string;
  env: Record<string, string>;
  workingDirectory?: string;
  retry?: RetryPolicy;
  timeoutMs?: number;
  /** Explicit dependencies; undefined means "the previous step" (Atmos's sequential order). */
  needs?: string[];
  /** Runs with the terminal attached (prompts work; output is not captured). */
  interactive: boolean;
  wait?: { until: WaitCondition; intervalMs: number; timeoutMs: number };
  /** type env: variables set for every later step. */
  vars?: Record<string, string>;
  location: SourceLocation;
}

export interface Workflow {
  name: string;
  description?: string;
  stack?: string;
  env: Record<string, string>;
  steps: WorkflowStep[];
  /** Absolute path of the manifest. */
  file: string;
  location: SourceLocation;
}

export interface WorkflowManifest {
  file: string;
  /** Workflow names in file order. */
  names: string[];
  /** Description without validating the steps (for listings). */
  description(name: string): string | undefined;
  /**
   * Validates and returns one workflow. Validation is per workflow, as in Atmos: a broken workflow does not stop
   * the others in the same file from running.
   */
  workflow(name: string): Workflow;
}

/** Step i implicitly needs step i-1 unless it lists `needs` (Atmos runs steps in file order). */
export function stepNeeds(workflow: Workflow, index: number): string[] {
  const step = workflow.steps[index];
  if (step.needs) return step.needs;
  return index === 0 ? [] : [workflow.steps[index - 1].name];
}

/** Parses `30s`, `5m`, `1h30m`, `250ms` or a bare number of seconds. */
export function parseDuration(value: unknown, what: string, location?: SourceLocation): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new StrataError(`invalid duration '${text}' for ${what}`, {
      location,
      hint: 'write a number of seconds or a duration such as 500ms, 30s, 5m, 1h30m',
    });
  }
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * units[unit], 0);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes}m` : `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

class Reader {
  readonly lines = new LineCounter();
  readonly source: string;
  constructor(
    readonly file: string,
    source: string,
  ) {
    this.source = source;
  }

  at(node: Node | null | undefined): SourceLocation {
    if (!node?.range) return { file: this.file };
    const { line, col } = this.lines.linePos(node.range[0]);
    return { file: this.file, line, col };
  }

  fail(message: string, node: Node | null | undefined, hint?: string): never {
    const location = this.at(node);
    throw new StrataError(message, {
      location,
      hint,
      details: location.line ? codeFrame(this.source, location.line, location.col) : undefined,
    });
  }
}

function pairs(node: Node | null | undefined): Array<[string, Node | null]> {
  if (!isMap(node)) return [];
  return node.items.map((pair) => [String(isScalar(pair.key) ? pair.key.value : pair.key), pair.value as Node | null]);
}

function get(node: Node | null | undefined, key: string): Node | null | undefined {
  return pairs(node).find(([k]) => k === key)?.[1];
}

function scalarText(reader: Reader, node: Node | null | undefined, what: string): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (!isScalar(node) || (node.value !== null && typeof node.value === 'object')) {
    reader.fail(`${what} must be a string`, node);
  }
  return node.value === null ? undefined : String(node.value);
}

function stringMap(reader: Reader, node: Node | null | undefined, what: string): Record<string, string> {
  if (node === undefined || node === null) return {};
  if (!isMap(node)) reader.fail(`${what} must be a map of names to values`, node);
  const out: Record<string, string> = {};
  for (const [key, value] of pairs(node)) out[key] = scalarText(reader, value, `${what}.${key}`) ?? '';
  return out;
}

/** Reads and validates one manifest. Throws "invalid workflow manifest" when the top-level key is missing. */
export function readManifest(file: string, displayPath = file): WorkflowManifest {
  let source: string;
  try {
    source = readFileBounded(file, DEFAULT_LIMITS.maxFileBytes, `workflow manifest ${displayPath}`);
  } catch (error) {
    if (error instanceof LimitError) throw error;
    throw new StrataError(`workflow file not found: the workflow manifest file ${displayPath} does not exist`, {
      cause: error,
    });
  }
  return parseManifest(source, file, displayPath);
}

export function parseManifest(source: string, file: string, displayPath = file): WorkflowManifest {
  const reader = new Reader(file, source);
  const doc = parseDocument(source, { lineCounter: reader.lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    const { line, col } = reader.lines.linePos(error.pos[0]);
    throw new StrataError(`invalid YAML in workflow manifest ${displayPath}: ${error.message.split('\n')[0]}`, {
      location: { file, line, col },
      details: codeFrame(source, line, col),
    });
  }
  const root = doc.contents as Node | null;
  const workflowsNode = get(root, 'workflows');
  if (!isMap(root) || workflowsNode === undefined) {
    throw new StrataError(
      `invalid workflow manifest: the workflow manifest ${displayPath} must be a map with the top-level \`workflows:\` key`,
      { location: { file }, hint: 'start the file with `workflows:` and put each workflow under it' },
    );
  }
  if (workflowsNode !== null && !isMap(workflowsNode)) {
    reader.fail('`workflows:` must be a map of workflow names to workflows', workflowsNode);
  }
  const nodes = new Map(pairs(workflowsNode));
  const cache = new Map<string, Workflow>();
  return {
    file,
    names: [...nodes.keys()],
    description: (name) => {
      const value = get(nodes.get(name), 'description');
      return isScalar(value) && value.value !== null ? String(value.value).trim() : undefined;
    },
    workflow: (name) => {
      let workflow = cache.get(name);
      if (!workflow) {
        if (!nodes.has(name)) throw new StrataError(`no workflow named '${name}' in ${displayPath}`);
        workflow = readWorkflow(reader, name, nodes.get(name) ?? null);
        cache.set(name, workflow);
      }
      return workflow;
    },
  };
}

function readWorkflow(reader: Reader, name: string, node: Node | null): Workflow {
  if (node !== null && !isMap(node)) reader.fail(`workflow '${name}' must be a map (description, stack, steps)`, node);
  const stepsNode = get(node, 'steps');
  if (stepsNode !== undefined && stepsNode !== null && !isSeq(stepsNode)) {
    reader.fail(`steps of workflow '${name}' must be a list`, stepsNode);
  }
  const workflow: Workflow = {
    name,
    description: scalarText(reader, get(node, 'description'), 'description')?.trim(),
    stack: scalarText(reader, get(node, 'stack'), 'stack') || undefined,
    env: stringMap(reader, get(node, 'env'), 'env'),
    steps: [],
    file: reader.file,
    location: reader.at(node),
  };
  const items = isSeq(stepsNode) ? (stepsNode.items as Array<Node | null>) : [];
  const names = new Set<string>();
  items.forEach((item, i) => {
    const step = readStep(reader, workflow, item, i);
    if (names.has(step.name)) reader.fail(`workflow '${name}' has two steps named '${step.name}'`, item);
    names.add(step.name);
    workflow.steps.push(step);
  });
  return workflow;
}

function readStep(reader: Reader, workflow: Workflow, node: Node | null, index: number): WorkflowStep {
  if (!isMap(node)) reader.fail(`step ${index + 1} of workflow '${workflow.name}' must be a map`, node);
  const known = new Set([
    'name',
    'title',
    'command',
    'type',
    'stack',
    'env',
    'working_directory',
    'retry',
    'timeout',
    'needs',
    'interactive',
    'until',
    'interval',
    'vars',
    'export',
    'identity',
  ]);
  for (const pair of node.items) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    if (!known.has(key)) {
      reader.fail(
        `unknown key '${key}' in step ${index + 1} of workflow '${workflow.name}'`,
        pair.key as Node,
        `known keys: ${[...known].join(', ')}`,
      );
    }
  }
  const name = scalarText(reader, get(node, 'name'), 'name') || `step${index + 1}`;
  const typeNode = get(node, 'type');
  const type = scalarText(reader, typeNode, 'type') || 'atmos';
  if (!(STEP_TYPES as readonly string[]).includes(type)) {
    const location = reader.at(typeNode);
    throw new StrataError(
      `invalid workflow step type: workflow ${workflow.name} step ${name} uses unsupported type ${type}`,
      {
        location,
        details: location.line ? codeFrame(reader.source, location.line, location.col) : undefined,
        hint: `step type '${type}' is not supported. Each step must specify a valid type: 'strata' (or its alias 'atmos', the default), 'shell', 'wait' or 'env'`,
      },
    );
  }
  const commandNode = get(node, 'command');
  const command = (scalarText(reader, commandNode, 'command') ?? '').trim();
  if ((type === 'strata' || type === 'atmos' || type === 'shell') && command === '') {
    reader.fail(`step '${name}' of workflow '${workflow.name}' has no command`, node);
  }
  const location = reader.at(node);
  const step: WorkflowStep = {
    name,
    type: type as StepType,
    command,
    stack: scalarText(reader, get(node, 'stack'), 'stack') || undefined,
    env: stringMap(reader, get(node, 'env'), 'env'),
    workingDirectory: scalarText(reader, get(node, 'working_directory'), 'working_directory') || undefined,
    interactive: get(node, 'interactive')?.toJSON() === true,
    location,
  };
  const timeout = get(node, 'timeout');
  if (timeout !== undefined && timeout !== null && type !== 'wait') {
    step.timeoutMs = parseDuration(timeout.toJSON(), `timeout of step '${name}'`, reader.at(timeout));
  }
  const needsNode = get(node, 'needs');
  if (needsNode !== undefined && needsNode !== null) {
    const needs = needsNode.toJSON();
    if (!Array.isArray(needs) || needs.some((n) => typeof n !== 'string')) {
      reader.fail(`needs of step '${name}' must be a list of step names`, needsNode);
    }
    step.needs = needs as string[];
  }
  const retryNode = get(node, 'retry');
  if (retryNode !== undefined && retryNode !== null) step.retry = readRetry(reader, retryNode, name);
  if (type === 'wait') step.wait = readWait(reader, node, name);
  if (type === 'env') step.vars = stringMap(reader, get(node, 'vars'), 'vars');
  return step;
}

function readRetry(reader: Reader, node: Node, step: string): RetryPolicy {
  if (!isMap(node))
    reader.fail(`retry of step '${step}' must be a map (max_attempts, delay, backoff, max_delay)`, node);
  const raw = node.toJSON() as Record<string, unknown>;
  const maxAttempts = Number(raw.max_attempts ?? 1);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    reader.fail(`retry.max_attempts of step '${step}' must be a whole number >= 1`, get(node, 'max_attempts'));
  }
  // Atmos spells these initial_delay and backoff_strategy; strata accepts both spellings.
  const delay = raw.delay ?? raw.initial_delay;
  const backoff = String(raw.backoff ?? raw.backoff_strategy ?? 'constant');
  if (!['constant', 'linear', 'exponential'].includes(backoff)) {
    reader.fail(
      `retry.backoff of step '${step}' must be constant, linear or exponential`,
      get(node, 'backoff') ?? get(node, 'backoff_strategy'),
    );
  }
  const where = reader.at(node);
  return {
    maxAttempts,
    delayMs: delay === undefined ? 1000 : parseDuration(delay, `retry delay of step '${step}'`, where),
    backoff: backoff as RetryPolicy['backoff'],
    maxDelayMs:
      raw.max_delay === undefined
        ? undefined
        : parseDuration(raw.max_delay, `retry max_delay of step '${step}'`, where),
    multiplier: Number(raw.multiplier ?? 2),
    jitter: Math.min(1, Math.max(0, Number(raw.random_jitter ?? raw.jitter ?? 0))),
  };
}

function readWait(reader: Reader, node: Node, step: string): NonNullable<WorkflowStep['wait']> {
  const untilNode = get(node, 'until');
  const usage = "a wait step needs `until:` with one of: command: '<shell>', http: {url, status}, tcp: {host, port}";
  if (!isMap(untilNode)) reader.fail(`wait step '${step}' has no condition`, untilNode ?? node, usage);
  const until = untilNode.toJSON() as Record<string, unknown>;
  let condition: WaitCondition;
  if (typeof until.command === 'string') condition = { kind: 'command', command: until.command };
  else if (until.http !== undefined) {
    const http = (typeof until.http === 'string' ? { url: until.http } : until.http) as Record<string, unknown>;
    if (typeof http?.url !== 'string') reader.fail(`wait step '${step}': http needs a url`, untilNode, usage);
    const status = http.status === undefined ? undefined : [http.status].flat().map(Number);
    condition = { kind: 'http', url: http.url, status };
  } else if (until.tcp !== undefined) {
    const tcp = until.tcp as Record<string, unknown>;
    const port = Number(tcp?.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      reader.fail(`wait step '${step}': tcp needs a port between 1 and 65535`, untilNode, usage);
    }
    condition = { kind: 'tcp', host: String(tcp.host ?? '127.0.0.1'), port };
  } else {
    reader.fail(`wait step '${step}' has an unknown condition`, untilNode, usage);
  }
  const interval = get(node, 'interval');
  const timeout = get(node, 'timeout');
  return {
    until: condition,
    intervalMs: interval ? parseDuration(interval.toJSON(), `interval of step '${step}'`, reader.at(interval)) : 2000,
    timeoutMs: timeout ? parseDuration(timeout.toJSON(), `timeout of step '${step}'`, reader.at(timeout)) : 300_000,
  };
}

/**
 * The first words a strata/atmos step may start with: strata's commands, and Atmos's that strata runs. A step of
 * that type (the default) runs `strata <command>`, so `sleep 30` or `kubectl apply ...` without `type: shell` fail
 * only at run time; `validate stacks` reports them before (test/workflows checks this list against the CLI).
 */
export const STRATA_COMMANDS = [
  'ansible',
  'apply',
  'ci',
  'describe',
  'doctor',
  'generate',
  'kubernetes',
  'list',
  'lock',
  'manifest',
  'packer',
  'plan',
  'preflight',
  'pve-sim',
  'secrets',
  'serve',
  'terraform',
  'validate',
  'workflow',
] as const;

/** Why a step's command will not run as written, or undefined. Only strata/atmos steps are checked. */
export function stepCommandProblem(step: WorkflowStep): { message: string; hint: string } | undefined {
  if (step.type !== 'strata' && step.type !== 'atmos') return undefined;
  const first = step.command.split(/\s+/)[0] ?? '';
  if (first === 'atmos' || first === 'strata') {
    return {
      message: `step '${step.name}' runs '${step.command}', i.e. strata ${first} ...: a step of type ${step.type} already runs strata`,
      hint: `drop the leading '${first}': command: ${step.command.slice(first.length).trim()}`,
    };
  }
  if ((STRATA_COMMANDS as readonly string[]).includes(first)) return undefined;
  return {
    message: `step '${step.name}' runs 'strata ${first}', which is no command: steps without a type run strata (Atmos: atmos) commands`,
    hint: `add type: shell to run '${step.command}' as a shell command`,
  };
}
