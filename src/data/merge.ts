/**
 * Deep merge with Atmos's semantics, written by hand because no generic merger records provenance or knows
 * `!append`/`!unset` (see notes/dependency-choices.md "Deep merge").
 *
 * - maps merge recursively; anything else in a later layer replaces the earlier value, whatever its type;
 * - lists follow the strategy: `replace` (default), `append` (earlier ++ later) or `merge` (index-wise: maps
 *   deep-merge, otherwise the earlier item is kept, extra items are appended: Atmos's code, not its docs);
 * - `!append` lists concatenate whatever the strategy; `!unset` removes the key;
 * - a YAML function (`!template '{{ toJson ... }}'`) meeting a map is deferred, as in Atmos: its result is
 *   deep-merged with the maps of the other layers, in layer order, once functions are evaluated.
 *
 * Merging is persistent: inputs are never mutated and unchanged subtrees are shared, so catalogs imported by
 * hundreds of stacks are parsed once and never copied.
 */
import { AppendList, UNSET, YamlFunction } from './yaml.ts';

export type ListMergeStrategy = 'replace' | 'append' | 'merge';
export type PlainMap = Record<string, unknown>;

export function isPlainMap(value: unknown): value is PlainMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Records which layer set each leaf: used by `describe component --provenance`. */
export type MergeTracker = (path: readonly string[], layer: number) => void;

/**
 * The one empty map merges return when no layer is a map: 16,000 instances with a dozen empty sections each would
 * otherwise allocate ~100,000 `{}`. Frozen, as every merge result must be treated as read-only.
 */
export const EMPTY_MAP: PlainMap = Object.freeze({}) as PlainMap;

/**
 * Results of merging two maps, by the identity of both (per strategy). Merge results are immutable and layers are
 * shared between stacks (a catalog's base under every stack's defaults), so the same pair recurs hundreds of times.
 */
const pairMemo: Record<ListMergeStrategy, WeakMap<PlainMap, WeakMap<PlainMap, PlainMap>>> = {
  replace: new WeakMap(),
  append: new WeakMap(),
  merge: new WeakMap(),
};

function mergePair(dst: PlainMap, src: PlainMap, strategy: ListMergeStrategy): PlainMap {
  const memo = pairMemo[strategy];
  let bySrc = memo.get(dst);
  if (bySrc === undefined) {
    bySrc = new WeakMap();
    memo.set(dst, bySrc);
  }
  let merged = bySrc.get(src);
  if (merged === undefined) {
    merged = mergeMaps(dst, src, strategy);
    bySrc.set(src, merged);
  }
  return merged;
}

/** Merges layers left to right (later wins). Layers that are not maps are ignored, like Atmos's empty inputs. */
export function mergeLayers(
  layers: readonly unknown[],
  strategy: ListMergeStrategy = 'replace',
  tracker?: MergeTracker,
): PlainMap {
  let result: PlainMap | undefined;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    if (!isPlainMap(layer)) continue;
    if (tracker) trackLeaves(layer, [], i, tracker);
    if (result === undefined || (isEmptyMap(result) && !hasUnsetKey(layer))) {
      result = layer;
      continue;
    }
    if (isEmptyMap(layer)) continue;
    result = mergePair(result, layer, strategy);
  }
  return result ?? EMPTY_MAP;
}

function isEmptyMap(value: PlainMap): boolean {
  for (const _ in value) return false;
  return true;
}

/** Merged over an empty map, an `!unset` key disappears; as the first layer it stays (until finalizeMarkers). */
function hasUnsetKey(value: PlainMap): boolean {
  for (const key in value) if (value[key] === UNSET) return true;
  return false;
}

/** Merges `src` over `dst` without mutating either. */
export function mergeMaps(dst: PlainMap, src: PlainMap, strategy: ListMergeStrategy): PlainMap {
  let out: PlainMap | undefined;
  for (const key of Object.keys(src)) {
    const srcValue = src[key];
    if (srcValue === undefined) continue;
    const dstValue = dst[key];
    let merged: unknown;
    if (srcValue === UNSET) {
      if (!(key in dst) && !(out && key in out)) continue;
      out ??= { ...dst };
      delete out[key];
      continue;
    }
    if (dstValue === undefined && !(key in dst)) merged = srcValue;
    else merged = mergeValues(dstValue, srcValue, strategy);
    if (merged === dstValue && key in dst) continue;
    out ??= { ...dst };
    out[key] = merged;
  }
  return out ?? dst;
}

/**
 * Layers of one value that hold a YAML function and maps: merged in order (later wins) once the functions are
 * evaluated (`resolveDeferred`). Unevaluated, it shows as its last layer, which is what a plain replace would give.
 */
export class DeferredMerge {
  constructor(
    readonly layers: readonly unknown[],
    readonly strategy: ListMergeStrategy,
  ) {}

  toJSON(): unknown {
    const last = this.layers[this.layers.length - 1];
    return last instanceof YamlFunction ? last.toJSON() : last;
  }
}

function mergeValues(dst: unknown, src: unknown, strategy: ListMergeStrategy): unknown {
  if (isPlainMap(src)) {
    if (isPlainMap(dst)) return mergeMaps(dst, src, strategy);
    if (dst instanceof YamlFunction) return new DeferredMerge([dst, src], strategy);
    if (dst instanceof DeferredMerge) return new DeferredMerge([...dst.layers, src], strategy);
    return src;
  }
  if (src instanceof YamlFunction && (isPlainMap(dst) || dst instanceof DeferredMerge)) {
    return new DeferredMerge([...(dst instanceof DeferredMerge ? dst.layers : [dst]), src], strategy);
  }
  if (src instanceof AppendList) {
    const base = dst instanceof AppendList ? dst.items : Array.isArray(dst) ? dst : [];
    return [...base, ...src.items];
  }
  if (Array.isArray(src) && strategy !== 'replace') {
    const base = dst instanceof AppendList ? dst.items : dst;
    if (Array.isArray(base)) return strategy === 'append' ? [...base, ...src] : mergeListsByIndex(base, src);
  }
  return src;
}

function mergeListsByIndex(dst: unknown[], src: unknown[]): unknown[] {
  const out = dst.slice();
  for (let i = 0; i < src.length; i++) {
    if (i >= dst.length) out.push(src[i]);
    else if (isPlainMap(dst[i]) && isPlainMap(src[i]))
      out[i] = mergeMaps(dst[i] as PlainMap, src[i] as PlainMap, 'merge');
  }
  return out;
}

function trackLeaves(value: PlainMap, path: string[], layer: number, tracker: MergeTracker): void {
  for (const key of Object.keys(value)) {
    const child = value[key];
    path.push(key);
    if (isPlainMap(child) && Object.keys(child).length > 0) trackLeaves(child, path, layer, tracker);
    else tracker(path, layer);
    path.pop();
  }
}

/** Returned by a `mapDeep` leaf function to drop the value (from its map or list). */
export const REMOVE: unique symbol = Symbol('remove');

/**
 * Copy-on-write transform of a YAML-shaped value: `leaf` maps every value that is not a list or map, `key` every map
 * key. Unchanged subtrees are returned as they are (the whole input when nothing changed).
 */
export function mapDeep(value: unknown, leaf: (value: unknown) => unknown, key?: (key: string) => string): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = mapDeep(value[i], leaf, key);
      if (next !== value[i]) {
        out ??= value.slice(0, i);
        if (next !== REMOVE) out.push(next);
      } else out?.push(next);
    }
    return out ?? value;
  }
  if (isPlainMap(value)) {
    let out: PlainMap | undefined;
    for (const name of Object.keys(value)) {
      const next = mapDeep(value[name], leaf, key);
      const renamed = key ? key(name) : name;
      if (next === value[name] && renamed === name) continue;
      out ??= { ...value };
      if (renamed !== name || next === REMOVE) delete out[name];
      if (next !== REMOVE) out[renamed] = next;
    }
    return out ?? value;
  }
  return leaf(value);
}

/**
 * Removes what only has meaning during merging (`!unset` markers, `!append` wrappers) from a final value.
 * Returns the same object when there is nothing to change.
 */
export function finalizeMarkers(value: unknown): unknown {
  return mapDeep(value, finalizeLeaf);
}

function finalizeLeaf(value: unknown): unknown {
  if (value === UNSET) return REMOVE;
  if (value instanceof AppendList) return mapDeep(value.items, finalizeLeaf);
  return value;
}

/**
 * Replaces every DeferredMerge in a value by the merge of its layers, each evaluated by `evaluate` first (a
 * function layer that yields no map is skipped, as Atmos drops empty inputs).
 */
export async function resolveDeferred(
  value: unknown,
  evaluate: (layer: unknown) => Promise<unknown>,
): Promise<unknown> {
  if (value instanceof DeferredMerge) {
    const layers: unknown[] = [];
    for (const layer of value.layers) layers.push(await resolveDeferred(await evaluate(layer), evaluate));
    return mergeLayers(layers, value.strategy);
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = await resolveDeferred(value[i], evaluate);
      if (next !== value[i]) (out ??= value.slice())[i] = next;
    }
    return out ?? value;
  }
  if (isPlainMap(value)) {
    let out: PlainMap | undefined;
    for (const key of Object.keys(value)) {
      const next = await resolveDeferred(value[key], evaluate);
      if (next !== value[key]) (out ??= { ...value })[key] = next;
    }
    return out ?? value;
  }
  return value;
}

/** Whether a value holds a deferred merge anywhere (a cheap walk before the async one). */
export function hasDeferred(value: unknown): boolean {
  if (value instanceof DeferredMerge) return true;
  if (Array.isArray(value)) return value.some(hasDeferred);
  if (isPlainMap(value)) for (const key of Object.keys(value)) if (hasDeferred(value[key])) return true;
  return false;
}
