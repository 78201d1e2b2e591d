/**
 * runManifest: the Proxmox operator as a typed service. It validates, plans, creates, tests or destroys a manifest
 * against a stack. The Proxmox endpoint is a capability handed in (by default the stack's own: settings.proxmox and
 * the PROXMOX_VE_* environment), so a program decides whether it is a real host or a simulator. Scratch state and
 * test reports are handled here; progress goes through `onEvent`, never to a terminal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestsDir } from '../config/index.ts';
import { UsageError } from '../errors.ts';
import type { Diagram } from '../graph/render.ts';
import { resolveNodes } from '../operator/context.ts';
import type {
  Manifest,
  ManifestPlan,
  ManifestRef,
  NodeReport,
  OnError,
  OperatorOptions,
  ProgressEvent,
  ProxmoxConnection,
  ReportFormat,
  RunResult,
  StackContext,
  Verb,
} from '../operator/index.ts';
import { loadManifest, planManifest } from '../operator/manifest.ts';
import { manifestDiagram } from '../operator/report-html.ts';

// validate and plan of a manifest file need none of the operator's run machinery (the Proxmox client, tofu, the
// process runner) nor the stack engine: those are loaded when a verb uses them, which keeps such a run's start-up
// close to a bare parse of the file.
const operatorModule = () => import('../operator/index.ts');
const engineModule = () => import('./engine.ts');

export type {
  NestedLocator,
  NodeReport,
  PortProbe,
  ProxmoxConnection,
  ReportFormat,
  RunResult,
  StackContext,
} from '../operator/index.ts';
/** Nested-host locators for a connection: https://<guest ip>:8006 on real hosts, the simulator's directory. */
export { addressLocator, simulatorLocator } from '../operator/nested.ts';

export type ManifestVerb = 'validate' | 'plan' | Verb;

/** Opens the endpoint for the resolved stack, e.g. a simulator seeded from the stack's images. */
export type ConnectionProvider = (context: StackContext) => Promise<ProxmoxConnection>;

export interface ManifestRunOptions {
  /** Plan only: nothing is created or destroyed (tofu modules are written). */
  dryRun?: boolean;
  /** Overrides the manifest's settings.on_error. */
  onError?: OnError;
  /** Nodes created at the same time (default: settings.max_concurrency or 4). */
  maxConcurrency?: number;
  /**
   * Continue from the saved execution state (default). false: start a new one; VMs already on the hosts are still
   * found by name and marker, and adopted.
   */
  resume?: boolean;
  /** Execution state and locks (default: <base path>/.strata/state). */
  stateDir?: string;
  /** Generated tofu modules (default: <base path>/.strata). */
  workDir?: string;
  /** State and modules in a throw-away folder removed afterwards: for endpoints that vanish with the run. */
  scratchState?: boolean;
  /** Reports `test` writes (default: json and md; [] for none). */
  reportFormats?: ReportFormat[];
  /** Where reports go (default: <base path>/reports). */
  reportDir?: string;
  /** Poll interval for tasks, the guest agent and nested APIs. */
  pollMs?: number;
  /** tofu or terraform, for the tofu provisioner. */
  tofuBinary?: string;
  /** Recorded in the lock file (default: the equivalent strata command). */
  command?: string;
  /** Files handed to each node through its guest agent once it answers (pull-mode tokens). */
  guestFiles?: OperatorOptions['guestFiles'];
  /** Asked before a destroy that changes something; false cancels it. */
  confirmDestroy?: (manifest: Manifest, stack: string) => Promise<boolean>;
}

export interface RunManifestRequest {
  verb: ManifestVerb;
  /** A manifest name (looked up in operator.manifests_path) or a file. */
  manifest: ManifestRef;
  /** The stack: endpoint, presets, images. Needed by create/test/destroy; validate/plan resolve presets with it. */
  stack?: string;
  /** The project, as --config and --base-path (default: found from the current folder). */
  project?: { config?: string; basePath?: string };
  /**
   * The Proxmox endpoint (default: the stack's own). A provider is called with the resolved stack and its connection
   * closed after the run; a connection handed in as is stays open (the caller's).
   */
  connection?: ProxmoxConnection | ConnectionProvider;
  options?: ManifestRunOptions;
  /** Environment for tokens and endpoint overrides (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Manifests and their context from elsewhere than the stacks (an iac-driver site-config); no project is read. */
  source?: ManifestSource;
  /** Aborting it interrupts the run cleanly (state saved, lock released). */
  signal?: AbortSignal;
  onEvent?: (event: ManifestEvent) => void;
}

export type ManifestEvent =
  /** The operator is about to run: the nodes in create order. */
  | { type: 'start'; verb: Verb; manifest: string; stack?: string; nodes: string[]; dryRun: boolean }
  /** A node changed state. */
  | { type: 'node'; progress: ProgressEvent }
  /** A message for people (an adopted VM, a node removed with its host). */
  | { type: 'log'; line: string };

export interface ManifestResult {
  verb: ManifestVerb;
  manifest: { name: string; file?: string; nodes: number };
  stack?: string;
  status: 'passed' | 'failed';
  exitCode: 0 | 1;
  /** Nodes in create order (all pending for validate, plan and dry runs). */
  nodes: NodeReport[];
  /** plan: create and destroy orders and the levels that run together. */
  order?: ManifestPlan;
  /** plan: the nodes under their parents, for `--format mermaid|dot`. */
  diagram?: Diagram;
  /** create, test, destroy: the run as the seed's JSON (phases, context, error; the DryRunPlan of a dry run). */
  run?: RunResult;
  /** test: the reports written, by format. */
  reports?: Partial<Record<ReportFormat, string>>;
}

export interface ManifestSource {
  manifest(ref: ManifestRef): Promise<Manifest>;
  context(manifest: Manifest): Promise<StackContext | undefined>;
  /** Where state, modules and reports go by default. */
  basePath: string;
}

interface Loaded {
  manifest: Manifest;
  context?: StackContext;
  basePath: string;
}

/** The manifest and, with a stack, its context; a manifest file without a stack needs no project at all. */
async function load(request: RunManifestRequest): Promise<Loaded> {
  const { source } = request;
  if (source) {
    const manifest = await source.manifest(request.manifest);
    return { manifest, context: await source.context(manifest), basePath: source.basePath };
  }
  const needEngine = request.stack !== undefined || !request.manifest.file;
  const engine = needEngine
    ? await (await engineModule()).openEngine({
        configPath: request.project?.config,
        basePath: request.project?.basePath,
      })
    : undefined;
  const manifest = await loadManifest(request.manifest, engine ? manifestsDir(engine.config) : process.cwd());
  const context =
    engine && request.stack ? await (await operatorModule()).stackContext(engine, request.stack) : undefined;
  return { manifest, context, basePath: engine?.config.basePath ?? process.cwd() };
}

function pending(manifest: Manifest): NodeReport[] {
  return planManifest(manifest).create_order.map((name) => ({ name, status: 'pending' }));
}

function summaryOf(loaded: Loaded, verb: ManifestVerb, success: boolean) {
  const { manifest, context } = loaded;
  return {
    verb,
    manifest: { name: manifest.name, file: manifest.file, nodes: manifest.nodes.length },
    stack: context?.stack,
    status: success ? ('passed' as const) : ('failed' as const),
    exitCode: success ? (0 as const) : (1 as const),
  };
}

/** Runs one verb of a manifest. Throws for what prevents a run (unknown manifest or stack, invalid manifest). */
export async function runManifest(request: RunManifestRequest): Promise<ManifestResult> {
  const loaded = await load(request);
  const { verb } = request;
  if (verb === 'validate' || verb === 'plan') {
    if (loaded.context) resolveNodes(loaded.manifest, loaded.context);
    const result: ManifestResult = { ...summaryOf(loaded, verb, true), nodes: pending(loaded.manifest) };
    if (verb === 'plan') {
      result.order = planManifest(loaded.manifest);
      result.diagram = manifestDiagram(loaded.manifest);
    }
    return result;
  }
  return operate(request, verb, loaded);
}

/** The connection for this run; one opened by a provider is this run's to close, one handed in stays the caller's. */
async function openConnection(
  connection: RunManifestRequest['connection'],
  context: StackContext | undefined,
): Promise<{ connection?: ProxmoxConnection; owned: boolean }> {
  if (!connection || !context) return { owned: false };
  if (typeof connection === 'function') return { connection: await connection(context), owned: true };
  return { connection, owned: false };
}

async function operate(request: RunManifestRequest, verb: Verb, loaded: Loaded): Promise<ManifestResult> {
  const { manifest, context } = loaded;
  const options = request.options ?? {};
  const { needsStack, operatorPaths, writeReports } = await operatorModule();
  if (!context && !(options.dryRun && !needsStack(manifest))) {
    throw new UsageError(`manifest ${verb} needs a stack: -s <stack>`, {
      hint: 'The stack gives the Proxmox endpoint (settings.proxmox or vars.proxmox) and the presets and images (vars).',
    });
  }
  if (verb === 'destroy' && !options.dryRun && context && options.confirmDestroy) {
    if (!(await options.confirmDestroy(manifest, context.stack))) throw new UsageError('destroy cancelled');
  }
  const paths = operatorPaths(loaded.basePath);
  // Scratch state: an endpoint that vanishes with the run must not leave state that mixes with a real host's.
  const scratch = options.scratchState ? await mkdtemp(join(tmpdir(), 'strata-sim-state-')) : undefined;
  let opened: { connection?: ProxmoxConnection; owned: boolean } = { owned: false };
  try {
    opened = await openConnection(request.connection, context);
    const { connection } = opened;
    const run = await runOperatorFor(request, verb, loaded, connection, {
      stateDir: options.stateDir ?? (scratch ? join(scratch, 'state') : paths.stateDir),
      workDir: options.workDir ?? scratch ?? paths.workDir,
    });
    const result: ManifestResult = { ...summaryOf(loaded, verb, run.success), nodes: run.nodes, run };
    const formats = options.reportFormats ?? ['json', 'md'];
    if (verb === 'test' && !options.dryRun && formats.length > 0) {
      const dir = options.reportDir ?? paths.reportDir;
      result.reports = await writeReports(dir, run, new Date(), formats, manifest);
    }
    return result;
  } finally {
    if (opened.owned) await opened.connection?.close?.();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

async function runOperatorFor(
  request: RunManifestRequest,
  verb: Verb,
  loaded: Loaded,
  connection: ProxmoxConnection | undefined,
  folders: { stateDir: string; workDir: string },
): Promise<RunResult> {
  const { manifest, context } = loaded;
  const options = request.options ?? {};
  const emit = request.onEvent ?? (() => undefined);
  emit({
    type: 'start',
    verb,
    manifest: manifest.name,
    stack: context?.stack,
    nodes: planManifest(manifest).create_order,
    dryRun: options.dryRun === true,
  });
  const env = request.env ?? process.env;
  const { runOperator } = await operatorModule();
  return runOperator(verb, {
    manifest,
    context,
    connection,
    ...folders,
    env,
    dryRun: options.dryRun,
    maxConcurrency: options.maxConcurrency,
    onError: options.onError,
    resume: options.resume,
    pollMs: options.pollMs,
    signal: request.signal,
    onProgress: (progress) => emit({ type: 'node', progress }),
    log: (line) => emit({ type: 'log', line }),
    command: options.command ?? `strata manifest ${verb} ${manifest.name}${context ? ` -s ${context.stack}` : ''}`,
    tofuBinary: options.tofuBinary ?? env.STRATA_TOFU_BINARY,
    guestFiles: options.guestFiles,
  });
}
