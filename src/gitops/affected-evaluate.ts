/**
 * `describe affected`, one side: evaluates top-level manifests of one tree into per-instance summaries and
 * comparable sections, and keeps the closure cache (manifest -> hashes of every file merged into it).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { escapePath } from 'tinyglobby';
import type { StrataConfig } from '../config/types.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { type Dependency, dependenciesOf } from '../stacks/dependencies.ts';
import { type EngineOptions, StackEngine } from '../stacks/engine.ts';
import { writeFileAtomicSync } from '../util/fs.ts';

/** Sections compared in this order after metadata/module/component (Atmos's default `describe.affected.sections`). */
export const SECTIONS = [
  'vars',
  'env',
  'providers',
  'required_providers',
  'required_version',
  'generate',
  'backend',
  'backend_type',
  'remote_state_backend',
  'remote_state_backend_type',
  'auth',
  'command',
  'dependencies',
  'source',
  'provision',
];
export const CONTEXT_KEYS = ['namespace', 'tenant', 'environment', 'stage'] as const;
const CACHE_VERSION = 1;

/** What is kept per instance: enough for folder/module matching, dependents and output without re-evaluating. */
export interface Summary {
  key: string;
  kind: string;
  name: string;
  stack: string;
  /** Repository-relative component folder. */
  componentPath: string;
  abstract: boolean;
  enabled: boolean;
  locked: boolean;
  deps: Dependency[];
  files: string[];
  folders: string[];
  settings: PlainMap;
  context: Record<string, string>;
}

export interface ManifestEntry {
  /** Repository-relative path -> content hash of every file merged into the manifest. */
  closure: Record<string, string>;
  instances: Summary[];
}

export interface Evaluated {
  manifests: Map<string, ManifestEntry>;
  /** Canonical JSON of each compared section, per instance key. */
  sections: Map<string, Record<string, string>>;
}

export interface Side {
  root: string;
  config: StrataConfig;
  engineOptions: EngineOptions & { cwd: string };
}

/** JSON with sorted keys: equal data gives equal text whatever the key order in the files. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const map = value as Record<string, unknown>;
    return `{${Object.keys(map)
      .sort()
      .filter((k) => map[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(map[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const instanceKey = (kind: string, stack: string, name: string) => `${kind}\u0000${stack}\u0000${name}`;
export const toPosix = (p: string) => p.split('\\').join('/');

export function hashFile(path: string): string {
  return createHash('sha1').update(readFileSync(path)).digest('hex');
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function summarize(instance: ComponentInstance, root: string): Summary {
  const d = instance.description;
  const settings = isPlainMap(d.settings) ? d.settings : {};
  const dependencies = isPlainMap(d.dependencies) ? d.dependencies : {};
  const files = stringList(dependencies.files);
  const folders = stringList(dependencies.folders);
  const legacy = isPlainMap(settings.depends_on)
    ? Object.values(settings.depends_on)
    : Array.isArray(settings.depends_on)
      ? settings.depends_on
      : [];
  for (const entry of legacy) {
    if (!isPlainMap(entry)) continue;
    if (typeof entry.file === 'string') files.push(entry.file);
    if (typeof entry.folder === 'string') folders.push(entry.folder);
  }
  const vars = isPlainMap(d.vars) ? d.vars : {};
  const context: Record<string, string> = {};
  for (const k of CONTEXT_KEYS) if (vars[k] !== undefined) context[k] = String(vars[k]);
  return {
    key: instanceKey(instance.kind, instance.stack, instance.name),
    kind: instance.kind,
    name: instance.name,
    stack: instance.stack,
    componentPath: toPosix(relative(root, instance.componentDir)),
    abstract: instance.abstract,
    enabled: instance.enabled,
    locked: instance.locked,
    deps: dependenciesOf(instance),
    files,
    folders,
    settings: settings as PlainMap,
    context,
  };
}

function sectionsOf(instance: ComponentInstance): Record<string, string> {
  const d = instance.description as Record<string, unknown>;
  const out: Record<string, string> = { metadata: canonicalJson(d.metadata), settings: canonicalJson(d.settings) };
  for (const s of SECTIONS) out[s] = canonicalJson(d[s]);
  return out;
}

/** Evaluates some (or all) top-level manifests of one tree. */
export async function evaluate(side: Side, manifests: string[] | 'all', hashes: FileHasher): Promise<Evaluated> {
  const { config, root } = side;
  const stacksBase = config.stacks.basePath;
  let scoped = config;
  if (manifests !== 'all') {
    const included = manifests.map((m) => escapePath(toPosix(relative(stacksBase, join(root, m)))));
    if (included.length === 0) return { manifests: new Map(), sections: new Map() };
    scoped = { ...config, stacks: { ...config.stacks, includedPaths: included, excludedPaths: [] } };
  }
  const engine = new StackEngine(scoped, side.engineOptions);
  const byKey = new Map<string, { rel: string; entry: ManifestEntry }>();
  for (const m of engine.manifests()) {
    const closure: Record<string, string> = {};
    for (const file of [m.path, ...m.files.map((f) => f.path)]) {
      const rel = toPosix(relative(root, file));
      closure[rel] = hashes.hash(root, rel);
    }
    byKey.set(m.key, { rel: toPosix(relative(root, m.path)), entry: { closure, instances: [] } });
  }
  const sections = new Map<string, Record<string, string>>();
  for (const instance of await engine.instances()) {
    const owner = byKey.get(String(instance.description.atmos_manifest));
    // Abstract instances are never reported, compared or depended on: keep them out of the cache.
    if (instance.abstract) continue;
    const summary = summarize(instance, root);
    owner?.entry.instances.push(summary);
    sections.set(summary.key, sectionsOf(instance));
  }
  return { manifests: new Map([...byKey.values()].map((v) => [v.rel, v.entry])), sections };
}

/** Content hashes per tree, each file read at most once. */
export class FileHasher {
  readonly #memo = new Map<string, string>();
  hash(root: string, rel: string): string {
    const path = join(root, rel);
    let h = this.#memo.get(path);
    if (h === undefined) {
      h = existsSync(path) ? hashFile(path) : '';
      this.#memo.set(path, h);
    }
    return h;
  }
}

interface CacheFile {
  version: number;
  key: string;
  manifests: Record<string, ManifestEntry>;
}

export function cacheKey(side: Side, prefix: string): string {
  const h = createHash('sha1').update(`${CACHE_VERSION}\n${prefix}\n`);
  for (const f of side.config.configFiles) h.update(readFileSync(f));
  h.update(canonicalJson(side.config.stacks));
  // What is evaluated changes the sections compared, so each choice of --process-*/--skip has its own cache.
  const { processTemplates, processFunctions, skipFunctions } = side.engineOptions;
  h.update(JSON.stringify([processTemplates, processFunctions, skipFunctions]));
  return h.digest('hex');
}

export function readCache(path: string, key: string): Record<string, ManifestEntry> {
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
    if (data.version === CACHE_VERSION && data.key === key) return data.manifests;
  } catch {
    // No cache yet, or an unreadable one: start over.
  }
  return {};
}

export function writeCache(path: string, key: string, manifests: Record<string, ManifestEntry>): void {
  writeFileAtomicSync(path, JSON.stringify({ version: CACHE_VERSION, key, manifests } satisfies CacheFile));
}

export function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}
