import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { holdSignals, interruptSignal } from '../../exec/index.ts';
import { DIAGRAM_FORMATS, type DiagramFormat, renderDiagram } from '../../graph/render.ts';
import type { Manifest, OnError, PreflightResult, ReportFormat, RunResult, Verb } from '../../operator/index.ts';
import type { ManifestEvent, ManifestResult, ManifestVerb, RunManifestRequest } from '../../services/manifest.ts';
import { globalMasker } from '../../util/mask.ts';
import { renderPlanText } from '../../util/plan.ts';
import { paint } from '../../util/terminal.ts';
import type { ProgressView } from '../operator-progress.ts';
import { parseFormat, render } from '../output.ts';
import { subcommand } from '../shared.ts';
import {
  addIacDriverOptions,
  type IacDriverOptions,
  iacDriverFailure,
  isIacDriverCall,
  type ManifestViews,
  runIacDriverVerb,
} from './iacdriver-manifest.ts';

interface CommonOptions extends IacDriverOptions {
  stack?: string;
  manifestFile?: string;
  format?: string;
}

interface PreflightOptions extends CommonOptions {
  manifest?: string;
  simulator?: boolean;
}

interface RunOptions extends CommonOptions {
  dryRun?: boolean;
  jsonOutput?: boolean;
  yes?: boolean;
  maxConcurrency?: string;
  onError?: string;
  simulator?: boolean;
  simLatency?: string;
  reportDir?: string;
  reportFormat?: string;
}

const isDiagramFormat = (format: string): format is DiagramFormat =>
  (DIAGRAM_FORMATS as readonly string[]).includes(format);

/** `--report-format json,md,html`: which report files `test` writes (default json and md). */
function reportFormatsOf(value: string | undefined): ReportFormat[] | undefined {
  if (value === undefined) return undefined;
  const formats = value
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter(Boolean);
  const known = ['json', 'md', 'html'];
  const wrong = formats.find((f) => !known.includes(f));
  if (wrong !== undefined || formats.length === 0) {
    throw new UsageError(`invalid --report-format '${value}'`, {
      hint: `a comma-separated list of: ${known.join(', ')}`,
    });
  }
  return formats as ReportFormat[];
}

// Loaded on first use, so `strata --help` and other commands start fast; the simulator only for --simulator.
const operator = () => import('../../operator/index.ts');
const services = () => import('../../services/manifest.ts');
const simulator = () => import('../simulated-proxmox.ts');
/** Whether PROXMOX_VE_* point at a `strata pve-sim` (its exports set STRATA_PVE_SIMULATOR=1). */
const runningSimulator = () => process.env.STRATA_PVE_SIMULATOR === '1';

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number >= 1 (got '${value}')`);
  return n;
}

function onErrorOf(value: string | undefined): OnError | undefined {
  if (value === undefined) return undefined;
  if (!['stop', 'rollback', 'continue'].includes(value)) {
    throw new UsageError(`invalid --on-error '${value}'`, { hint: 'use one of: stop, rollback, continue' });
  }
  return value as OnError;
}

function simLatencyOf(value: string | undefined): number | undefined {
  const latency = value === undefined ? undefined : Number(value);
  if (latency !== undefined && !(latency >= 0)) throw new UsageError('--sim-latency must be a number >= 0');
  return latency;
}

async function confirmDestroy(manifest: Manifest, stack: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new UsageError(`destroy of '${manifest.name}' needs --yes when not run from a terminal`, {
      hint: `strata manifest destroy ${manifest.name} -s ${stack} --yes`,
    });
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `Destroy ${manifest.nodes.length} node(s) of manifest '${manifest.name}' in stack '${stack}'? [y/N] `,
    );
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** The request every verb shares: which manifest, which stack, which project. */
function baseRequest(
  verb: ManifestVerb,
  name: string | undefined,
  options: CommonOptions,
  command: Command,
): RunManifestRequest {
  if (!name && !options.manifestFile) {
    throw new UsageError('Missing manifest: give its name or --manifest-file <path>', {
      hint: 'Manifests live in stacks/manifests/ (operator.manifests_path in atmos.yaml); e.g. strata manifest plan nested-pve',
    });
  }
  const globals = command.optsWithGlobals() as { config?: string; basePath?: string };
  return {
    verb,
    manifest: { name, file: options.manifestFile },
    stack: options.stack,
    project: { config: globals.config, basePath: globals.basePath },
  };
}

/** create/test/destroy flags as a request; --simulator hands the operator a simulator seeded from the stack. */
function runRequest(verb: Verb, name: string | undefined, options: RunOptions, command: Command): RunManifestRequest {
  const maxConcurrency = positiveInt(options.maxConcurrency, '--max-concurrency');
  const onError = onErrorOf(options.onError);
  const simLatency = simLatencyOf(options.simLatency);
  const request = baseRequest(verb, name, options, command);
  request.options = {
    dryRun: options.dryRun,
    maxConcurrency,
    onError,
    reportDir: options.reportDir,
    reportFormats: reportFormatsOf(options.reportFormat),
    // The simulator lives as long as this command: its state must not mix with state of the real host.
    scratchState: options.simulator,
    confirmDestroy: options.yes || options.simulator ? undefined : confirmDestroy,
  };
  if (options.simulator) {
    request.connection = async (context) => {
      const latency = simLatency ?? 0.1;
      const connection = await (await simulator()).simulatedConnection(context, latency);
      process.stderr.write(`Simulator: ${connection.url} (Proxmox VE simulator, latency x${latency})\n`);
      return connection;
    };
  } else if (runningSimulator()) {
    // The exports of a running `strata pve-sim`: its endpoint, and how to reach its nested hosts.
    request.connection = async (context) => (await simulator()).runningSimulatorConnection(context);
  }
  return request;
}

/** Progress on stderr: the live node table while nodes run, plain lines otherwise. */
async function progressView(): Promise<(event: ManifestEvent) => void> {
  const { ProgressView } = await import('../operator-progress.ts');
  let view: ProgressView | undefined;
  return (event) => {
    if (event.type === 'start') view = event.dryRun ? undefined : new ProgressView(event.nodes);
    else if (event.type === 'node') view?.update(event.progress);
    else if (view) view.log(event.line);
    else process.stderr.write(`${event.line}\n`);
  };
}

function summary(result: RunResult, reportPaths: string[]): string {
  const out = process.stdout;
  const lines: string[] = [];
  const verdict = result.success ? paint('PASSED', 'green', out) : paint('FAILED', 'red', out);
  lines.push(
    `manifest ${result.verb} ${result.manifest}${result.stack ? ` (stack ${result.stack})` : ''}: ${verdict} in ${result.duration_seconds.toFixed(1)}s`,
  );
  for (const phase of result.phases) {
    lines.push(
      `  ${phase.name.padEnd(8)} ${phase.status.padEnd(7)} ${phase.duration.toFixed(1).padStart(6)}s  ${phase.message ?? ''}`,
    );
  }
  const width = Math.max(4, ...result.nodes.map((n) => n.name.length));
  for (const node of result.nodes) {
    const parts = [node.name.padEnd(width), node.status.padEnd(9)];
    if (node.vm_id !== undefined) parts.push(`vm ${node.vm_id}`);
    if (node.ip) parts.push(node.ip);
    if (node.error) parts.push(paint(node.error, 'red', out));
    lines.push(`    ${parts.join('  ')}`);
  }
  for (const vm of result.leftover ?? []) {
    lines.push(paint(`Left behind: VM ${vm.vm_ids.join(', ') || '?'} (node ${vm.node}) on ${vm.host}`, 'red', out));
  }
  if (result.error && !result.success) lines.push(paint(`Error: ${result.error}`, 'red', out));
  for (const path of reportPaths) lines.push(`Report: ${path}`);
  return `${lines.join('\n')}\n`;
}

function renderRun(outcome: ManifestResult, options: RunOptions): string {
  const run = outcome.run as RunResult;
  if (options.jsonOutput) return render(outcome.reports ? { ...run, report: outcome.reports } : run, 'json');
  if (run.plan) return renderPlanText(run.plan);
  const reports = [outcome.reports?.md, outcome.reports?.html];
  return summary(
    run,
    reports.filter((p) => p !== undefined),
  );
}

/** What --json-output prints when the run could not start or broke off: the run's shape, with the error. */
function failureDocument(verb: Verb, name: string | undefined, options: RunOptions, error: unknown): RunResult {
  const manifest = name ?? options.manifestFile ?? '';
  return {
    scenario: `manifest-${verb}-${manifest}`,
    verb,
    manifest,
    stack: options.stack ?? '',
    success: false,
    duration_seconds: 0,
    phases: [],
    nodes: [],
    context: {},
    error: globalMasker.mask(error instanceof Error ? error.message : String(error)),
  };
}

/** What iac-driver's command lines share with strata's own (see iacdriver-manifest.ts). */
const views: ManifestViews = {
  progress: progressView,
  text: (outcome) => renderRun(outcome, {}),
  confirm: confirmDestroy,
  simulator: async () => {
    const { simulatedConnection } = await simulator();
    return (context) => simulatedConnection(context, 0);
  },
};

async function runIacDriver(verb: Verb | 'apply', name: string | undefined, options: IacDriverOptions): Promise<void> {
  const siteVerb = verb === 'create' ? 'apply' : verb;
  const release = holdSignals();
  try {
    await runIacDriverVerb(siteVerb, name, options, views);
  } catch (error) {
    if (options.jsonOutput) process.stdout.write(iacDriverFailure(siteVerb, error));
    throw error;
  } finally {
    release();
  }
}

async function runVerb(verb: Verb, name: string | undefined, options: RunOptions, command: Command): Promise<void> {
  if (isIacDriverCall(options)) return runIacDriver(verb, name, options);
  const release = holdSignals();
  try {
    const request = runRequest(verb, name, options, command);
    const [{ runManifest }, { leftoverLine }] = await Promise.all([services(), operator()]);
    request.signal = interruptSignal();
    request.onEvent = await progressView();
    const outcome = await runManifest(request);
    process.stdout.write(renderRun(outcome, options));
    // VMs a failed destroy or rollback left on their hosts, by id: also where people and CI logs look.
    for (const vm of outcome.run?.leftover ?? []) process.stderr.write(`strata: left behind: ${leftoverLine(vm)}\n`);
    if (outcome.exitCode !== 0) process.exitCode = outcome.exitCode;
  } catch (error) {
    // One JSON document on stdout on every path; the error itself is reported on stderr as usual.
    if (options.jsonOutput) process.stdout.write(render(failureDocument(verb, name, options, error), 'json'));
    throw error;
  } finally {
    release();
  }
}

async function describeManifest(
  verb: 'validate' | 'plan',
  name: string | undefined,
  options: CommonOptions,
  command: Command,
): Promise<void> {
  if (verb === 'validate' && isIacDriverCall(options)) return runIacDriverVerb('validate', name, options, views);
  const pictures = verb === 'plan' ? DIAGRAM_FORMATS : [];
  const format = parseFormat(options.format, ['text', 'json', 'yaml', ...pictures]);
  const request = baseRequest(verb, name, options, command);
  const { runManifest } = await services();
  const outcome = await runManifest(request);
  const { name: manifest, nodes, file } = outcome.manifest;
  if (verb === 'validate') {
    if ((format as string) === 'text') {
      process.stdout.write(`Manifest '${manifest}' is valid (${nodes} node${nodes === 1 ? '' : 's'})\n`);
    } else process.stdout.write(render({ valid: true, name: manifest, nodes, file }, format));
    return;
  }
  const plan = outcome.order as NonNullable<ManifestResult['order']>;
  if (isDiagramFormat(format) && outcome.diagram) {
    process.stdout.write(renderDiagram(outcome.diagram, format));
    return;
  }
  if ((format as string) !== 'text') {
    process.stdout.write(render(plan, format));
    return;
  }
  const lines = [`Manifest '${manifest}' (${nodes} nodes)`, 'Levels (nodes in a level may run together):'];
  plan.levels.forEach((level, i) => {
    lines.push(`  ${i}: ${level.join(', ')}`);
  });
  lines.push(`Create order:  ${plan.create_order.join(', ')}`, `Destroy order: ${plan.destroy_order.join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function preflightText(result: PreflightResult): string {
  const out = process.stdout;
  const mark = {
    ok: paint('✓', 'green', out),
    fail: paint('✗', 'red', out),
    warn: paint('!', 'yellow', out),
    skip: '-',
  };
  const lines = [
    `Preflight for stack '${result.stack}'${result.endpoint ? ` (${result.endpoint}, node ${result.node})` : ''}`,
  ];
  for (const check of result.checks) {
    lines.push(`  ${mark[check.status]} ${check.name}: ${check.message}`);
    if (check.hint && check.status !== 'ok') lines.push(`      fix: ${check.hint}`);
  }
  lines.push(result.success ? 'All checks passed.' : 'Some checks failed.');
  return `${lines.join('\n')}\n`;
}

async function preflight(options: PreflightOptions, command: Command): Promise<void> {
  const format = parseFormat(options.format, ['text', 'json', 'yaml']);
  if (!options.stack) throw new UsageError('preflight needs a stack: -s <stack>');
  const { stackContext, loadManifest, manifestsDir, runPreflight } = await operator();
  const { openEngine } = await import('../../services/engine.ts');
  const globals = command.optsWithGlobals() as { config?: string; basePath?: string };
  const engine = await openEngine({ configPath: globals.config, basePath: globals.basePath });
  const context = await stackContext(engine, options.stack);
  const manifest =
    options.manifest || options.manifestFile
      ? await loadManifest({ name: options.manifest, file: options.manifestFile }, manifestsDir(engine.config))
      : undefined;
  const connection = options.simulator
    ? await (await simulator()).simulatedConnection(context, 0)
    : runningSimulator()
      ? (await simulator()).runningSimulatorConnection(context)
      : undefined;
  try {
    const result = await runPreflight(context, { manifest, connection });
    process.stdout.write((format as string) === 'text' ? preflightText(result) : render(result, format));
    if (!result.success) process.exitCode = 1;
  } finally {
    await connection?.close?.();
  }
}

const RUN_HELP = (verb: Verb) => `
The stack (-s) gives the Proxmox endpoint (settings.proxmox.endpoint / vars.proxmox.endpoint / vars.proxmox_url),
the node, storage and bridge, and the presets (vars.presets) and images (vars.images) the nodes name.
The API token comes from PROXMOX_VE_API_TOKEN or STRATA_PVE_TOKEN (user@realm!name=secret), never from files.
State: .strata/state/<manifest>--<stack>.json (re-run the same command to resume after an interruption).

Examples:
  strata manifest ${verb} nested-pve -s pve-dev${verb === 'destroy' ? ' --yes' : ''}
  strata manifest ${verb} nested-pve -s pve-dev --dry-run
  strata manifest ${verb} --manifest-file ./lab.yaml -s pve-dev --json-output${verb === 'destroy' ? ' --yes' : ''}
  strata manifest ${verb} nested-pve -s pve-dev --simulator      # against an in-process PVE simulator${verb === 'test' ? '\n  strata manifest test nested-pve -s pve-dev --simulator --report-format json,md,html' : ''}
`;

export function register(program: Command): void {
  const manifest = subcommand(
    program,
    'manifest',
    'Proxmox operator: validate, plan, create, destroy and test manifests of nodes (VMs, nested PVE)',
  ).addHelpText(
    'after',
    '\nManifests live in stacks/manifests/<name>.yaml (schema v2); the stack (-s) gives endpoint, presets and images.\n\nExamples:\n  strata manifest plan nested-pve --format json\n  strata manifest test nested-pve -s pve-dev --simulator\n  strata manifest create nested-pve -s pve-dev && strata manifest destroy nested-pve -s pve-dev --yes\n',
  );

  const validate = manifest
    .command('validate [manifest]')
    .description('Check a manifest: schema, names, parents, cycles, vmids (and presets with -s)')
    .option('-s, --stack <stack>', 'also resolve presets and images against this stack')
    .option('--manifest-file <path>', 'a manifest file instead of a name')
    .option('--format <format>', 'text, json or yaml', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  strata manifest validate nested-pve\n  strata manifest validate --manifest-file ./lab.yaml -s pve-dev\n',
    )
    .action((name: string | undefined, options: CommonOptions, command: Command) =>
      describeManifest('validate', name, options, command),
    );
  addIacDriverOptions(validate, 'validate');

  manifest
    .command('plan [manifest]')
    .description('Show the create order (parents first), the destroy order and the levels that run together')
    .option('-s, --stack <stack>', 'resolve presets against this stack')
    .option('--manifest-file <path>', 'a manifest file instead of a name')
    .option('--format <format>', 'text, json, yaml, mermaid or dot (the node graph)', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  strata manifest plan nested-pve\n  strata manifest plan nested-pve --format json\n  strata manifest plan nested-pve --format dot | dot -Tsvg > nested-pve.svg\n',
    )
    .action((name: string | undefined, options: CommonOptions, command: Command) =>
      describeManifest('plan', name, options, command),
    );

  for (const [verb, description] of [
    ['apply', "Same as create (iac-driver's name): with -M and -H, from an iac-driver site-config"],
    ['create', "Create the manifest's nodes (parents first, siblings in parallel); resumes an interrupted run"],
    ['destroy', "Destroy the manifest's nodes (children first), from the state or from the Proxmox API"],
    [
      'test',
      'Create, verify (guest agent IP and TCP port), destroy; writes reports/<time>.<passed|failed>.{md,json} (html with --report-format)',
    ],
  ] as Array<[Verb | 'apply', string]>) {
    const run = manifest
      .command(`${verb} [manifest]`)
      .description(description)
      .option('-s, --stack <stack>', 'the stack to run against')
      .option('--manifest-file <path>', 'a manifest file instead of a name')
      .option('--dry-run', 'print what would be done (and write tofu modules), change nothing')
      .option('--format <format>', 'text, or json: the result as one JSON document on stdout', 'text')
      .option('--json-output', 'same as --format json (the flag iac-driver users know)')
      .option('-y, --yes', 'do not ask before destroying')
      .option('--max-concurrency <n>', 'nodes created at the same time (default: settings.max_concurrency or 4)')
      .option('--on-error <mode>', 'stop, rollback or continue (default: settings.on_error)')
      .option('--simulator', 'run against an in-process Proxmox VE simulator seeded from the stack')
      .option('--sim-latency <scale>', 'simulator latency scale (0 = instant, 1 = realistic; default 0.1)')
      .option('--report-dir <dir>', 'where test reports go (default: reports/ under the base path)')
      .option('--report-format <list>', 'test reports to write: json, md, html (comma-separated; default json,md)')
      .addHelpText('after', RUN_HELP(verb === 'apply' ? 'create' : verb))
      .action((name: string | undefined, options: RunOptions, command: Command) => {
        if (parseFormat(options.format, ['text', 'json']) === 'json') options.jsonOutput = true;
        return verb === 'apply' && isIacDriverCall(options)
          ? runIacDriver('apply', name, options)
          : runVerb(verb === 'apply' ? 'create' : verb, name, options, command);
      });
    addIacDriverOptions(run, verb === 'create' ? 'apply' : verb);
  }

  program
    .command('preflight')
    .description(
      "Check a stack's Proxmox host before running manifests: API, token, privileges, node, images, nested virt",
    )
    .option('-s, --stack <stack>', 'the stack whose Proxmox settings are checked')
    .option('--manifest <name>', 'check what this manifest needs (images, nested virtualisation)')
    .option('--manifest-file <path>', 'a manifest file instead of a name')
    .option('--simulator', 'check an in-process Proxmox VE simulator seeded from the stack')
    .option('--format <format>', 'text, json or yaml', 'text')
    .addHelpText(
      'after',
      '\nEach failed check prints the command or setting that fixes it; exit code 1 when one fails.\n\nExamples:\n  strata preflight -s pve-dev\n  strata preflight -s pve-dev --manifest nested-pve --format json\n',
    )
    .action(preflight);
}
