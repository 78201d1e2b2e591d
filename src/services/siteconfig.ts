/**
 * iac-driver's `manifest apply|destroy|test|validate -M NAME -H HOST` on strata's operator: the site-config folder
 * gives the manifests, presets and the PVE node (nodes/<host>.yaml, its API token from secrets.yaml); runManifest
 * runs them; the answer is also given in iac-driver's `--json-output` shape.
 */
import { join } from 'node:path';
import { StrataError, UsageError } from '../errors.ts';
import {
  type GuestFile,
  loadManifest,
  type Manifest,
  type ManifestNode,
  type PreflightResult,
  type ProxmoxConnection,
  runPreflight,
  validateManifestData,
} from '../operator/index.ts';
import {
  apiTokenOf,
  checkSiteReferences,
  loadSiteConfig,
  type SiteConfig,
  type SiteHost,
  siteConfigDir,
  siteHost,
  siteStackContext,
} from '../operator/siteconfig.ts';
import { mintProvisioningToken, requireSigningKey } from '../secrets/provisioning-token.ts';
import { globalMasker } from '../util/mask.ts';
import {
  type ConnectionProvider,
  type ManifestEvent,
  type ManifestResult,
  type ManifestSource,
  runManifest,
} from './manifest.ts';

/** Where a pull-mode node finds its server URL and provisioning token (KEY=value lines). */
export const PROVISIONING_ENV = '/etc/homestak/provisioning.env';

export type SiteVerb = 'apply' | 'destroy' | 'test' | 'validate';

export interface SiteManifestRequest {
  verb: SiteVerb;
  /** The site-config folder (default: $HOMESTAK_SITE_CONFIG, else $HOMESTAK_ROOT/config). */
  siteConfig?: string;
  /** -M name, --manifest-file path or --manifest-json text (one of them). */
  manifest: { name?: string; file?: string; json?: string };
  /** -H [user@]host: required by apply, destroy and test. */
  host?: string;
  /** --depth N: only the first N nodes of the manifest's list. */
  depth?: number;
  dryRun?: boolean;
  skipPreflight?: boolean;
  /** --self-addr: the address nodes reach this operator at (instead of the one detected). */
  selfAddr?: string;
  /** The Proxmox endpoint (default: the node's api_endpoint with its token from secrets.yaml). */
  connection?: ProxmoxConnection | ConnectionProvider;
  /** Asked before a destroy; false cancels it. */
  confirmDestroy?: (manifest: Manifest, host: string) => Promise<boolean>;
  /** State under a throw-away folder (for an endpoint that vanishes with the run). */
  scratchState?: boolean;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onEvent?: (event: ManifestEvent) => void;
}

/** iac-driver's `--json-output` document of a manifest verb. */
export interface IacDriverJson {
  verb: 'apply' | 'destroy' | 'test';
  success: boolean;
  duration_seconds: number;
  nodes: Array<{ name: string; status: string; vm_id?: number; ip?: string; duration?: number; error?: string }>;
}

export interface SiteManifestResult {
  result: ManifestResult;
  /** Set for apply, destroy and test. */
  json?: IacDriverJson;
  /** Set when the preflight ran and failed (nothing else ran). */
  preflight?: PreflightResult;
  exitCode: 0 | 1;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** --manifest-json, --manifest-file or -M, cut to --depth, checked against presets/, specs/ and postures/. */
async function siteManifest(site: SiteConfig, request: SiteManifestRequest): Promise<Manifest> {
  const { manifest: ref } = request;
  let manifest: Manifest;
  if (ref.json !== undefined) {
    let data: unknown;
    try {
      data = JSON.parse(ref.json);
    } catch (error) {
      throw new StrataError(`Invalid manifest JSON: ${(error as Error).message}`);
    }
    manifest = validateManifestData(data, { file: '<manifest-json>' });
  } else manifest = await loadManifest({ name: ref.name, file: ref.file }, site.manifestsDir);
  if (request.depth !== undefined) manifest = firstNodes(manifest, request.depth);
  checkSiteReferences(site, manifest);
  return manifest;
}

/**
 * --depth N keeps the first N entries of the node list (iac-driver's meaning, not tree depth). Unlike iac-driver the
 * result is checked again: a kept node whose parent was cut is an error here, not a crash later.
 */
export function firstNodes(manifest: Manifest, depth: number): Manifest {
  if (!Number.isInteger(depth) || depth < 1 || depth >= manifest.nodes.length) return manifest;
  const nodes = manifest.nodes.slice(0, depth);
  const kept = new Set(nodes.map((n) => n.name));
  for (const node of nodes) {
    if (node.parent && !kept.has(node.parent)) {
      throw new StrataError(`Node '${node.name}' references unknown parent '${node.parent}'`, {
        hint: `--depth ${depth} cuts '${node.parent}' off; use a larger --depth or list parents before their children`,
      });
    }
  }
  return { ...manifest, nodes };
}

function requireHost(request: SiteManifestRequest): string {
  if (!request.host) {
    throw new UsageError(
      `manifest ${request.verb} needs -H/--host <host> (a file in nodes/ or hosts/ of the site-config)`,
    );
  }
  return request.host;
}

function checkSelfAddr(selfAddr: string | undefined): void {
  if (selfAddr === undefined) return;
  if (selfAddr.trim() === '' || /^(127\.|localhost$|::1$)/.test(selfAddr)) {
    throw new UsageError(`--self-addr must be a routable address, not '${selfAddr}'`);
  }
}

/** The environment of the run: the node's PVE token from secrets.yaml, and the operator's address for nodes. */
function runEnv(site: SiteConfig, host: SiteHost, request: SiteManifestRequest): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...(request.env ?? process.env) };
  const token = apiTokenOf(site, host);
  if (token && !request.connection) env.STRATA_PVE_TOKEN = token;
  if (!token && !request.connection) {
    throw new StrataError(
      `No API token for node '${host.name}': secrets.api_tokens.${String(host.data.api_token ?? host.name)} is missing`,
      {
        location: { file: join(site.dir, 'secrets.yaml') },
        hint: 'add it to secrets.yaml (api_tokens: { <node>: "user@realm!name=secret" }), or run pve-setup on the node',
      },
    );
  }
  if (request.selfAddr) env.HOMESTAK_SELF_ADDR = request.selfAddr;
  return env;
}

/** Runs one of iac-driver's manifest verbs against a site-config. Throws for what prevents a run. */
export async function runSiteManifest(request: SiteManifestRequest): Promise<SiteManifestResult> {
  checkSelfAddr(request.selfAddr);
  const env = request.env ?? process.env;
  const dir = siteConfigDir(request.siteConfig, env);
  const site = await loadSiteConfig(dir, env);
  const root = env.HOMESTAK_ROOT || env.HOME || dir;
  const host = request.verb === 'validate' ? undefined : siteHost(site, requireHost(request));
  const source: ManifestSource = {
    manifest: () => siteManifest(site, request),
    context: async (manifest) => (host ? siteStackContext(site, host, manifest) : undefined),
    basePath: root,
  };
  if (request.verb === 'validate') {
    const result = await runManifest({ verb: 'validate', manifest: {}, source });
    return { result, exitCode: 0 };
  }
  const verb = request.verb === 'apply' ? 'create' : request.verb;
  const target = host as SiteHost;
  const runEnvironment = runEnv(site, target, request);
  const confirm = request.confirmDestroy;
  if (!request.skipPreflight && !request.dryRun) {
    const failed = await preflight(site, target, request, runEnvironment);
    if (failed) return failed;
  }
  const result = await runManifest({
    verb,
    manifest: {},
    source,
    connection: request.connection,
    env: runEnvironment,
    signal: request.signal,
    onEvent: request.onEvent,
    options: {
      dryRun: request.dryRun,
      stateDir: join(root, '.state', 'strata'),
      workDir: join(root, '.state', 'strata'),
      reportDir: join(root, 'logs'),
      scratchState: request.scratchState,
      confirmDestroy: confirm ? (manifest) => confirm(manifest, target.name) : undefined,
      command: `strata manifest ${request.verb} -H ${target.name}`,
      guestFiles: verb === 'destroy' ? undefined : await pullHandover(site, request, runEnvironment),
    },
  });
  return { result, json: iacDriverJson(request.verb, result), exitCode: result.exitCode };
}

/** Where nodes reach the server: $HOMESTAK_SERVER, else site.yaml defaults.server_url; --self-addr sets its host. */
function serverUrl(site: SiteConfig, env: NodeJS.ProcessEnv): string | undefined {
  const configured =
    env.HOMESTAK_SERVER || (typeof site.defaults.server_url === 'string' ? site.defaults.server_url : '');
  if (!configured) return undefined;
  const url = new URL(configured);
  if (env.HOMESTAK_SELF_ADDR) url.hostname = env.HOMESTAK_SELF_ADDR;
  return url.toString().replace(/\/$/, '');
}

/**
 * Pull mode (the node's execution.mode, else the manifest's default_mode) and nodes with a spec: each such node is
 * handed /etc/homestak/provisioning.env with the server URL and a provisioning token minted as iac-driver mints it
 * (n = node name, s = its spec, or `config` without one), so it runs `strata config fetch && strata config apply`.
 */
async function pullHandover(
  site: SiteConfig,
  request: SiteManifestRequest,
  env: NodeJS.ProcessEnv,
): Promise<((node: ManifestNode) => GuestFile[]) | undefined> {
  const manifest = await siteManifest(site, request);
  const handedOver = (node: ManifestNode) => (node.mode ?? manifest.defaultMode) === 'pull' || node.spec !== undefined;
  if (!manifest.nodes.some(handedOver)) return undefined;
  const server = serverUrl(site, env);
  if (!server) {
    throw new StrataError(
      'pull-mode nodes need the server URL: set defaults.server_url in site.yaml (or HOMESTAK_SERVER)',
      {
        location: { file: join(site.dir, 'site.yaml') },
      },
    );
  }
  const key = requireSigningKey(site.secrets);
  return (node) => {
    if (!handedOver(node)) return [];
    const token = mintProvisioningToken(key, node.name, node.spec ?? 'config');
    globalMasker.add(token);
    return [{ path: PROVISIONING_ENV, content: `HOMESTAK_SERVER=${server}\nHOMESTAK_TOKEN=${token}\n` }];
  };
}

/** The API checks iac-driver runs first (skipped by --skip-preflight and --dry-run); a failure stops the run. */
async function preflight(
  site: SiteConfig,
  host: SiteHost,
  request: SiteManifestRequest,
  env: NodeJS.ProcessEnv,
): Promise<SiteManifestResult | undefined> {
  // A provider (the in-process simulator) is opened by the run itself: nothing to check before.
  if (typeof request.connection === 'function') return undefined;
  const checks = await runPreflight(siteStackContext(site, host), { env, connection: request.connection });
  if (checks.success) return undefined;
  const verb = request.verb as 'apply' | 'destroy' | 'test';
  const result: ManifestResult = {
    verb: verb === 'apply' ? 'create' : verb,
    manifest: { name: request.manifest.name ?? request.manifest.file ?? '<manifest-json>', nodes: 0 },
    stack: host.name,
    status: 'failed',
    exitCode: 1,
    nodes: [],
  };
  return {
    result,
    preflight: checks,
    json: { verb, success: false, duration_seconds: 0, nodes: [] },
    exitCode: 1,
  };
}

export function iacDriverJson(verb: SiteVerb, result: ManifestResult): IacDriverJson {
  const run = result.run;
  return {
    verb: verb === 'validate' ? 'apply' : verb,
    success: result.exitCode === 0,
    duration_seconds: round2(run?.duration_seconds ?? 0),
    nodes: result.nodes.map((n) => {
      const node: IacDriverJson['nodes'][number] = { name: n.name, status: n.status };
      if (n.vm_id !== undefined) node.vm_id = n.vm_id;
      if (n.ip) node.ip = n.ip;
      if (n.duration !== undefined) node.duration = round2(n.duration);
      if (n.error) node.error = n.error;
      return node;
    }),
  };
}
