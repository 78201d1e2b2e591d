/**
 * What a manifest runs against: a stack's vars (presets, images) and settings (the Proxmox endpoint). A manifest
 * names presets and images only, so the same manifest runs against any stack that defines them.
 */
import { readFileSync } from 'node:fs';
import { StrataError } from '../errors.ts';
import type { PveEndpoint } from '../proxmox/client.ts';
import { globalMasker } from '../util/mask.ts';
import { didYouMean } from '../util/suggest.ts';
import type { Manifest, ManifestNode } from './manifest.ts';
import { type CrossNode, crossNodeSetting } from './provisioners/placement.ts';

export interface StackContext {
  stack: string;
  vars: Record<string, unknown>;
  settings: Record<string, unknown>;
}

/** The Proxmox target of a stack, from `settings.proxmox` (or `vars.proxmox`) and the environment. */
export interface ProxmoxTarget {
  endpoint: PveEndpoint;
  /** PVE node that gets the VMs. */
  node: string;
  /** Storage for cloned disks (default: the template's). */
  storage?: string;
  /** Storage that holds snippets (checked by preflight when cicustom is used). */
  snippetsStorage?: string;
  bridge: string;
  ciuser?: string;
  sshKeys: string[];
  nameserver?: string;
  /** How a template on another node is cloned to this one: auto (default), target or migrate. */
  crossNode: CrossNode;
}

export interface Preset {
  cores?: number;
  memory?: number;
  disk?: number;
}

export interface ImageRef {
  /** Template VM name on the target host. */
  template?: string;
  /**
   * A published image volume (`local:iso/debian-12.img`). The proxmox-api provisioner clones templates, so such an
   * image is expected as a template named after the image key; preflight checks the volume is on the storage.
   */
  volume?: string;
  /** Template VM id on the target host (wins over template). */
  templateVmid?: number;
}

/** A manifest node with its preset and image resolved from the stack. */
export interface ResolvedNode extends ManifestNode {
  cores?: number;
  memory?: number;
  disk?: number;
  imageRef: ImageRef;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `user@realm!name=secret` (bpg's PROXMOX_VE_API_TOKEN format) split into id and secret. */
export function splitToken(token: string): { tokenId: string; tokenSecret: string } {
  const text = token.replace(/^PVEAPIToken=/, '').trim();
  const eq = text.indexOf('=');
  if (eq < 0 || !text.slice(0, eq).includes('!')) {
    throw new StrataError('The Proxmox API token must look like user@realm!name=secret', {
      hint: 'Set PROXMOX_VE_API_TOKEN (or STRATA_PVE_TOKEN) to e.g. strata@pve!ci=01234567-89ab-cdef-0123-456789abcdef',
    });
  }
  return { tokenId: text.slice(0, eq), tokenSecret: text.slice(eq + 1) };
}

/**
 * The API endpoint of a stack: URL, token and TLS trust. Precedence: environment (STRATA_PVE_ENDPOINT /
 * PROXMOX_VE_ENDPOINT, STRATA_PVE_TOKEN / PROXMOX_VE_API_TOKEN, STRATA_PVE_FINGERPRINT), then `settings.proxmox`,
 * then `vars.proxmox`.
 */
export function proxmoxEndpoint(context: StackContext, env: NodeJS.ProcessEnv = process.env): PveEndpoint {
  const cfg = proxmoxSettings(context);
  const url = str(env.STRATA_PVE_ENDPOINT) ?? str(env.PROXMOX_VE_ENDPOINT) ?? str(cfg.endpoint);
  const where = `stack '${context.stack}'`;
  if (!url) {
    throw new StrataError(`No Proxmox endpoint for ${where}`, {
      hint: 'Set settings.proxmox.endpoint (e.g. https://pve.lan:8006) in the stack, or PROXMOX_VE_ENDPOINT.',
    });
  }
  const token = str(env.STRATA_PVE_TOKEN) ?? str(env.PROXMOX_VE_API_TOKEN);
  let tokenId = str(cfg.token_id);
  let tokenSecret: string | undefined;
  if (token) ({ tokenId, tokenSecret } = splitToken(token));
  else {
    const secretEnv = str(cfg.token_secret_env);
    tokenSecret = secretEnv ? str(env[secretEnv]) : undefined;
  }
  if (!tokenId || !tokenSecret) {
    throw new StrataError(`No Proxmox API token for ${where}`, {
      hint: 'Export PROXMOX_VE_API_TOKEN=user@realm!name=secret (or STRATA_PVE_TOKEN); tokens are never read from stack files.',
    });
  }
  globalMasker.add(tokenSecret);
  const caFile = str(cfg.ca_file);
  return {
    url,
    tokenId,
    tokenSecret,
    fingerprint: str(env.STRATA_PVE_FINGERPRINT) ?? str(cfg.fingerprint),
    ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
    insecure: cfg.insecure === true || env.STRATA_PVE_INSECURE === '1',
    timeoutMs: requestTimeout(context),
  };
}

/** `settings.proxmox.timeout_ms`: the per-request timeout, whoever the endpoint is. */
function requestTimeout(context: StackContext): number | undefined {
  const cfg = proxmoxSettings(context);
  return typeof cfg.timeout_ms === 'number' ? cfg.timeout_ms : undefined;
}

/**
 * The target of a stack: where VMs go (node, storage, bridge, cloud-init defaults) and the endpoint that reaches it,
 * the stack's own (proxmoxEndpoint) unless one is handed in.
 */
export function proxmoxTarget(
  context: StackContext,
  env: NodeJS.ProcessEnv = process.env,
  endpoint?: PveEndpoint,
): ProxmoxTarget {
  const cfg = proxmoxSettings(context);
  const reached = endpoint
    ? { ...endpoint, timeoutMs: endpoint.timeoutMs ?? requestTimeout(context) }
    : proxmoxEndpoint(context, env);
  const node = str(cfg.node);
  if (!node) {
    throw new StrataError(`No Proxmox node for stack '${context.stack}'`, {
      hint: 'Set settings.proxmox.node to the PVE node name (pvesh get /nodes).',
    });
  }
  return {
    endpoint: reached,
    node,
    storage: str(cfg.storage),
    snippetsStorage: str(cfg.snippets_storage),
    bridge: str(cfg.bridge) ?? 'vmbr0',
    ciuser: str(cfg.ciuser),
    sshKeys: Array.isArray(cfg.ssh_keys) ? cfg.ssh_keys.map(String) : [],
    nameserver: str(cfg.nameserver),
    crossNode: crossNodeSetting(cfg.cross_node),
  };
}

/**
 * The merged `proxmox` map of a stack: `settings.proxmox` over `vars.proxmox` over the flat catalog vars many
 * homelab stacks already have (proxmox_url, proxmox_node, proxmox_storage, proxmox_bridge, network_nameserver).
 */
export function proxmoxSettings(context: StackContext): Record<string, unknown> {
  const v = context.vars;
  const flat: Record<string, unknown> = {};
  if (str(v.proxmox_url)) flat.endpoint = String(v.proxmox_url).replace(/\/api2\/json\/?$/, '');
  if (str(v.proxmox_node)) flat.node = v.proxmox_node;
  if (str(v.proxmox_storage)) flat.storage = v.proxmox_storage;
  if (str(v.proxmox_bridge)) flat.bridge = v.proxmox_bridge;
  if (str(v.network_nameserver)) flat.nameserver = v.network_nameserver;
  return { ...flat, ...record(v.proxmox), ...record(context.settings.proxmox) };
}

/** Presets from `vars.presets` (a catalog of sizes: cores, memory in MiB, disk in GB). */
export function presetsOf(context: StackContext): Record<string, Preset> {
  return record(context.vars.presets) as Record<string, Preset>;
}

/** Images from `vars.images`: a template name, or `{template: name}` / `{template_vmid: n}`. */
export function imagesOf(context: StackContext): Record<string, ImageRef> {
  const out: Record<string, ImageRef> = {};
  for (const [name, value] of Object.entries(record(context.vars.images))) {
    if (typeof value === 'string') {
      out[name] = /^[A-Za-z][\w.-]*:/.test(value) ? { template: name, volume: value } : { template: value };
    } else {
      const v = record(value);
      out[name] = {
        template: str(v.template) ?? (str(v.volume) ? name : undefined),
        templateVmid: typeof v.template_vmid === 'number' ? v.template_vmid : undefined,
        volume: str(v.volume),
      };
    }
  }
  return out;
}

/** Resolves presets and images of every node; all unknown names are reported at once. */
export function resolveNodes(manifest: Manifest, context: StackContext | undefined): Map<string, ResolvedNode> {
  const presets = context ? presetsOf(context) : {};
  const images = context ? imagesOf(context) : {};
  const problems: string[] = [];
  const hints: string[] = [];
  const out = new Map<string, ResolvedNode>();
  for (const node of manifest.nodes) {
    let preset: Preset = {};
    if (node.preset) {
      const found = presets[node.preset];
      if (!found) {
        problems.push(
          context
            ? `Node '${node.name}': preset '${node.preset}' is not in vars.presets of stack '${context.stack}'`
            : `Node '${node.name}' needs preset '${node.preset}': pass -s <stack> to resolve it`,
        );
        const hint = didYouMean(node.preset, Object.keys(presets));
        if (hint) hints.push(hint);
      } else preset = record(found) as Preset;
    }
    let imageRef: ImageRef = {};
    if (node.image) imageRef = images[node.image] ?? { template: node.image };
    out.set(node.name, {
      ...node,
      cores: node.cores ?? preset.cores,
      memory: node.memory ?? preset.memory,
      disk: node.disk ?? preset.disk,
      imageRef,
    });
  }
  if (problems.length > 0) {
    throw new StrataError(problems[0] + (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''), {
      details: problems.length > 1 ? problems.map((p) => `  - ${p}`).join('\n') : undefined,
      hint:
        hints[0] ??
        (context
          ? `Defined presets: ${Object.keys(presets).join(', ') || '(none)'}; add them under vars.presets in the stack.`
          : undefined),
    });
  }
  return out;
}

/** Does the manifest need a stack to resolve anything (presets)? */
export function needsStack(manifest: Manifest): boolean {
  return manifest.nodes.some((n) => n.preset !== undefined);
}

/** Proxmox VM name of a node: `<manifest>-<node>`, a DNS label so cloud-init can use it as the hostname. */
export function vmName(manifest: string, node: string): string {
  return `${manifest}-${node}`.toLowerCase().slice(0, 63).replace(/-+$/, '');
}

/** Tags on every VM strata creates: `strata` plus one per stack, so a destroy without state finds only its own. */
export function vmTags(stack: string): string[] {
  const stackTag = `strata-${stack.toLowerCase().replace(/[^a-z0-9_.+-]+/g, '-')}`.slice(0, 60);
  return ['strata', stackTag];
}

/** Written into the VM description at clone time: it identifies the VM before any tag is set. */
export function vmMarker(manifest: string, stack: string, node: string): string {
  return `managed-by=strata manifest=${manifest} stack=${stack} node=${node}`;
}
