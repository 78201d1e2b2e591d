import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { holdSignals, interruptSignal } from '../../exec/index.ts';
import type { Manifest, OnError, RunResult, StackContext, Verb } from '../../operator/index.ts';
import { paint } from '../../util/terminal.ts';
import { parseFormat, render } from '../output.ts';
import { subcommand } from '../shared.ts';

interface CommonOptions {
  stack?: string;
  manifestFile?: string;
  format?: string;
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
}

interface Loaded {
  manifest: Manifest;
  context?: StackContext;
  basePath: string;
}

/** The operator library, loaded on first use so `strata --help` and other commands start fast. */
const operator = () => import('../../operator/index.ts');

/** The stack engine, loaded on first use: validate/plan of a manifest file run without any stack configuration. */
async function openStacks(globals: { config?: string; basePath?: string }) {
  const { openEngine } = await import('../../services/engine.ts');
  return openEngine({ configPath: globals.config, basePath: globals.basePath });
}

/** Reads the manifest (by name from the manifests folder, or --manifest-file) and, with -s, the stack's context. */
async function load(name: string | undefined, options: CommonOptions, command: Command): Promise<Loaded> {
  if (!name && !options.manifestFile) {
    throw new UsageError('Missing manifest: give its name or --manifest-file <path>', {
      hint: 'Manifests live in stacks/manifests/ (operator.manifests_path in atmos.yaml); e.g. strata manifest plan nested-pve',
    });
  }
  const { loadManifest, manifestsDir, stackContext } = await operator();
  const globals = command.optsWithGlobals() as { config?: string; basePath?: string };
  const needEngine = options.stack !== undefined || !options.manifestFile;
  const engine = needEngine ? await openStacks(globals) : undefined;
  const manifest = await loadManifest(
    { name, file: options.manifestFile },
    engine ? manifestsDir(engine.config) : process.cwd(),
  );
  const context = engine && options.stack ? await stackContext(engine, options.stack) : undefined;
  return { manifest, context, basePath: engine?.config.basePath ?? process.cwd() };
}

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

async function confirmDestroy(manifest: Manifest, stack: string): Promise<void> {
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
    if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('destroy cancelled');
  } finally {
    rl.close();
  }
}

function summary(result: RunResult, reportPath: string | undefined): string {
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
  if (result.error && !result.success) lines.push(paint(`Error: ${result.error}`, 'red', out));
  if (reportPath) lines.push(`Report: ${reportPath}`);
  return `${lines.join('\n')}\n`;
}

async function runVerb(verb: Verb, name: string | undefined, options: RunOptions, command: Command): Promise<void> {
  const { needsStack, operatorPaths, simulateStack, ProgressView, planManifest, runManifest, writeReports } =
    await operator();
  const loaded = await load(name, options, command);
  const { manifest } = loaded;
  let context = loaded.context;
  if (!context && !(options.dryRun && !needsStack(manifest))) {
    throw new UsageError(`manifest ${verb} needs a stack: -s <stack>`, {
      hint: 'The stack gives the Proxmox endpoint (settings.proxmox or vars.proxmox) and the presets and images (vars).',
    });
  }
  const maxConcurrency = positiveInt(options.maxConcurrency, '--max-concurrency');
  const onError = onErrorOf(options.onError);
  const simLatency = options.simLatency === undefined ? undefined : Number(options.simLatency);
  if (simLatency !== undefined && !(simLatency >= 0)) throw new UsageError('--sim-latency must be a number >= 0');
  if (verb === 'destroy' && !options.yes && !options.dryRun && !options.simulator && context) {
    await confirmDestroy(manifest, context.stack);
  }
  const paths = operatorPaths(loaded.basePath);
  // The simulator lives as long as this command: its state must not mix with state of the real host.
  const scratch = options.simulator ? await mkdtemp(join(tmpdir(), 'strata-sim-state-')) : undefined;
  if (scratch) {
    paths.stateDir = join(scratch, 'state');
    paths.workDir = scratch;
  }
  let env: NodeJS.ProcessEnv = process.env;
  const simulated =
    options.simulator && context ? await simulateStack(context, { latencyScale: simLatency }) : undefined;
  if (simulated) {
    context = simulated.context;
    env = simulated.env;
    process.stderr.write(`Simulator: ${simulated.sim.url} (Proxmox VE simulator, latency x${simLatency ?? 0.1})\n`);
  }
  const release = holdSignals();
  try {
    const view = options.dryRun ? undefined : new ProgressView(planManifest(manifest).create_order);
    const result = await runManifest(verb, {
      manifest,
      context,
      stateDir: paths.stateDir,
      workDir: paths.workDir,
      env,
      dryRun: options.dryRun,
      maxConcurrency,
      onError,
      signal: interruptSignal(),
      onProgress: view?.update,
      log: view?.log ?? ((line) => process.stderr.write(`${line}\n`)),
      command: `strata ${command.parent?.name()} ${verb} ${manifest.name}${context ? ` -s ${context.stack}` : ''}`,
      tofuBinary: env.STRATA_TOFU_BINARY,
      simulated: simulated !== undefined,
    });
    let reportPath: string | undefined;
    let reports: { json: string; md: string } | undefined;
    if (verb === 'test' && !options.dryRun) {
      reports = await writeReports(options.reportDir ?? paths.reportDir, result);
      reportPath = reports.md;
    }
    if (options.jsonOutput) {
      process.stdout.write(render(reports ? { ...result, report: reports } : result, 'json'));
    } else if (options.dryRun) {
      process.stdout.write(`${(result.plan ?? []).join('\n')}\n`);
    } else {
      process.stdout.write(summary(result, reportPath));
    }
    if (!result.success) process.exitCode = 1;
  } finally {
    release();
    await simulated?.sim.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
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
  strata manifest ${verb} nested-pve -s pve-dev --simulator      # against an in-process PVE simulator
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

  manifest
    .command('validate [manifest]')
    .description('Check a manifest: schema, names, parents, cycles, vmids (and presets with -s)')
    .option('-s, --stack <stack>', 'also resolve presets and images against this stack')
    .option('--manifest-file <path>', 'a manifest file instead of a name')
    .option('--format <format>', 'text, json or yaml', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  strata manifest validate nested-pve\n  strata manifest validate --manifest-file ./lab.yaml -s pve-dev\n',
    )
    .action(async (name: string | undefined, options: CommonOptions, command: Command) => {
      const format = parseFormat(options.format, ['text', 'json', 'yaml']);
      const { resolveNodes } = await operator();
      const loaded = await load(name, options, command);
      if (loaded.context) resolveNodes(loaded.manifest, loaded.context);
      const count = loaded.manifest.nodes.length;
      const data = { valid: true, name: loaded.manifest.name, nodes: count, file: loaded.manifest.file };
      if ((format as string) === 'text') {
        process.stdout.write(`Manifest '${loaded.manifest.name}' is valid (${count} node${count === 1 ? '' : 's'})\n`);
      } else process.stdout.write(render(data, format));
    });

  manifest
    .command('plan [manifest]')
    .description('Show the create order (parents first), the destroy order and the levels that run together')
    .option('-s, --stack <stack>', 'resolve presets against this stack')
    .option('--manifest-file <path>', 'a manifest file instead of a name')
    .option('--format <format>', 'text, json or yaml', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  strata manifest plan nested-pve\n  strata manifest plan nested-pve --format json\n',
    )
    .action(async (name: string | undefined, options: CommonOptions, command: Command) => {
      const format = parseFormat(options.format, ['text', 'json', 'yaml']);
      const { resolveNodes, planManifest } = await operator();
      const loaded = await load(name, options, command);
      if (loaded.context) resolveNodes(loaded.manifest, loaded.context);
      const plan = planManifest(loaded.manifest);
      if ((format as string) !== 'text') {
        process.stdout.write(render(plan, format));
        return;
      }
      const lines = [
        `Manifest '${loaded.manifest.name}' (${loaded.manifest.nodes.length} nodes)`,
        'Levels (nodes in a level may run together):',
      ];
      plan.levels.forEach((level, i) => {
        lines.push(`  ${i}: ${level.join(', ')}`);
      });
      lines.push(`Create order:  ${plan.create_order.join(', ')}`, `Destroy order: ${plan.destroy_order.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  for (const [verb, description] of [
    ['create', "Create the manifest's nodes (parents first, siblings in parallel); resumes an interrupted run"],
    ['destroy', "Destroy the manifest's nodes (children first), from the state or from the Proxmox API"],
    ['test', 'Create, verify (guest agent IP and TCP port), destroy; writes reports/<time>.<passed|failed>.{md,json}'],
  ] as Array<[Verb, string]>) {
    manifest
      .command(`${verb} [manifest]`)
      .description(description)
      .option('-s, --stack <stack>', 'the stack to run against')
      .option('--manifest-file <path>', 'a manifest file instead of a name')
      .option('--dry-run', 'print what would be done (and write tofu modules), change nothing')
      .option('--json-output', 'print the result as JSON on stdout (progress stays on stderr)')
      .option('-y, --yes', 'do not ask before destroying')
      .option('--max-concurrency <n>', 'nodes created at the same time (default: settings.max_concurrency or 4)')
      .option('--on-error <mode>', 'stop, rollback or continue (default: settings.on_error)')
      .option('--simulator', 'run against an in-process Proxmox VE simulator seeded from the stack')
      .option('--sim-latency <scale>', 'simulator latency scale (0 = instant, 1 = realistic; default 0.1)')
      .option('--report-dir <dir>', 'where test reports go (default: reports/ under the base path)')
      .addHelpText('after', RUN_HELP(verb))
      .action((name: string | undefined, options: RunOptions, command: Command) =>
        runVerb(verb, name, options, command),
      );
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
    .action(async (options: CommonOptions & { manifest?: string; simulator?: boolean }, command: Command) => {
      const format = parseFormat(options.format, ['text', 'json', 'yaml']);
      if (!options.stack) throw new UsageError('preflight needs a stack: -s <stack>');
      const { stackContext, loadManifest, manifestsDir, simulateStack, runPreflight } = await operator();
      const globals = command.optsWithGlobals() as { config?: string; basePath?: string };
      const engine = await openStacks(globals);
      let context = await stackContext(engine, options.stack);
      const manifestRef = options.manifest || options.manifestFile;
      const manifest = manifestRef
        ? await loadManifest({ name: options.manifest, file: options.manifestFile }, manifestsDir(engine.config))
        : undefined;
      let env: NodeJS.ProcessEnv = process.env;
      const simulated = options.simulator ? await simulateStack(context, { latencyScale: 0 }) : undefined;
      if (simulated) ({ context, env } = simulated);
      try {
        const result = await runPreflight(context, { manifest, env });
        if ((format as string) !== 'text') process.stdout.write(render(result, format));
        else {
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
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        if (!result.success) process.exitCode = 1;
      } finally {
        await simulated?.sim.close();
      }
    });
}
