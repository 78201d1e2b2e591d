/** Sprig's list and dict functions, on Go's slices and maps (plain objects or Maps). */
import { type FuncMap, typed } from '../funcs.ts';
import { type GoMap, isMap, isPlainObject, mapEntries, mapGet, mapKeys } from '../value.ts';
import { asList, deepEqual, empty, strslice, strval, toPlain } from './values.ts';

function dict(...args: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i += 2) out[strval(args[i])] = i + 1 < args.length ? args[i + 1] : '';
  return out;
}

function setKey(d: GoMap | null, key: string, value: unknown): GoMap {
  if (d === null) throw new Error('assignment to entry in nil map');
  if (d instanceof Map) d.set(key, value);
  else d[key] = value;
  return d;
}

/** mergo.Merge without overwrite, as Sprig's merge: fills keys that are absent or empty in dst, recursing into maps. */
function mergeInto(dst: Record<string, unknown>, src: GoMap): void {
  for (const [k, v] of mapEntries(src)) {
    const key = String(k);
    const cur = dst[key];
    if (isPlainObject(cur) && isMap(v)) mergeInto(cur, v);
    else if (!Object.hasOwn(dst, key) || empty(cur)) dst[key] = v;
  }
}

function dig(...args: unknown[]): unknown {
  if (args.length < 3) throw new Error(`wrong number of args for dig: want at least 3 got ${args.length}`);
  let cur: unknown = args[args.length - 1];
  const fallback = args[args.length - 2];
  for (const key of args.slice(0, -2)) {
    if (!isMap(cur)) return fallback;
    const got = mapGet(cur, strval(key));
    if (!got.found) return fallback;
    cur = got.value;
  }
  return cur;
}

const S = 'string';

export const listFunctions: FuncMap = {
  list: typed([], (...args: unknown[]) => args, 'any'),
  first: typed(['any'], (l: unknown) => asList(l, 'find first').at(0) ?? null),
  last: typed(['any'], (l: unknown) => asList(l, 'find last').at(-1) ?? null),
  rest: typed(['any'], (l: unknown) => asList(l, 'find rest').slice(1)),
  initial: typed(['any'], (l: unknown) => asList(l, 'find initial').slice(0, -1)),
  append: typed(['any', 'any'], (l: unknown, v: unknown) => [...asList(l, 'append'), v]),
  prepend: typed(['any', 'any'], (l: unknown, v: unknown) => [v, ...asList(l, 'prepend')]),
  concat: typed([], (...lists: unknown[]) => lists.flatMap((l) => asList(l, 'concat')), 'any'),
  reverse: typed(['any'], (l: unknown) => [...asList(l, 'reverse')].reverse()),
  uniq: typed(['any'], (l: unknown) => {
    const out: unknown[] = [];
    for (const x of asList(l, 'uniq')) if (!out.some((y) => deepEqual(x, y))) out.push(x);
    return out;
  }),
  without: typed(
    ['any'],
    (l: unknown, ...omit: unknown[]) => asList(l, 'without').filter((x) => !omit.some((o) => deepEqual(x, o))),
    'any',
  ),
  has: typed(['any', 'any'], (needle: unknown, haystack: unknown) =>
    haystack === null ? false : asList(haystack, 'has').some((x) => deepEqual(x, needle)),
  ),
  compact: typed(['any'], (l: unknown) => asList(l, 'compact').filter((x) => !empty(x))),
  sortAlpha: typed(['any'], (l: unknown) => strslice(l).sort()),
};

export const dictFunctions: FuncMap = {
  dict: typed([], dict, 'any'),
  get: typed(['map', S], (d: GoMap | null, key: string) => {
    if (d === null) return '';
    const got = mapGet(d, key);
    return got.found ? got.value : '';
  }),
  set: typed(['map', S, 'any'], setKey),
  unset: typed(['map', S], (d: GoMap | null, key: string) => {
    if (d instanceof Map) d.delete(key);
    else if (d) delete d[key];
    return d;
  }),
  hasKey: typed(['map', S], (d: GoMap | null, key: string) => d !== null && mapGet(d, key).found),
  keys: typed([], (...dicts: unknown[]) => dicts.flatMap((d) => (isMap(d) ? mapKeys(d) : [])), 'map'),
  values: typed(['map'], (d: GoMap | null) => (d === null ? [] : mapEntries(d).map(([, v]) => v))),
  pluck: typed(
    [S],
    (name: string, ...dicts: Array<GoMap | null>) =>
      dicts.flatMap((d) => {
        if (d === null) return [];
        const got = mapGet(d, name);
        return got.found ? [got.value] : [];
      }),
    'map',
  ),
  merge: typed(
    ['map'],
    (dst: GoMap | null, ...srcs: Array<GoMap | null>) => {
      const target = toPlain(dst ?? {});
      for (const src of srcs) if (src) mergeInto(target, src);
      return target;
    },
    'map',
  ),
  dig: typed([], dig, 'any'),
};
