/**
 * Manifests (schema v2): a forest of Proxmox nodes linked by `parent`. Loading keeps the YAML node ranges so every
 * problem is reported at file:line:col; the graph checks walk parent links iteratively, so a 10,000-deep chain
 * validates in linear time without touching the call-stack limit.
 */

import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import jsyaml from 'js-yaml';
import { type Document, isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { DEFAULT_LIMITS, readFileBounded } from '../data/limits.ts';
import { type SourceLocation, StrataError } from '../errors.ts';
import { codeFrame, didYouMean } from '../util/suggest.ts';
import schema from './manifest.schema.json' with { type: 'json' };
import { validate as validateSchema } from './manifest-validator.generated.mjs';

export type NodeType = 'vm' | 'ct' | 'pve';
export type OnError = 'stop' | 'rollback' | 'continue';
export type ProvisionerName = 'proxmox-api' | 'tofu';
export type ExecutionMode = 'push' | 'pull';

export interface ManifestNode {
  name: string;
  type: NodeType;
  spec?: string;
  preset?: string;
  image?: string;
  vmid?: number;
  disk?: number;
  cores?: number;
  memory?: number;
  parent?: string;
  ip?: string;
  gateway?: string;
  provisioner?: ProvisionerName;
  mode?: ExecutionMode;
}

export interface ManifestTimeouts {
  /** Seconds to wait for one Proxmox task (clone, start, delete). */
  task: number;
  /** Seconds to wait for the guest agent to report an IP. */
  waitIp: number;
  /** Seconds to wait for the verify port in `test`. */
  verify: number;
  /** Seconds to wait for a nested PVE host's API to answer. */
  innerApi: number;
}

export interface ManifestSettings {
  verifySsh: boolean;
  cleanupOnFailure: boolean;
  timeoutBuffer: number;
  onError: OnError;
  provisioner: ProvisionerName;
  verifyPort: number;
  maxConcurrency?: number;
  timeouts: ManifestTimeouts;
}

export interface Manifest {
  schemaVersion: 2;
  name: string;
  description: string;
  pattern: 'flat' | 'tiered';
  defaultMode: ExecutionMode;
  settings: ManifestSettings;
  nodes: ManifestNode[];
  /** File it was read from, when it came from a file. */
  file?: string;
}

/** What `manifest plan --format json` prints. */
export interface ManifestPlan {
  create_order: string[];
  destroy_order: string[];
  levels: string[][];
}

export interface ManifestIssue {
  message: string;
  hint?: string;
  location?: SourceLocation;
}

export const DEFAULT_TIMEOUTS: ManifestTimeouts = { task: 600, waitIp: 300, verify: 60, innerApi: 300 };

/** Every problem found in a manifest; the message is the first, details list them all with a code frame. */
export class ManifestValidationError extends StrataError {
  readonly issues: ManifestIssue[];
  constructor(issues: ManifestIssue[], source?: string) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    const lines: string[] = [];
    if (source !== undefined && first.location?.line !== undefined) {
      lines.push(codeFrame(source, first.location.line, first.location.col));
    }
    if (issues.length > 1) {
      if (lines.length > 0) lines.push('');
      lines.push('All problems:');
      const shown = issues.slice(0, 50);
      for (const issue of shown) lines.push(`  - ${issue.message}${where(issue.location)}`);
      if (issues.length > shown.length) lines.push(`  ... and ${issues.length - shown.length} more`);
    }
    super(`${first.message}${more}`, {
      location: first.location,
      hint: first.hint,
      details: lines.length > 0 ? lines.join('\n') : undefined,
    });
    this.name = 'ManifestValidationError';
    this.issues = issues;
  }
}

function where(location: SourceLocation | undefined): string {
  if (!location?.line) return '';
  return ` (line ${location.line}${location.col ? `:${location.col}` : ''})`;
}

type Path = Array<string | number>;
type Locate = (path: Path, key?: boolean) => SourceLocation | undefined;

const NODE_FIELDS = Object.keys(schema.definitions.node.properties);
const TOP_FIELDS = Object.keys(schema.properties);
const SETTINGS_FIELDS = Object.keys(schema.properties.settings.properties);

/**
 * Parses and validates manifest text (YAML or JSON). Throws ManifestValidationError listing every problem.
 * js-yaml (core schema, as `yaml`'s default) parses it several times faster than the `yaml` package and builds no
 * syntax tree; the located parser runs only when a position is needed: a YAML error (js-yaml failed), a problem to
 * report, or a document with anchors (whose aliases only `yaml` bounds, against a billion laughs).
 */
export function parseManifest(text: string, file = '<manifest>'): Manifest {
  let data: unknown;
  try {
    if (text.includes('&')) return parseLocated(text, file);
    data = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, filename: file });
  } catch (error) {
    if (!(error instanceof jsyaml.YAMLException)) throw error;
    return parseLocated(text, file);
  }
  let located: Locate | undefined;
  const locate: Locate = (path, key) => {
    located ??= locator(text, file);
    return located(path, key);
  };
  return validateManifestData(data, { file, locate, source: text });
}

/** The located parser: YAML errors at file:line:col, and every later problem placed by its YAML node. */
function parseLocated(text: string, file: string): Manifest {
  const { doc, locate } = parseWithPositions(text, file);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    // `yaml` refuses aliases that expand past maxAliasCount (a billion laughs) with a plain ReferenceError.
    throw new ManifestValidationError([
      { message: `Invalid YAML in manifest ${file}: ${(error as Error).message}`, location: { file } },
    ]);
  }
  return validateManifestData(data, { file, locate, source: text });
}

function locator(text: string, file: string): Locate {
  return parseWithPositions(text, file).locate;
}

function parseWithPositions(text: string, file: string): { doc: Document; locate: Locate } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return {
        message: `Invalid YAML in manifest ${file}: ${e.message.split('\n')[0]}`,
        location: { file, line: pos.line, col: pos.col },
      };
    });
    throw new ManifestValidationError(issues, text);
  }
  const locate: Locate = (path, key = false) => {
    let node: unknown = doc.contents;
    let found: YamlNode | undefined = doc.contents ?? undefined;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === segment);
        if (!pair) break;
        const last = i === path.length - 1;
        found = (last && key ? pair.key : (pair.value ?? pair.key)) as YamlNode;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (!item) break;
        found = item as YamlNode;
        node = item;
      } else break;
    }
    const offset = found?.range?.[0];
    if (offset === undefined) return { file };
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, col: pos.col };
  };
  return { doc, locate };
}

/** Validates already-parsed manifest data (e.g. from --manifest-json). */
export function validateManifestData(
  data: unknown,
  options: { file?: string; locate?: Locate; source?: string } = {},
): Manifest {
  const file = options.file ?? '<manifest>';
  const locate: Locate = options.locate ?? (() => ({ file }));
  const issues: ManifestIssue[] = [];
  const fail = (message: string, path: Path, hint?: string, key = false): never => {
    throw new ManifestValidationError([{ message, hint, location: locate(path, key) }], options.source);
  };
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    fail(`Manifest ${file} must be a YAML object (dict)`, []);
  }
  const raw = data as Record<string, unknown>;
  // The fatal checks first, in iac-driver's order and with its messages, so existing tooling keeps matching them.
  if (!('schema_version' in raw)) {
    fail(
      'Manifest missing required field: schema_version. v1 manifests (levels-based) are no longer supported; use schema_version: 2 with nodes[].',
      [],
      'Add `schema_version: 2` at the top.',
    );
  }
  if (raw.schema_version !== 2) {
    fail(
      `Unsupported manifest schema version: ${String(raw.schema_version)}. Supported versions: [2]`,
      ['schema_version'],
      typeof raw.schema_version === 'string' ? 'Write the number 2, not the string "2".' : undefined,
    );
  }
  if (!('name' in raw) || raw.name === null || raw.name === '') fail('Manifest missing required field: name', []);
  if (!('nodes' in raw) || raw.nodes === null) fail('Manifest v2 missing required field: nodes', []);
  if (!Array.isArray(raw.nodes)) fail('Manifest field nodes must be a list of nodes', ['nodes']);
  const rawNodes = raw.nodes as unknown[];
  if (rawNodes.length === 0) fail('Manifest v2 must have at least one node', ['nodes']);
  rawNodes.forEach((n, i) => {
    if (n === null || typeof n !== 'object' || Array.isArray(n)) {
      issues.push({ message: `Node ${i} must be a mapping with name and type`, location: locate(['nodes', i]) });
      return;
    }
    const node = n as Record<string, unknown>;
    if (node.name === undefined || node.name === null || node.name === '') {
      issues.push({ message: `Node ${i} missing required field: name`, location: locate(['nodes', i]) });
    } else if (node.type === undefined || node.type === null) {
      issues.push({
        message: `Node ${i} (${String(node.name)}) missing required field: type`,
        hint: 'type is one of: vm, ct, pve',
        location: locate(['nodes', i]),
      });
    }
  });
  if (!validateSchema(raw)) {
    for (const error of validateSchema.errors ?? []) {
      const issue = schemaIssue(error, raw, locate);
      if (issue && !issues.some((x) => x.message === issue.message)) issues.push(issue);
    }
  }
  const named = rawNodes.every((n) => typeof (n as { name?: unknown } | null)?.name === 'string');
  const manifest = normalise(raw, options.file);
  // Graph problems are reported together with schema problems, as long as every node has a name to refer to.
  if (named) issues.push(...checkGraph(manifest, locate));
  if (issues.length > 0) {
    issues.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0));
    throw new ManifestValidationError(issues, options.source);
  }
  return manifest;
}

function schemaIssue(error: ErrorObject, raw: Record<string, unknown>, locate: Locate): ManifestIssue | undefined {
  const path: Path = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const what = describePath(path, raw);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      // name/type of nodes and the top-level fields are reported by the explicit checks above.
      return undefined;
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const known = path.length === 0 ? TOP_FIELDS : path[0] === 'settings' ? SETTINGS_FIELDS : NODE_FIELDS;
      return {
        message: `Unknown field '${field}' in ${what}`,
        hint: didYouMean(field, known) ?? `Known fields: ${known.filter((k) => k !== '$schema').join(', ')}`,
        location: locate([...path, field], true),
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const value = String(valueAt(raw, path));
      return {
        message: `Unknown ${String(path[path.length - 1])} '${value}' in ${what} (expected one of: ${allowed.join(', ')})`,
        hint: didYouMean(value, allowed),
        location: locate(path),
      };
    }
    case 'const':
      return undefined;
    case 'pattern':
      return {
        message: `Invalid ${String(path[path.length - 1])} '${String(valueAt(raw, path))}' in ${what}`,
        hint:
          path[path.length - 1] === 'ip'
            ? 'Use dhcp or an address in CIDR notation such as 192.0.2.10/24'
            : 'Use lower-case letters, digits and dashes (a DNS label), not starting or ending with a dash',
        location: locate(path),
      };
    default:
      return {
        message: `Invalid ${String(path[path.length - 1] ?? 'manifest')} in ${what}: ${error.message ?? error.keyword}`,
        location: locate(path),
      };
  }
}

function valueAt(raw: unknown, path: Path): unknown {
  let value: unknown = raw;
  for (const segment of path) value = (value as Record<string | number, unknown> | undefined)?.[segment];
  return value;
}

function describePath(path: Path, raw: Record<string, unknown>): string {
  if (path[0] === 'nodes' && typeof path[1] === 'number') {
    const name = (valueAt(raw, ['nodes', path[1], 'name']) as string | undefined) ?? '';
    return name ? `node '${name}'` : `node ${path[1]}`;
  }
  if (path[0] === 'settings') return 'settings';
  return 'the manifest';
}

function normalise(raw: Record<string, unknown>, file?: string): Manifest {
  const settings = (raw.settings ?? {}) as Record<string, unknown>;
  const timeouts = (settings.timeouts ?? {}) as Record<string, number | undefined>;
  const nodes = (raw.nodes as Array<Record<string, unknown>>).map((n) => {
    const node: ManifestNode = { name: String(n.name), type: n.type as NodeType };
    for (const key of ['spec', 'preset', 'image', 'ip', 'gateway'] as const) {
      if (typeof n[key] === 'string') node[key] = n[key] as string;
    }
    for (const key of ['vmid', 'disk', 'cores', 'memory'] as const) {
      if (typeof n[key] === 'number') node[key] = n[key] as number;
    }
    if (typeof n.parent === 'string') node.parent = n.parent;
    if (n.provisioner) node.provisioner = n.provisioner as ProvisionerName;
    const mode = (n.execution as { mode?: ExecutionMode } | undefined)?.mode;
    if (mode) node.mode = mode;
    return node;
  });
  return {
    schemaVersion: 2,
    name: String(raw.name),
    description: typeof raw.description === 'string' ? raw.description : '',
    pattern: (raw.pattern as 'flat' | 'tiered' | undefined) ?? 'flat',
    defaultMode: ((raw.execution as { default_mode?: ExecutionMode } | undefined)?.default_mode ??
      'push') as ExecutionMode,
    settings: {
      verifySsh: (settings.verify_ssh as boolean | undefined) ?? true,
      cleanupOnFailure: (settings.cleanup_on_failure as boolean | undefined) ?? true,
      timeoutBuffer: (settings.timeout_buffer as number | undefined) ?? 60,
      onError: (settings.on_error as OnError | undefined) ?? 'stop',
      provisioner: (settings.provisioner as ProvisionerName | undefined) ?? 'proxmox-api',
      verifyPort: (settings.verify_port as number | undefined) ?? 22,
      maxConcurrency: settings.max_concurrency as number | undefined,
      timeouts: {
        task: timeouts.task ?? DEFAULT_TIMEOUTS.task,
        waitIp: timeouts.wait_ip ?? DEFAULT_TIMEOUTS.waitIp,
        verify: timeouts.verify ?? DEFAULT_TIMEOUTS.verify,
        innerApi: timeouts.inner_api ?? DEFAULT_TIMEOUTS.innerApi,
      },
    },
    nodes,
    file,
  };
}

/**
 * Duplicate names, dangling parents, cycles, vmid collisions and parents that cannot host children.
 * Each node has at most one parent, so a cycle is found by following parent links with a colour per node: O(n).
 */
function checkGraph(manifest: Manifest, locate: Locate): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const index = new Map<string, number>();
  manifest.nodes.forEach((node, i) => {
    if (index.has(node.name)) {
      issues.push({
        message: `Duplicate node name: '${node.name}'`,
        hint: `First defined as node ${index.get(node.name)}; node names must be unique.`,
        location: locate(['nodes', i, 'name']),
      });
    } else index.set(node.name, i);
  });
  const names = [...index.keys()];
  manifest.nodes.forEach((node, i) => {
    if (node.parent === undefined) return;
    const parentIndex = index.get(node.parent);
    if (parentIndex === undefined) {
      issues.push({
        message: `Node '${node.name}' references unknown parent '${node.parent}'`,
        hint: didYouMean(node.parent, names) ?? `Known nodes: ${names.slice(0, 10).join(', ')}`,
        location: locate(['nodes', i, 'parent']),
      });
      return;
    }
    const parent = manifest.nodes[parentIndex];
    if (parent.type !== 'pve' && parent.name !== node.name) {
      issues.push({
        message: `Node '${node.name}' has parent '${parent.name}' of type ${parent.type}; only pve nodes can host children`,
        hint: `Set type: pve on '${parent.name}', or remove parent from '${node.name}'.`,
        location: locate(['nodes', i, 'parent']),
      });
    }
  });
  // 0 = unvisited, 1 = on the current walk, 2 = known to reach a root (or a reported cycle).
  const colour = new Uint8Array(manifest.nodes.length);
  const walk: number[] = [];
  for (let start = 0; start < manifest.nodes.length; start++) {
    let current: number | undefined = start;
    walk.length = 0;
    while (current !== undefined && colour[current] === 0) {
      colour[current] = 1;
      walk.push(current);
      const parent: string | undefined = manifest.nodes[current].parent;
      current = parent === undefined ? undefined : index.get(parent);
    }
    if (current !== undefined && colour[current] === 1) {
      const cycleStart = walk.indexOf(current);
      const members = walk.slice(cycleStart).map((i) => manifest.nodes[i].name);
      const closing = manifest.nodes[current].name;
      issues.push({
        message: `Cycle detected in node graph involving '${closing}'`,
        hint:
          members.length === 1
            ? `'${closing}' is its own parent; remove its parent field.`
            : `The parent links loop (each arrow points to the parent): ${[...members, members[0]].join(' -> ')}. Give one of them no parent.`,
        location: locate(['nodes', current, 'parent']),
      });
    }
    for (const i of walk) colour[i] = 2;
  }
  const byVmid = new Map<number, string>();
  manifest.nodes.forEach((node, i) => {
    if (node.vmid === undefined) return;
    const other = byVmid.get(node.vmid);
    if (other !== undefined) {
      issues.push({
        message: `Duplicate vmid ${node.vmid}: nodes '${other}' and '${node.name}'`,
        hint: 'Give each node its own vmid, or leave vmid out to let Proxmox pick the next free one.',
        location: locate(['nodes', i, 'vmid']),
      });
    } else byVmid.set(node.vmid, node.name);
  });
  return issues;
}

/** Children lists in manifest order, and roots in manifest order. Assumes a validated manifest. */
export function childrenOf(manifest: Manifest): { roots: string[]; children: Map<string, string[]> } {
  const children = new Map<string, string[]>();
  const roots: string[] = [];
  for (const node of manifest.nodes) children.set(node.name, []);
  for (const node of manifest.nodes) {
    if (node.parent === undefined) roots.push(node.name);
    else children.get(node.parent)?.push(node.name);
  }
  return { roots, children };
}

/** Create order (breadth-first from the roots, manifest order among siblings), its reverse, and the levels. */
export function planManifest(manifest: Manifest): ManifestPlan {
  const { roots, children } = childrenOf(manifest);
  const levels: string[][] = [];
  let frontier = roots;
  while (frontier.length > 0) {
    levels.push(frontier);
    const next: string[] = [];
    for (const name of frontier) for (const child of children.get(name) ?? []) next.push(child);
    frontier = next;
  }
  const create = levels.flat();
  return { create_order: create, destroy_order: [...create].reverse(), levels };
}

export interface ManifestRef {
  /** Manifest name, looked up as <manifestsDir>/<name>.yaml (or .yml, .json). */
  name?: string;
  /** A path to a manifest file (wins over name). */
  file?: string;
}

/** Reads a manifest by name from the manifests folder, or from a file. */
export async function loadManifest(ref: ManifestRef, manifestsDir: string): Promise<Manifest> {
  if (ref.file) {
    const path = resolve(ref.file);
    let text: string;
    try {
      text = readFileBounded(path, DEFAULT_LIMITS.maxFileBytes, `manifest ${ref.file}`);
    } catch (error) {
      if (error instanceof StrataError) throw error;
      throw new StrataError(`Manifest file not found: ${ref.file}`, {
        hint: 'Check the path given to --manifest-file.',
      });
    }
    return parseManifest(text, path);
  }
  if (!ref.name)
    throw new StrataError('No manifest given', { hint: 'Pass a manifest name or --manifest-file <path>.' });
  for (const ext of ['.yaml', '.yml', '.json']) {
    const path = join(manifestsDir, `${ref.name}${ext}`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    return parseManifest(text, path);
  }
  const available = await listManifests(manifestsDir);
  throw new StrataError(
    `Manifest '${ref.name}' not found at ${join(manifestsDir, `${ref.name}.yaml`)}. Available: ${available.join(', ') || '(none)'}`,
    { hint: didYouMean(ref.name, available) ?? 'Use --manifest-file <path> for a manifest outside that folder.' },
  );
}

/** Manifest names in a folder, sorted. */
export async function listManifests(manifestsDir: string): Promise<string[]> {
  try {
    const entries = await readdir(manifestsDir);
    return entries
      .filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f)))
      .map((f) => basename(f, extname(f)))
      .sort();
  } catch {
    return [];
  }
}
