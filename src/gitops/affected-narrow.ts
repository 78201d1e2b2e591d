/**
 * `describe affected`, narrowed to components: when every changed file is a stack file that changed only entries
 * `components.<kind>.<name>`, only those components, and those that build on them (metadata.inherits, `component:`,
 * metadata.component, at any depth), can evaluate differently on the two sides. The base side then builds and
 * evaluates only them, and only their instances are compared.
 *
 * It holds when nothing can carry a change elsewhere: no file reached by a touched manifest computes anything (a
 * template, a YAML function or tag, `!include`, a `.tmpl` file, an import the full reader must resolve), no
 * dependents are asked for, no manifest outside the touched ones is evaluated, and no file dependency reaches a
 * changed file. Everything else in a touched manifest (its globals, import lists, overrides, the stack's name)
 * must be the same on both sides for narrowing to apply; otherwise every instance is compared, as before.
 */
import { isAbsolute, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { StrataConfig } from '../config/types.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { StrataError } from '../errors.ts';
import { ManifestReader } from '../stacks/manifests.ts';
import { type ImportIndex, isDynamicText, type ManifestReach } from './affected-index.ts';

export const componentKey = (kind: string, name: string) => `${kind}\u0000${name}`;

const asEntries = (value: unknown): PlainMap | undefined =>
  value === undefined || value === null ? {} : isPlainMap(value) ? value : undefined;

/**
 * The components (`kind\0name`) whose entries differ between two versions of a stack file; undefined when anything
 * outside `components.<kind>.<name>` differs (or a level is not a map).
 */
export function changedComponents(before: PlainMap, after: PlainMap): Set<string> | undefined {
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key !== 'components' && !isDeepStrictEqual(before[key], after[key])) return undefined;
  }
  const left = asEntries(before.components);
  const right = asEntries(after.components);
  if (!left || !right) return undefined;
  const out = new Set<string>();
  for (const kind of new Set([...Object.keys(left), ...Object.keys(right)])) {
    const a = asEntries(left[kind]);
    const b = asEntries(right[kind]);
    if (!a || !b) return undefined;
    for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (!isDeepStrictEqual(a[name], b[name])) out.add(componentKey(kind, name));
    }
  }
  return out;
}

/** The changed components and every component that builds on one of them, through `bases` (child -> parents). */
export function reachingComponents(changed: Set<string>, bases: Map<string, Set<string>>): Set<string> {
  const memo = new Map<string, boolean>();
  const reaches = (key: string, seen: Set<string>): boolean => {
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (changed.has(key)) return true;
    // A cycle is an error the engine reports; here it only must not loop.
    if (seen.has(key)) return false;
    seen.add(key);
    const kind = key.slice(0, key.indexOf('\u0000'));
    let found = false;
    for (const parent of bases.get(key) ?? []) if (reaches(componentKey(kind, parent), seen)) found = true;
    seen.delete(key);
    memo.set(key, found);
    return found;
  };
  const out = new Set(changed);
  for (const key of bases.keys()) if (reaches(key, new Set())) out.add(key);
  return out;
}

export interface NarrowInput {
  /** Every changed path (repository-relative). */
  changed: string[];
  /** Changed paths added or deleted. */
  addedOrDeleted: string[];
  stacksRel: string;
  /** What each touched manifest reaches (HEAD side). */
  touched: ManifestReach[];
  /** Untouched manifests evaluated all the same (component code, file dependencies). */
  alsoNeeded: number;
  includeDependents: boolean;
  headRoot: string;
  headReader: ManifestReader;
  index: ImportIndex;
  config: StrataConfig;
}

/** Whether every changed path is a YAML stack file that exists on both sides (the first condition of narrowing). */
export function narrowableChanges(changed: string[], addedOrDeleted: string[], stacksRel: string): boolean {
  const stackFile = (f: string) =>
    (stacksRel === '' || f.startsWith(`${stacksRel}/`)) && /\.ya?ml$/.test(f) && !addedOrDeleted.includes(f);
  return changed.length > 0 && changed.every(stackFile);
}

/** Whether narrowing may apply, before the base tree is read. */
export function mayNarrow(input: NarrowInput): boolean {
  return (
    !input.includeDependents &&
    input.alsoNeeded === 0 &&
    input.touched.length > 0 &&
    narrowableChanges(input.changed, input.addedOrDeleted, input.stacksRel) &&
    input.touched.every((r) => !r.assembled && !r.dependsOn(input.changed))
  );
}

/**
 * The components the base side must build and evaluate (a test for the engine's `onlyComponents`), or undefined
 * when the change is not confined to component entries. `baseTexts`: the base version of each changed file, by
 * repository-relative path.
 */
export function narrowedComponents(
  input: NarrowInput,
  baseTexts: ReadonlyMap<string, string>,
): ((kind: string, name: string) => boolean) | undefined {
  if (!mayNarrow(input)) return undefined;
  const { bases, dynamic } = input.index.components(input.touched);
  if (dynamic) return undefined;
  const delimiter = input.config.templates.delimiters[0] || '{{';
  const sources = new Map([...baseTexts].map(([rel, text]) => [join(input.headRoot, rel), text]));
  const baseReader = new ManifestReader(input.config, { limits: input.headReader.limits, sources });
  const changedKeys = new Set<string>();
  try {
    for (const rel of input.changed) {
      const text = baseTexts.get(rel);
      if (text === undefined || isAbsolute(rel) || isDynamicText(text, delimiter)) return undefined;
      const path = join(input.headRoot, rel);
      const found = changedComponents(baseReader.parse(path), input.headReader.parse(path));
      if (!found) return undefined;
      for (const key of found) changedKeys.add(key);
    }
  } catch (error) {
    // A file that cannot be parsed on one side: the full comparison reports it as it always has.
    if (error instanceof StrataError) return undefined;
    throw error;
  }
  const selected = reachingComponents(changedKeys, bases);
  return (kind, name) => selected.has(componentKey(kind, name));
}
