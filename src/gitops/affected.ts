/**
 * `describe affected`: which component instances change between a base commit and HEAD, and why.
 *
 * Semantics follow Atmos (notes/atmos-reference.md §2.8) with three deliberate differences: merged sections are
 * compared as data (reordering or reformatting a file changes nothing), HEAD is the HEAD commit unless
 * `includeUncommitted` (then the working tree, for stacks and component code alike), and only the stack manifests
 * whose import closure contains a changed file are processed, using a cache of closures keyed by file content hash
 * kept in the git directory. A change to the configuration file, or an added/deleted imported file (a glob import
 * may pick it up), processes every manifest.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { escapePath } from 'tinyglobby';
import { loadConfig } from '../config/index.ts';
import type { StrataConfig } from '../config/types.ts';
import { StrataError } from '../errors.ts';
import type { DependentItem } from '../stacks/commands.ts';
import { type Dependency, dependenciesOf, isPlainMap, type PlainMap, StackEngine } from '../stacks/index.ts';
import { findStackManifests, STACK_EXTENSIONS } from '../stacks/manifests.ts';
import type { ComponentInstance } from '../stacks/types.ts';
import {
  type Checkout,
  defaultBranch,
  extractFiles,
  type FileChanges,
  fileChanges,
  headCommit,
  isDirty,
  mergeBase,
  repoInfo,
  resolveCommit,
  temporaryWorktree,
} from './git.ts';
import { ModuleResolver } from './modules.ts';

export interface AffectedOptions {
  cwd?: string;
  configPath?: string;
  basePath?: string;
  env?: NodeJS.ProcessEnv;
  /** Base git ref (branch, tag); default: the merge-base of HEAD and the default branch. */
  ref?: string;
  /** Base commit SHA (wins over ref). */
  sha?: string;
  /** An already checked-out base tree (another clone or a copy) instead of a commit. */
  repoPath?: string;
  includeDependents?: boolean;
  includeSettings?: boolean;
  excludeLocked?: boolean;
  /** Compare the working tree (uncommitted and untracked files) instead of the HEAD commit. */
  includeUncommitted?: boolean;
  /** Only items in this stack. */
  stack?: string;
  /** Use and refresh the closure cache in the git directory (default true). */
  cache?: boolean;
}

export interface DependentNode extends DependentItem {
  dependents: DependentNode[];
  included_in_dependents: boolean;
}

export interface AffectedItem {
  component: string;
  component_type: string;
  component_path: string;
  stack: string;
  stack_slug: string;
  /** The first reason. */
  affected: string;
  /** Every reason, in Atmos's order. */
  affected_all: string[];
  file?: string;
  folder?: string;
  dependents?: DependentNode[];
  included_in_dependents?: boolean;
  settings?: PlainMap;
  deleted?: boolean;
  deletion_type?: 'component' | 'stack';
}

export interface AffectedReport {
  base: string;
  head: string;
  changedFiles: string[];
  items: AffectedItem[];
  /** Manifests processed on each side (the rest came from the cache or were untouched). */
  processed: { head: number; base: number; full: boolean };
}

/** Sections compared in this order after metadata/module/component (Atmos's default `describe.affected.sections`). */
const SECTIONS = [
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
const CONTEXT_KEYS = ['namespace', 'tenant', 'environment', 'stage'] as const;
const CACHE_VERSION = 1;

/** What is kept per instance: enough for folder/module matching, dependents and output without re-evaluating. */
interface Summary {
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

interface ManifestEntry {
  /** Repository-relative path -> content hash of every file merged into the manifest. */
  closure: Record<string, string>;
  instances: Summary[];
}

interface Evaluated {
  manifests: Map<string, ManifestEntry>;
  /** Canonical JSON of each compared section, per instance key. */
  sections: Map<string, Record<string, string>>;
}

interface Side {
  root: string;
  config: StrataConfig;
  engineOptions: { cwd: string; configPath?: string; basePath?: string; env?: NodeJS.ProcessEnv };
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
const toPosix = (p: string) => p.split('\\').join('/');

function hashFile(path: string): string {
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
async function evaluate(side: Side, manifests: string[] | 'all', hashes: FileHasher): Promise<Evaluated> {
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
class FileHasher {
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

function cacheKey(side: Side, prefix: string): string {
  const h = createHash('sha1').update(`${CACHE_VERSION}\n${prefix}\n`);
  for (const f of side.config.configFiles) h.update(readFileSync(f));
  h.update(canonicalJson(side.config.stacks));
  return h.digest('hex');
}

function readCache(path: string, key: string): Record<string, ManifestEntry> {
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
    if (data.version === CACHE_VERSION && data.key === key) return data.manifests;
  } catch {
    // No cache yet, or an unreadable one: start over.
  }
  return {};
}

function writeCache(path: string, key: string, manifests: Record<string, ManifestEntry>): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ version: CACHE_VERSION, key, manifests } satisfies CacheFile));
  renameSync(tmp, path);
}

/** Repository-relative files that differ between two directory trees (for --repo-path). */
function diffTrees(a: string, b: string): string[] {
  const skip = new Set(['.git', '.terraform', 'node_modules', '.strata']);
  const walk = (root: string, dir: string, out: Map<string, string>) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      if (skip.has(entry.name)) continue;
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(root, rel, out);
      else if (entry.isFile()) out.set(rel, hashFile(join(root, rel)));
    }
    return out;
  };
  const left = walk(a, '', new Map());
  const right = walk(b, '', new Map());
  const out = new Set<string>();
  for (const [k, v] of left) if (right.get(k) !== v) out.add(k);
  for (const k of right.keys()) if (!left.has(k)) out.add(k);
  return [...out].sort();
}

function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

function openSide(root: string, prefix: string, options: AffectedOptions, realRoot: string): Side {
  const cwd = join(root, prefix);
  let configPath = options.configPath;
  if (configPath) {
    const absolute = isAbsolute(configPath) ? configPath : resolve(options.cwd ?? process.cwd(), configPath);
    const rel = relative(realRoot, absolute);
    configPath = rel.startsWith('..') || isAbsolute(rel) ? absolute : join(root, rel);
  }
  const engineOptions = { cwd, configPath, basePath: options.basePath, env: options.env };
  return { root, config: loadConfig(engineOptions), engineOptions };
}

/** Full report: base/head commits, changed files, items. */
export async function describeAffectedReport(options: AffectedOptions = {}): Promise<AffectedReport> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const { root, gitDir, head } = await repoInfo(cwd);
  const prefix = relative(root, cwd);
  if (!head) throw new StrataError(`the repository ${root} has no commits yet`, { hint: 'commit your stacks first' });
  const cleanups: Checkout[] = [];
  try {
    let baseSha: string;
    let baseRoot: string | undefined;
    if (options.repoPath) {
      baseRoot = resolve(cwd, options.repoPath);
      if (!existsSync(baseRoot) || !statSync(baseRoot).isDirectory())
        throw new StrataError(`--repo-path ${options.repoPath} is not a folder`, {
          hint: 'pass a checkout of the base commit',
        });
      baseSha = (await headCommit(baseRoot).catch(() => undefined)) ?? '';
    } else if (options.sha) baseSha = await resolveCommit(root, options.sha);
    else if (options.ref) baseSha = await resolveCommit(root, options.ref);
    else baseSha = await mergeBase(root, 'HEAD', await defaultBranch(root));

    let headRoot = root;
    if (!options.includeUncommitted && (await isDirty(root))) {
      const checkout = await temporaryWorktree(root, head);
      cleanups.push(checkout);
      headRoot = checkout.dir;
    }
    const changes = baseRoot
      ? undefined
      : await fileChanges(root, baseSha, options.includeUncommitted ? undefined : head);
    const changed = changes ? changes.all : diffTrees(baseRoot as string, headRoot);
    const headSide = openSide(headRoot, prefix, options, root);
    const hashes = new FileHasher();

    const stacksRel = toPosix(relative(headRoot, headSide.config.stacks.basePath));
    const changedSet = new Set(changed);
    const changedStack = changed.filter((f) => isUnder(f, stacksRel));
    const headTop = findStackManifests(headSide.config).map((m) => toPosix(join(stacksRel, m)));
    const headTopSet = new Set(headTop);
    const configChanged = headSide.config.configFiles.some((f) => changedSet.has(toPosix(relative(headRoot, f))));
    // The base tree: only the files asked for (stack files and the configuration) when the configuration did not
    // change (it may move the stacks folder), else a worktree of the whole commit.
    let partial = false;
    const ensureBase = async (paths?: string[]): Promise<string> => {
      if (baseRoot && (paths || !partial)) return baseRoot;
      if (paths && !configChanged) {
        const configRels = headSide.config.configFiles
          .map((f) => toPosix(relative(headRoot, f)))
          .filter((f) => !f.startsWith('../') && !isAbsolute(f));
        const checkout = extractFiles(root, baseSha, [...paths, ...configRels]);
        cleanups.push(checkout);
        partial = true;
        baseRoot = checkout.dir;
      } else {
        const checkout = await temporaryWorktree(root, baseSha);
        cleanups.push(checkout);
        partial = false;
        baseRoot = checkout.dir;
      }
      return baseRoot;
    };
    // An imported (not top-level) stack file that appears or disappears may be picked up by a glob import
    // anywhere, so then every manifest is processed on both sides.
    const addedOrDeleted = (
      baseRoot
        ? changedStack.filter((f) => !existsSync(join(headRoot, f)) || !existsSync(join(baseRoot as string, f)))
        : (changes as FileChanges).addedOrDeleted
    ).filter((f) => isUnder(f, stacksRel) && isStackFile(f) && !headTopSet.has(f));
    let full = configChanged;
    if (!full && addedOrDeleted.length > 0) {
      const baseTop = topLevelOf(await ensureBase(), prefix, options, root, stacksRel);
      full = addedOrDeleted.some((f) => !baseTop.has(f));
    }

    const useCache = options.cache !== false;
    const cachePath = join(gitDir, 'strata', 'affected-cache.json');
    const key = cacheKey(headSide, prefix);
    const cached = useCache ? readCache(cachePath, key) : {};
    const valid = (entry: ManifestEntry | undefined) =>
      entry !== undefined && Object.entries(entry.closure).every(([f, h]) => hashes.hash(headRoot, f) === h);

    const stale = headTop.filter((m) => !valid(cached[m]));
    const headNeed = full ? headTop : headTop.filter((m) => !valid(cached[m]) || touches(cached[m], changedSet));
    const headEval = await evaluate(headSide, full ? 'all' : headNeed, hashes);
    const headManifests = new Map<string, ManifestEntry>();
    for (const m of headTop) {
      const entry = headEval.manifests.get(m) ?? cached[m];
      if (entry) headManifests.set(m, entry);
    }
    const touched = new Set(
      [...headManifests].filter(([, e]) => full || touches(e, changedSet)).map(([m]) => m as string),
    );
    if (useCache && (stale.length > 0 || Object.keys(cached).length !== headManifests.size))
      writeCache(cachePath, key, Object.fromEntries(headManifests));

    // Base side: only the touched manifests and stack files that changed (renamed or deleted manifests).
    const baseWanted = full ? 'all' : [...new Set([...touched, ...changedStack])];
    let baseEval: Evaluated = { manifests: new Map(), sections: new Map() };
    let baseProcessed = 0;
    if (baseWanted === 'all' || baseWanted.length > 0) {
      // The base closures are taken to be the HEAD ones (a manifest whose imports changed is itself changed, and
      // added/deleted imported files process everything); a base that then fails to load is retried in full.
      const paths =
        baseWanted === 'all'
          ? undefined
          : [...baseWanted, ...baseWanted.flatMap((m) => Object.keys(headManifests.get(m)?.closure ?? {}))];
      try {
        baseEval = await evaluateBase(await ensureBase(paths), prefix, options, root, baseWanted, stacksRel);
      } catch (error) {
        // Atmos's rule: a base that cannot be processed (no stacks yet, invalid files) counts as empty.
        if (!(error instanceof StrataError)) throw error;
        if (partial) {
          try {
            baseEval = await evaluateBase(await ensureBase(), prefix, options, root, baseWanted, stacksRel);
          } catch (again) {
            if (!(again instanceof StrataError)) throw again;
          }
        }
      }
      baseProcessed = baseEval.manifests.size;
    }

    const headAll = [...headManifests.values()].flatMap((e) => e.instances);
    const freshKeys = new Set([...touched].flatMap((m) => headManifests.get(m)?.instances.map((i) => i.key) ?? []));
    const items = await findAffected({
      headRoot,
      headAll,
      freshKeys,
      headSections: headEval.sections,
      baseSections: baseEval.sections,
      baseInstances: [...baseEval.manifests.values()].flatMap((e) => e.instances),
      changed,
      changedOutsideStacks: changed.filter((f) => !isUnder(f, stacksRel)),
      options,
    });
    return {
      base: baseSha,
      head: options.includeUncommitted ? `${head}+uncommitted` : head,
      changedFiles: changed,
      items,
      processed: { head: full ? headTop.length : headNeed.length, base: baseProcessed, full },
    };
  } finally {
    for (const c of cleanups.reverse()) await c.remove();
  }
}

function isStackFile(f: string): boolean {
  return STACK_EXTENSIONS.some((ext) => f.endsWith(ext));
}

function touches(entry: ManifestEntry, changed: Set<string>): boolean {
  return Object.keys(entry.closure).some((f) => changed.has(f));
}

function topLevelOf(
  baseRoot: string,
  prefix: string,
  options: AffectedOptions,
  realRoot: string,
  stacksRel: string,
): Set<string> {
  try {
    const side = openSide(baseRoot, prefix, options, realRoot);
    return new Set(findStackManifests(side.config).map((m) => toPosix(join(stacksRel, m))));
  } catch (error) {
    if (error instanceof StrataError) return new Set();
    throw error;
  }
}

async function evaluateBase(
  baseRoot: string,
  prefix: string,
  options: AffectedOptions,
  realRoot: string,
  wanted: string[] | 'all',
  stacksRel: string,
): Promise<Evaluated> {
  const side = openSide(baseRoot, prefix, options, realRoot);
  const top = new Set(findStackManifests(side.config).map((m) => toPosix(join(stacksRel, m))));
  const list = wanted === 'all' ? 'all' : wanted.filter((m) => top.has(m));
  return evaluate(side, list, new FileHasher());
}

interface FindInput {
  headRoot: string;
  headAll: Summary[];
  freshKeys: Set<string>;
  headSections: Map<string, Record<string, string>>;
  baseSections: Map<string, Record<string, string>>;
  baseInstances: Summary[];
  changed: string[];
  changedOutsideStacks: string[];
  options: AffectedOptions;
}

async function findAffected(input: FindInput): Promise<AffectedItem[]> {
  const { options } = input;
  const changedDirs = new Set<string>();
  for (const f of input.changedOutsideStacks) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) changedDirs.add(parts.slice(0, i).join('/'));
  }
  const changedSet = new Set(input.changed);
  const modules = input.changedOutsideStacks.length > 0 ? new ModuleResolver() : undefined;
  const items: AffectedItem[] = [];
  const included = (s: Summary) => !s.abstract && s.enabled && !(options.excludeLocked && s.locked);

  for (const s of input.headAll) {
    if (!included(s)) continue;
    const reasons: string[] = [];
    const fresh = input.freshKeys.has(s.key);
    const head = fresh ? input.headSections.get(s.key) : undefined;
    const base = fresh ? input.baseSections.get(s.key) : undefined;
    const differs = (section: string) => head !== undefined && (base === undefined || base[section] !== head[section]);
    if (differs('metadata')) reasons.push('stack.metadata');
    if (modules && s.kind === 'terraform') {
      const dirs = await modules.localModules(join(input.headRoot, s.componentPath));
      if (dirs.some((d) => changedDirs.has(toPosix(relative(input.headRoot, d))))) reasons.push('component.module');
    }
    if (changedDirs.has(s.componentPath)) reasons.push('component');
    for (const section of SECTIONS) if (differs(section)) reasons.push(`stack.${section}`);
    if (differs('settings')) reasons.push('stack.settings');
    const file = s.files.find((f) => changedSet.has(toPosix(f.replace(/^\.\//, ''))));
    if (file) reasons.push('file');
    const folder = s.folders.find((f) => {
      const dir = toPosix(f.replace(/^\.\//, '').replace(/\/$/, ''));
      return changedDirs.has(dir) || input.changed.some((c) => isUnder(c, dir));
    });
    if (folder) reasons.push('folder');
    if (reasons.length === 0) continue;
    items.push(itemOf(s, reasons, options, { file, folder }));
  }

  const headKeys = new Set(input.headAll.map((s) => s.key));
  const headStacks = new Set(input.headAll.map((s) => s.stack));
  for (const s of input.baseInstances) {
    if (headKeys.has(s.key) || !included(s)) continue;
    const stackGone = !headStacks.has(s.stack);
    const item = itemOf(s, [stackGone ? 'deleted.stack' : 'deleted'], options, {});
    item.deleted = true;
    item.deletion_type = stackGone ? 'stack' : 'component';
    items.push(item);
  }

  if (options.includeDependents) addDependents(items, input.headAll);
  const filtered = options.stack ? items.filter((i) => i.stack === options.stack) : items;
  return filtered.sort(
    (a, b) => a.stack.localeCompare(b.stack) || a.component.localeCompare(b.component) || Number(!!a.deleted),
  );
}

function itemOf(
  s: Summary,
  reasons: string[],
  options: AffectedOptions,
  extra: { file?: string; folder?: string },
): AffectedItem {
  const item: AffectedItem = {
    component: s.name,
    component_type: s.kind,
    component_path: s.componentPath,
    stack: s.stack,
    stack_slug: `${s.stack}-${s.name.replaceAll('/', '-')}`,
    affected: reasons[0],
    affected_all: reasons,
  };
  if (extra.file) item.file = extra.file;
  if (extra.folder) item.folder = extra.folder;
  if (options.includeSettings) item.settings = s.settings;
  return item;
}

/** Recursive `dependents` trees, and `included_in_dependents` for items that sit inside a sibling's tree. */
function addDependents(items: AffectedItem[], all: Summary[]): void {
  const byName = new Map<string, Summary[]>();
  for (const s of all) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const index = new Map<string, Summary[]>();
  for (const s of all) {
    if (s.abstract || !s.enabled) continue;
    for (const dep of s.deps) {
      let targets: string[];
      if (dep.stack) targets = [dep.stack];
      else if (CONTEXT_KEYS.some((k) => dep[k] !== undefined)) {
        targets = (byName.get(dep.component) ?? [])
          .filter((t) => CONTEXT_KEYS.every((k) => (dep[k] ?? s.context[k]) === t.context[k]))
          .map((t) => t.stack);
      } else targets = [s.stack];
      for (const stack of targets) {
        const key = `${dep.component}@${stack}`;
        const list = index.get(key) ?? [];
        if (!list.includes(s)) list.push(s);
        index.set(key, list);
      }
    }
  }
  const tree = (component: string, stack: string, seen: Set<string>): DependentNode[] => {
    const out: DependentNode[] = [];
    for (const d of (index.get(`${component}@${stack}`) ?? []).sort(
      (a, b) => a.stack.localeCompare(b.stack) || a.name.localeCompare(b.name),
    )) {
      const id = `${d.name}@${d.stack}`;
      if (seen.has(id)) continue;
      const node: DependentNode = {
        component: d.name,
        component_type: d.kind,
        component_path: d.componentPath,
        stack: d.stack,
        stack_slug: `${d.stack}-${d.name.replaceAll('/', '-')}`,
        ...d.context,
        dependents: tree(d.name, d.stack, new Set([...seen, id])),
        included_in_dependents: false,
      };
      out.push(node);
    }
    markIncluded(out);
    return out;
  };
  for (const item of items) {
    if (item.deleted) continue;
    item.dependents = tree(item.component, item.stack, new Set([`${item.component}@${item.stack}`]));
  }
  markIncluded(items.filter((i) => !i.deleted) as Array<AffectedItem & { dependents: DependentNode[] }>);
}

function markIncluded(
  siblings: Array<{ component: string; stack: string; dependents?: DependentNode[]; included_in_dependents?: boolean }>,
): void {
  const within = (nodes: DependentNode[] | undefined, id: string): boolean =>
    (nodes ?? []).some((n) => `${n.component}@${n.stack}` === id || within(n.dependents, id));
  for (const item of siblings) {
    const id = `${item.component}@${item.stack}`;
    item.included_in_dependents = siblings.some((other) => other !== item && within(other.dependents, id));
  }
}

/** The library entry point the CLI and `terraform --affected` use. */
export async function describeAffected(options: AffectedOptions = {}): Promise<AffectedItem[]> {
  return (await describeAffectedReport(options)).items;
}

/** A CI job matrix: `{include: [{stack, component, component_type, component_path, stack_slug}]}`. */
export function affectedMatrix(items: AffectedItem[]): { include: Array<Record<string, string>> } {
  return {
    include: items
      .filter((i) => !i.deleted)
      .map((i) => ({
        stack: i.stack,
        component: i.component,
        component_type: i.component_type,
        component_path: i.component_path,
        stack_slug: i.stack_slug,
      })),
  };
}
