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
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { StrataError } from '../errors.ts';
import type { EngineResolvers } from '../stacks/engine.ts';
import { findStackManifests, STACK_EXTENSIONS } from '../stacks/manifests.ts';
import {
  cacheKey,
  type Evaluated,
  evaluate,
  FileHasher,
  hashFile,
  isUnder,
  type ManifestEntry,
  readCache,
  type Side,
  toPosix,
  writeCache,
} from './affected-evaluate.ts';
import { type AffectedItem, type FindOptions, findAffected } from './affected-items.ts';
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

function openSide(root: string, prefix: string, options: AffectedOptions, realRoot: string): Side {
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
  };
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
