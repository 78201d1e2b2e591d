/** `describe affected`: from the two sides' summaries to the affected items, with reasons and dependents. */
import { join, relative } from 'node:path';
import type { PlainMap } from '../data/merge.ts';
import type { DependentItem } from '../stacks/dependencies.ts';
import {
  CONTEXT_KEYS,
  type InstanceSections,
  isUnder,
  SECTIONS,
  type Summary,
  sameData,
  toPosix,
} from './affected-evaluate.ts';
import { ModuleResolver } from './modules.ts';

/** The options that shape the items (see AffectedOptions). */
export interface FindOptions {
  includeDependents?: boolean;
  includeSettings?: boolean;
  excludeLocked?: boolean;
  /** Only items in this stack. */
  stack?: string;
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

export interface FindInput {
  headRoot: string;
  headAll: Summary[];
  freshKeys: Set<string>;
  headSections: Map<string, InstanceSections>;
  baseSections: Map<string, InstanceSections>;
  baseInstances: Summary[];
  changed: string[];
  changedOutsideStacks: string[];
  options: FindOptions;
}

export async function findAffected(input: FindInput): Promise<AffectedItem[]> {
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
    const differs = (section: string) =>
      head !== undefined && (base === undefined || !sameData(base[section], head[section]));
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
  options: FindOptions,
  extra: { file?: string; folder?: string },
): AffectedItem {
  const item: AffectedItem = {
    ...identity(s),
    affected: reasons[0],
    affected_all: reasons,
  };
  if (extra.file) item.file = extra.file;
  if (extra.folder) item.folder = extra.folder;
  if (options.includeSettings) item.settings = s.settings;
  return item;
}

/** The fields that name an instance in Atmos's affected and dependents lists. */
function identity(s: Summary) {
  return {
    component: s.name,
    component_type: s.kind,
    component_path: s.componentPath,
    stack: s.stack,
    stack_slug: `${s.stack}-${s.name.replaceAll('/', '-')}`,
  };
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
        ...identity(d),
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
