/**
 * `describe affected`: which component instances change between a base commit and HEAD, and why.
 *
 * Semantics follow Atmos (notes/atmos-reference.md §2.8) with three deliberate differences: merged sections are
 * compared as data (reordering or reformatting a file changes nothing), HEAD is the HEAD commit unless
 * `includeUncommitted` (then the working tree, for stacks and component code alike), and only the stack manifests
 * whose import closure contains a changed file are evaluated and compared. Closures come from each file's own
 * imports (affected-index.ts: a parse, no assembly; what a file says is kept by content hash in the git
 * directory); other manifests are evaluated only when component code or a file dependency may reach them, or for
 * dependents. A change to the configuration file, or an added/deleted imported file (a glob import may pick it
 * up), processes every manifest.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { StrataError } from '../errors.ts';
import { type EngineResolvers, StackEngine } from '../stacks/engine.ts';
import { findStackManifests, STACK_EXTENSIONS } from '../stacks/manifests.ts';
import {
  cacheKey,
  type Evaluated,
  evaluate,
  hashFile,
  isUnder,
  type Side,
  type Summary,
  toPosix,
} from './affected-evaluate.ts';
import { ImportIndex, IndexPack, type ManifestReach } from './affected-index.ts';
import { type AffectedItem, type FindOptions, findAffected } from './affected-items.ts';
import { mayNarrow, type NarrowInput, narrowableChanges, narrowedComponents } from './affected-narrow.ts';
import { ReachCache } from './affected-reach.ts';
import {
  blobIds,
  type Checkout,
  defaultBranch,
  extractFiles,
  type FileChanges,
  fileChanges,
  headCommit,
  isDirty,
  mergeBase,
  readBlobsAsync,
  repoInfo,
  repoInfoAndCommit,
  resolveCommit,
  temporaryWorktree,
} from './git.ts';
import { ModuleResolver } from './modules.ts';

export { canonicalJson } from './affected-evaluate.ts';
export type { AffectedItem, DependentNode } from './affected-items.ts';

export interface AffectedOptions extends FindOptions {
  cwd?: string;
  configPath?: string;
  basePath?: string;
  env?: NodeJS.ProcessEnv;
  /** Outside data for YAML functions on both sides (strata's commands pass services/engine.ts's). */
  resolvers?: EngineResolvers;
  /** Base git ref (branch, tag); default: the merge-base of HEAD and the default branch. */
  ref?: string;
  /** Base commit SHA (wins over ref). */
  sha?: string;
  /** An already checked-out base tree (another clone or a copy) instead of a commit. */
  repoPath?: string;
  /** Compare the working tree (uncommitted and untracked files) instead of the HEAD commit. */
  includeUncommitted?: boolean;
  /** Use and refresh the closure cache in the git directory (default true). */
  cache?: boolean;
  /**
   * Evaluate only the components a change confined to component entries can reach (affected-narrow.ts; default
   * true). false compares every instance of the touched manifests: the same items, found the long way.
   */
  narrow?: boolean;
  /** Atmos's --process-templates / --process-functions / --skip, on both sides. */
  processTemplates?: boolean;
  processFunctions?: boolean;
  skipFunctions?: string[];
}

export interface AffectedReport {
  base: string;
  head: string;
  changedFiles: string[];
  items: AffectedItem[];
  /** Manifests processed on each side (the rest came from the cache or were untouched). */
  processed: { head: number; base: number; full: boolean };
  /** Whether the base side evaluated only the components the change reaches (affected-narrow.ts). */
  narrowed: boolean;
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

/**
 * `temporary`: the tree is a checkout removed after this run, so its parsed files are not written to the parse
 * cache (whose packs are per stacks folder: each run would add a pack nobody reads again).
 */
function openSide(root: string, prefix: string, options: AffectedOptions, realRoot: string, temporary = false): Side {
  const cwd = join(root, prefix);
  let configPath = options.configPath;
  if (configPath) {
    const absolute = isAbsolute(configPath) ? configPath : resolve(options.cwd ?? process.cwd(), configPath);
    const rel = relative(realRoot, absolute);
    configPath = rel.startsWith('..') || isAbsolute(rel) ? absolute : join(root, rel);
  }
  const { processTemplates, processFunctions, skipFunctions } = options;
  const engineOptions = {
    cwd,
    configPath,
    basePath: options.basePath,
    env: options.env,
    resolvers: options.resolvers,
    processTemplates,
    processFunctions,
    skipFunctions,
    ...(temporary ? { cache: false } : {}),
  };
  return { root, config: loadConfig(engineOptions), engineOptions };
}

/** The working tree's side, or undefined when its configuration does not load (the HEAD commit's may). */
function openSideOrUndefined(root: string, prefix: string, options: AffectedOptions): Side | undefined {
  try {
    return openSide(root, prefix, options, root);
  } catch {
    return undefined;
  }
}

/** Full report: base/head commits, changed files, items. */
export async function describeAffectedReport(options: AffectedOptions = {}): Promise<AffectedReport> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const baseRef = options.repoPath ? undefined : options.sha || options.ref;
  // With a base ref, the repository and both commits come from one git process.
  const quick = baseRef ? await repoInfoAndCommit(cwd, baseRef) : undefined;
  const { root, gitDir, head } = quick ?? (await repoInfo(cwd));
  const prefix = relative(root, cwd);
  if (!head) throw new StrataError(`the repository ${root} has no commits yet`, { hint: 'commit your stacks first' });
  const cleanups: Checkout[] = [];
  try {
    let baseRoot: string | undefined;
    if (options.repoPath) {
      baseRoot = resolve(cwd, options.repoPath);
      if (!existsSync(baseRoot) || !statSync(baseRoot).isDirectory())
        throw new StrataError(`--repo-path ${options.repoPath} is not a folder`, {
          hint: 'pass a checkout of the base commit',
        });
    }
    // A --repo-path checkout's commit (when it is a git checkout), asked alongside the other git processes.
    const repoPathCommit = baseRoot ? headCommit(baseRoot).catch(() => undefined) : undefined;
    // The HEAD tree is the HEAD commit's unless uncommitted files are asked for: git knows its content hashes.
    const stacksRelOf = (side: Side) => toPosix(relative(side.root, side.config.stacks.basePath));
    const idsOf = (side: Side | undefined) => {
      const rel = side && stacksRelOf(side);
      const committed = rel !== undefined && !options.includeUncommitted && !rel.startsWith('../') && !isAbsolute(rel);
      return committed && options.cache !== false ? blobIds(root, head, rel) : undefined;
    };
    // The working tree's configuration, so that every git process can start at once; a dirty tree's is opened again
    // from its HEAD checkout (and may not load where that one does).
    const workingSide = openSideOrUndefined(root, prefix, options);
    const resolving: Promise<string | undefined> = options.repoPath
      ? Promise.resolve(undefined)
      : quick
        ? Promise.resolve(quick.commit)
        : baseRef
          ? resolveCommit(root, baseRef)
          : defaultBranch(root).then((branch) => mergeBase(root, 'HEAD', branch));
    // Independent git processes run side by side: each costs tens of milliseconds to start.
    const [resolved, dirty, changes, workingIds, baseCheckoutCommit] = await Promise.all([
      resolving,
      options.includeUncommitted ? false : isDirty(root),
      baseRoot
        ? undefined
        : resolving.then((sha) => fileChanges(root, sha ?? '', options.includeUncommitted ? undefined : head)),
      idsOf(workingSide),
      repoPathCommit,
    ]);
    const baseSha = resolved ?? baseCheckoutCommit ?? '';

    let headRoot = root;
    if (dirty) {
      const checkout = await temporaryWorktree(root, head);
      cleanups.push(checkout);
      headRoot = checkout.dir;
    }
    const headSide = !dirty && workingSide ? workingSide : openSide(headRoot, prefix, options, root);
    const known =
      headSide !== workingSide && (!workingSide || stacksRelOf(headSide) !== stacksRelOf(workingSide))
        ? await idsOf(headSide)
        : workingIds;
    const stacksRel = stacksRelOf(headSide);
    // The base versions of the changed stack files, read while the HEAD side is looked at (for narrowing).
    const baseBlobs =
      changes && known && options.narrow !== false && narrowableChanges(changes.all, changes.addedOrDeleted, stacksRel)
        ? readBlobsAsync(root, baseSha, changes.all)
        : undefined;
    const changed = changes ? changes.all : diffTrees(baseRoot as string, headRoot);
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
    const cacheDir = join(gitDir, 'strata');
    const key = cacheKey(headSide, prefix);
    const headEngine = new StackEngine(headSide.config, headSide.engineOptions);
    // Engines over parts of the HEAD tree share its parse cache: the pack is read once.
    const headShared: Side = {
      ...headSide,
      engineOptions: { ...headSide.engineOptions, parseCache: headEngine.parseCache },
    };
    const stored = useCache ? IndexPack.open(join(cacheDir, 'affected-index.pack'), key) : IndexPack.none();
    const index = new ImportIndex(headSide, stored, headEngine.reader, known);
    // The closures of the last run hold for the working tree only (a temporary checkout's folders are new each run).
    const kept = useCache && headRoot === root ? new ReachCache(join(cacheDir, 'affected-reach.json'), key) : undefined;
    const reach = full ? [] : index.reach(headTop, kept);
    const touched = new Set(
      full ? headTop : reach.filter((r) => r.closure.some((f) => changedSet.has(f))).map((r) => r.rel),
    );
    const everything = touched.size === headTop.length;
    // Untouched manifests are evaluated only when something outside their sections may affect them (component
    // code, a file dependency) or when dependents are asked for.
    const alsoNeeded = everything ? [] : await untouchedNeeded(reach, touched, headSide, changed, stacksRel);
    const headScope =
      options.includeDependents || everything ? 'all' : scope([...touched, ...alsoNeeded], headTop.length);
    // Base side: only the touched manifests and stack files that changed (renamed or deleted manifests).
    const baseWanted = full ? 'all' : [...new Set([...touched, ...changedStack])];
    const narrowInput: NarrowInput | undefined =
      options.narrow !== false && !full
        ? {
            changed,
            addedOrDeleted:
              changes?.addedOrDeleted ??
              changed.filter((f) => !existsSync(join(headRoot, f)) || !existsSync(join(baseRoot as string, f))),
            stacksRel,
            touched: reach.filter((r) => touched.has(r.rel)),
            alsoNeeded: alsoNeeded.length,
            includeDependents: options.includeDependents === true,
            headRoot,
            headReader: headEngine.reader,
            index,
            config: headSide.config,
          }
        : undefined;
    // Narrowed over the HEAD tree when every file it reads is the commit's: the base commit's changed files are
    // read from git into memory and no base tree is written.
    const overlay =
      narrowInput && baseBlobs && known && mayNarrow(narrowInput)
        ? overlayBase(await baseBlobs, narrowInput, known, headTop, headShared)
        : undefined;
    // Narrowed, only the instances of the components the base side evaluates can differ: the HEAD side evaluates just
    // those too (every manifest is still built, so a broken one is reported as before).
    const headOnly = overlay && baseWanted !== 'all' ? overlay.only : undefined;
    const compare = (m: string) => touched.has(m);
    let headEval = await evaluate(headShared, headScope, compare, headEngine, headOnly);
    // Kept whenever this run learnt something: even when every manifest was touched, the next run finds the closures
    // without parsing the files again.
    stored.save(known);
    const closureOf = new Map(reach.map((r) => [r.rel, r.closure]));
    let baseEval: Evaluated = { manifests: new Map(), sections: new Map() };
    let only: ((kind: string, name: string) => boolean) | undefined;

    if (overlay && baseWanted !== 'all') {
      only = overlay.only;
      const list = baseWanted.filter((m) => headTopSet.has(m));
      const asked = new Set(list);
      try {
        baseEval = await evaluate(overlay.side, scope(list, headTop.length), (m) => asked.has(m));
      } catch (error) {
        // Atmos's rule: a base that cannot be processed counts as empty.
        if (!(error instanceof StrataError)) throw error;
        only = undefined;
      }
    } else if (baseWanted === 'all' || baseWanted.length > 0) {
      // The base closures are taken to be the HEAD ones (a manifest whose imports changed is itself changed, and
      // added/deleted imported files process everything); a base that then fails to load is retried in full.
      const paths =
        baseWanted === 'all' || everything
          ? undefined
          : [...baseWanted, ...baseWanted.flatMap((m) => closureOf.get(m) ?? [])];
      const wanted: BaseRequest = {
        prefix,
        options,
        realRoot: root,
        wanted: baseWanted,
        stacksRel,
        narrow: narrowInput,
      };
      try {
        ({ evaluated: baseEval, only } = await evaluateBase(await ensureBase(paths), wanted));
      } catch (error) {
        // Atmos's rule: a base that cannot be processed (no stacks yet, invalid files) counts as empty.
        if (!(error instanceof StrataError)) throw error;
        only = undefined;
        if (partial) {
          try {
            ({ evaluated: baseEval, only } = await evaluateBase(await ensureBase(), wanted));
          } catch (again) {
            if (!(again instanceof StrataError)) throw again;
            only = undefined;
          }
        }
      }
    }
    const baseProcessed = baseEval.manifests.size;
    // A base instance missing from the evaluated HEAD manifests may live in another one (or be deleted): only the
    // whole HEAD tells. A base that could not be narrowed compares every instance.
    const missing = () => {
      const headKeys = new Set([...headEval.manifests.values()].flat().map((s) => s.key));
      return [...baseEval.manifests.values()].flat().some((s) => !s.abstract && !headKeys.has(s.key));
    };
    if (headOnly && (only !== headOnly || missing()))
      headEval = await evaluate(headShared, headScope, compare, headEngine);
    if (headScope !== 'all' && missing()) headEval = await evaluate(headShared, 'all', compare, headEngine);

    const headAll = [...headEval.manifests.values()].flat();
    // Narrowed, only the instances of the components the base side evaluated can differ.
    const compared = (s: Summary) => !only || only(s.kind, s.name);
    const freshKeys = new Set(
      [...touched].flatMap((m) => headEval.manifests.get(m)?.flatMap((i) => (compared(i) ? [i.key] : [])) ?? []),
    );
    const items = await findAffected({
      headRoot,
      headAll,
      freshKeys,
      headSections: headEval.sections,
      baseSections: baseEval.sections,
      baseInstances: [...baseEval.manifests.values()].flat(),
      changed,
      changedOutsideStacks: changed.filter((f) => !isUnder(f, stacksRel)),
      options,
    });
    return {
      base: baseSha,
      head: options.includeUncommitted ? `${head}+uncommitted` : head,
      changedFiles: changed,
      items,
      processed: { head: headEval.manifests.size, base: baseProcessed, full },
      narrowed: only !== undefined,
    };
  } finally {
    for (const c of cleanups.reverse()) await c.remove();
  }
}

function isStackFile(f: string): boolean {
  return STACK_EXTENSIONS.some((ext) => f.endsWith(ext));
}

/**
 * Scoping an engine to a list of manifests costs a glob pattern each (a few milliseconds): for many manifests and
 * past a third of the tree, assembling everything is cheaper.
 */
function scope(manifests: string[], total: number): string[] | 'all' {
  return manifests.length > 16 && manifests.length * 3 > total ? 'all' : manifests;
}

/**
 * Untouched manifests whose instances may still be affected: one that may define a component in a changed
 * component folder (or one whose local modules changed), or that may declare a file or folder dependency.
 */
async function untouchedNeeded(
  reach: ManifestReach[],
  touched: Set<string>,
  side: Side,
  changed: string[],
  stacksRel: string,
): Promise<string[]> {
  const outside = changed.filter((f) => !isUnder(f, stacksRel));
  const changedDirs = new Set(outside.flatMap((f) => f.split('/').map((_, i, parts) => parts.slice(0, i).join('/'))));
  const modules = outside.length > 0 ? new ModuleResolver() : undefined;
  const folderHit = new Map<string, Promise<boolean>>();
  const hits = (kindFolder: string): Promise<boolean> => {
    let hit = folderHit.get(kindFolder);
    if (!hit) {
      const slash = kindFolder.indexOf('/');
      const kind = kindFolder.slice(0, slash);
      const base = side.config.components[kind]?.basePath ?? join(side.config.basePath, 'components', kind);
      const dir = join(base, kindFolder.slice(slash + 1));
      const path = toPosix(relative(side.root, dir));
      hit = changedDirs.has(path)
        ? Promise.resolve(true)
        : kind === 'terraform' && modules
          ? modules
              .localModules(dir)
              .then((found) => found.some((d) => changedDirs.has(toPosix(relative(side.root, d)))))
          : Promise.resolve(false);
      folderHit.set(kindFolder, hit);
    }
    return hit;
  };
  const out: string[] = [];
  for (const r of reach) {
    if (touched.has(r.rel)) continue;
    const files = r.dependsOn(changed);
    if (files || (modules && (!r.folders || (await someAsync([...r.folders], hits))))) out.push(r.rel);
  }
  return out;
}

async function someAsync<T>(items: T[], test: (item: T) => Promise<boolean>): Promise<boolean> {
  for (const item of items) if (await test(item)) return true;
  return false;
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

interface BaseRequest {
  prefix: string;
  options: AffectedOptions;
  realRoot: string;
  wanted: string[] | 'all';
  stacksRel: string;
  narrow?: NarrowInput;
}

async function evaluateBase(
  baseRoot: string,
  request: BaseRequest,
): Promise<{ evaluated: Evaluated; only?: (kind: string, name: string) => boolean }> {
  const { prefix, options, realRoot, wanted, stacksRel } = request;
  const side = openSide(baseRoot, prefix, options, realRoot, !options.repoPath);
  const only = request.narrow ? narrowedComponents(request.narrow, readTexts(baseRoot, request.narrow)) : undefined;
  if (only) side.engineOptions.onlyComponents = only;
  const top = new Set(findStackManifests(side.config).map((m) => toPosix(join(stacksRel, m))));
  if (wanted === 'all') return { evaluated: await evaluate(side, 'all'), only };
  const list = wanted.filter((m) => top.has(m));
  const asked = new Set(list);
  return { evaluated: await evaluate(side, scope(list, top.size), (m) => asked.has(m)), only };
}

/** The changed files' texts in a base tree, as far as they are stack files within the reader's size limit. */
function readTexts(baseRoot: string, narrow: NarrowInput): Map<string, string> {
  const texts = new Map<string, string>();
  for (const rel of narrow.changed) {
    const path = join(baseRoot, rel);
    const size = statSync(path, { throwIfNoEntry: false })?.size;
    if (size !== undefined && size <= narrow.headReader.limits.maxFileBytes) texts.set(rel, readFileSync(path, 'utf8'));
  }
  return texts;
}

/**
 * The base side as the HEAD tree with the base commit's version of the changed files, narrowed to the components
 * the change reaches; undefined when the HEAD tree holds a file the commit does not (an untracked or ignored stack
 * file), a changed file is too large to read, or the change is not confined to component entries.
 */
function overlayBase(
  blobs: ReadonlyMap<string, Buffer> | undefined,
  narrow: NarrowInput,
  known: ReadonlyMap<string, string>,
  headTop: string[],
  headSide: Side,
): { side: Side; only: (kind: string, name: string) => boolean } | undefined {
  const read = [...headTop, ...narrow.touched.flatMap((r) => r.closure)];
  if (!blobs || !read.every((f) => known.has(f))) return undefined;
  const texts = new Map<string, string>();
  for (const [rel, bytes] of blobs) {
    if (bytes.length > narrow.headReader.limits.maxFileBytes) return undefined;
    texts.set(rel, bytes.toString('utf8'));
  }
  const only = narrowedComponents(narrow, texts);
  if (!only) return undefined;
  const sources = new Map([...texts].map(([rel, text]) => [join(narrow.headRoot, rel), text]));
  // The HEAD tree's parse cache, which an engine over `sources` only reads (manifests.ts, ReaderOptions.sources).
  const engineOptions = { ...headSide.engineOptions, sources, onlyComponents: only };
  return { side: { root: narrow.headRoot, config: narrow.config, engineOptions }, only };
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
