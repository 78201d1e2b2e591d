/**
 * Deep merge with Atmos's semantics, written by hand because no generic merger records provenance or knows
 * `!append`/`!unset` (see notes/dependency-choices.md "Deep merge").
 *
 * - maps merge recursively; anything else in a later layer replaces the earlier value, whatever its type;
 * - lists follow the strategy: `replace` (default), `append` (earlier ++ later) or `merge` (index-wise: maps
 *   deep-merge, otherwise the earlier item is kept, extra items are appended: Atmos's code, not its docs);
 * - `!append` lists concatenate whatever the strategy; `!unset` removes the key.
 *
 * Merging is persistent: inputs are never mutated and unchanged subtrees are shared, so catalogs imported by
 * hundreds of stacks are parsed once and never copied.
 */
import { AppendList, UNSET } from './yaml.ts';

export type ListMergeStrategy = 'replace' | 'append' | 'merge';
export type PlainMap = Record<string, unknown>;

export function isPlainMap(value: unknown): value is PlainMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Records which layer set each leaf: used by `describe component --provenance`. */
export type MergeTracker = (path: readonly string[], layer: number) => void;

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
    if (result === undefined) {
      result = layer;
      continue;
    }
    result = mergeMaps(result, layer, strategy);
  }
  return result ?? {};
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

function mergeValues(dst: unknown, src: unknown, strategy: ListMergeStrategy): unknown {
  if (isPlainMap(src)) {
    if (isPlainMap(dst)) return mergeMaps(dst, src, strategy);
    return src;
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
