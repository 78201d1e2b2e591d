/**
 * The Sprig functions Atmos stacks use, re-implemented by hand with Sprig's argument order, Go parameter types and
 * quirks (`default` treats every empty value as unset, arithmetic truncates to int64, `get` returns "" when absent).
 * Differences from Sprig are listed in docs/templates.md.
 */
import { createHash, randomUUID } from 'node:crypto';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  formatValue,
  type GoMap,
  isMap,
  isPlainObject,
  kindOf,
  mapEntries,
  mapGet,
  mapKeys,
  typeName,
} from './format.ts';
import { type FuncMap, typed } from './funcs.ts';
import { goQuote } from './quote.ts';
import { formatGoTime } from './time.ts';

// ---------------------------------------------------------------- conversions (Sprig's strval, cast.To*)

/** Sprig's strval: strings as is, everything else as fmt's %v. */
function strval(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof Error) return v.message;
  return formatValue(v ?? null);
}

function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2].replaceAll('_', '');
  let n: number;
  if (/^0[xX]/.test(body)) n = Number.parseInt(body.slice(2), 16);
  else if (/^0[bB]/.test(body)) n = Number.parseInt(body.slice(2), 2);
  else if (/^0[oO]/.test(body)) n = Number.parseInt(body.slice(2), 8);
  else if (/^0\d/.test(body)) n = Number.parseInt(body.slice(1), 8);
  else n = Number(body);
  return m[1] === '-' ? -n : n;
}

/** cast.ToInt64: numbers truncate, strings parse (base prefixes, "3.0"), bools are 0/1, anything else is 0. */
function toInt64(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? Math.trunc(v) : 0;
    case 'bigint':
      return Number(v);
    case 'boolean':
      return v ? 1 : 0;
    case 'string': {
      const n = parseGoInt(v.replace(/^([+-]?\d+)\.0*$/, '$1'));
      return n === undefined || Number.isNaN(n) ? 0 : n;
    }
  }
  return 0;
}

/** cast.ToFloat64. */
function toFloat64(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return v;
    case 'bigint':
      return Number(v);
    case 'boolean':
      return v ? 1 : 0;
    case 'string': {
      const t = v.trim() === v ? v : '';
      if (!/^[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Inf|inf|NaN)$/.test(t)) return 0;
      if (/Inf|inf/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
      return Number(t.replaceAll('_', ''));
    }
  }
  return 0;
}

/** Sprig's empty: nil, false, 0, "" and empty collections. */
function empty(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return true;
    case 'bool':
      return v === false;
    case 'int':
    case 'float':
      return Number(v) === 0;
    case 'string':
      return (v as string).length === 0;
    case 'slice':
      return (v as unknown[]).length === 0;
    case 'map':
      return mapKeys(v as GoMap).length === 0;
    default:
      return false;
  }
}

/** Sprig's strslice: lists become strings (nils dropped), nil is empty, a scalar is a one-element list. */
function strslice(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(strval);
  if (v === null || v === undefined) return [];
  return [strval(v)];
}

function asList(v: unknown, fnName: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw new Error(`Cannot ${fnName} on type ${v === null || v === undefined ? '<nil>' : typeName(v)}`);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ea = mapEntries(a);
    const eb = mapEntries(b);
    return ea.length === eb.length && ea.every(([k, v], i) => k === eb[i][0] && deepEqual(v, eb[i][1]));
  }
  return false;
}

function toPlain(m: GoMap): Record<string, unknown> {
  return m instanceof Map ? Object.fromEntries([...m.entries()].map(([k, v]) => [String(k), v])) : m;
}

function goDiv(a: number, b: number): number {
  if (b === 0) throw new Error('runtime error: integer divide by zero');
  return Math.trunc(a / b);
}

// ---------------------------------------------------------------- strings

/** strings.Title: upper-case the first letter after every separator (Go's isSeparator). */
function title(s: string): string {
  let prevSep = true;
  let out = '';
  for (const ch of s) {
    out += prevSep ? ch.toUpperCase() : ch;
    prevSep = isSeparator(ch);
  }
  return out;
}

function untitle(s: string): string {
  let prevSep = true;
  let out = '';
  for (const ch of s) {
    out += prevSep ? ch.toLowerCase() : ch;
    prevSep = isSeparator(ch);
  }
  return out;
}

function isSeparator(ch: string): boolean {
  if (/^[0-9A-Za-z_]$/.test(ch)) return false;
  if (ch.charCodeAt(0) < 0x80) return true;
  if (/^[\p{L}\p{Nd}]$/u.test(ch)) return false;
  return /^\s$/u.test(ch);
}

/** Words for snakecase/kebabcase: split at separators, lower→Upper and ACRONYM→Word boundaries. */
function words(s: string): string[] {
  return s.match(/\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?[\p{Ll}\p{Nd}]+|\p{Lu}+[\p{Nd}]*|\p{Nd}+/gu) ?? [];
}

/** xstrings.ToCamelCase as Sprig uses it: "http_server" -> "HttpServer"; only '_' separates words. */
function camelcase(s: string): string {
  if (s === '') return '';
  const chars = [...s];
  let i = 0;
  let out = '';
  while (i < chars.length && chars[i] === '_') out += chars[i++];
  if (i === chars.length) return out;
  let r0 = chars[i++].toUpperCase();
  for (; i < chars.length; i++) {
    const r1 = r0;
    r0 = chars[i];
    if (r1 === '_' && r0 === '_') {
      out += r1;
      continue;
    }
    if (r1 === '_') r0 = r0.toUpperCase();
    else out += r1;
  }
  return out + r0;
}

function substr(start: number, end: number, s: string): string {
  if (start < 0) return sliceChecked(s, 0, end);
  if (end < 0 || end > s.length) return sliceChecked(s, start, s.length);
  return sliceChecked(s, start, end);
}

function sliceChecked(s: string, start: number, end: number): string {
  if (start < 0 || end > s.length || start > end)
    throw new Error(`runtime error: slice bounds out of range [${start}:${end}]`);
  return s.slice(start, end);
}

function trunc(c: number, s: string): string {
  if (c < 0 && s.length + c > 0) return s.slice(s.length + c);
  if (c >= 0 && s.length > c) return s.slice(0, c);
  return s;
}

function indent(spaces: number, s: string): string {
  const pad = ' '.repeat(Math.max(0, spaces));
  return pad + s.replaceAll('\n', `\n${pad}`);
}

function goSplit(sep: string, s: string): string[] {
  return sep === '' ? Array.from(s) : s.split(sep);
}

// ---------------------------------------------------------------- regular expressions (RE2 syntax -> JS)

const regexCache = new Map<string, RegExp>();

/** Translates the RE2 syntax Go accepts into a JS RegExp: leading (?flags), (?P<name>), \A and \z. */
function goRegex(pattern: string, global: boolean): RegExp {
  const key = `${global ? 'g' : ''}\0${pattern}`;
  const cached = regexCache.get(key);
  if (cached) return cached;
  let source = pattern;
  let flags = global ? 'g' : '';
  const m = /^\(\?([imsU]+)\)/.exec(source);
  if (m) {
    if (m[1].includes('U')) throw new Error(`error parsing regexp: flag U is not supported: \`${pattern}\``);
    flags += [...new Set(m[1])].join('');
    source = source.slice(m[0].length);
  }
  source = source.replaceAll('(?P<', '(?<').replace(/\\A/g, '^').replace(/\\z/g, '$(?![\\s\\S])');
  let re: RegExp;
  try {
    re = new RegExp(source, `${flags}u`);
  } catch {
    try {
      re = new RegExp(source, flags);
    } catch (error) {
      throw new Error(`error parsing regexp: ${(error as Error).message}: \`${pattern}\``);
    }
  }
  if (regexCache.size > 500) regexCache.clear();
  regexCache.set(key, re);
  return re;
}

/** Go's Regexp.Expand template: $1, ${1}, $name, ${name}, $$. */
function expand(template: string, match: RegExpExecArray): string {
  return template.replace(
    /\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g,
    (_, all: string, braced?: string, bare?: string) => {
      if (all === '$') return '$';
      const name = braced ?? bare ?? '';
      if (/^\d+$/.test(name)) return match[Number(name)] ?? '';
      return match.groups?.[name] ?? '';
    },
  );
}

function regexReplaceAll(regex: string, s: string, repl: string): string {
  const re = goRegex(regex, true);
  return s.replace(re, (...args: unknown[]) => {
    const groupsArg = args[args.length - 1];
    const hasGroups = typeof groupsArg === 'object' && groupsArg !== null;
    const captures = args.slice(0, hasGroups ? -3 : -2) as string[];
    const match = Object.assign([...captures], {
      groups: hasGroups ? (groupsArg as Record<string, string>) : undefined,
    });
    return expand(repl, match as unknown as RegExpExecArray);
  });
}

// ---------------------------------------------------------------- data structures

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

// ---------------------------------------------------------------- encodings

/** Go's encoding/json output: map keys sorted, <, > and & escaped as \u003c, \u003e, \u0026, non-finite numbers rejected. */
function goJson(v: unknown, indent = '', level = 0): string {
  const nl = indent ? `\n${indent.repeat(level + 1)}` : '';
  const close = indent ? `\n${indent.repeat(level)}` : '';
  const sep = indent ? ': ' : ':';
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return 'null';
    case 'bool':
      return String(v);
    case 'int':
    case 'float':
      if (!Number.isFinite(Number(v))) throw new Error(`json: unsupported value: ${formatValue(v)}`);
      return String(v);
    case 'string':
      return JSON.stringify(v).replace(
        /[<>&\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
    case 'slice': {
      const items = (v as unknown[]).map((x) => goJson(x, indent, level + 1));
      return items.length === 0 ? '[]' : `[${nl}${items.join(`,${nl}`)}${close}]`;
    }
    case 'map':
    case 'struct': {
      const entries = isMap(v) ? mapEntries(v) : Object.entries(v as object);
      const items = entries.map(
        ([k, x]) => `${goJson(String(k), indent, level + 1)}${sep}${goJson(x, indent, level + 1)}`,
      );
      return items.length === 0 ? '{}' : `{${nl}${items.join(`,${nl}`)}${close}}`;
    }
    case 'time':
      return JSON.stringify(v);
    default:
      throw new Error(`json: unsupported type: ${typeName(v)}`);
  }
}

function b64dec(s: string): string {
  const bad = /[^A-Za-z0-9+/=]/.exec(s);
  if (bad) return `illegal base64 data at input byte ${Buffer.byteLength(s.slice(0, bad.index))}`;
  if (s.length % 4 !== 0 || /=[^=]/.test(s))
    return `illegal base64 data at input byte ${Math.max(0, s.length - (s.length % 4 || 4))}`;
  return Buffer.from(s, 'base64').toString('utf8');
}

// ---------------------------------------------------------------- dates

function toDate(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number' || typeof v === 'bigint') return new Date(Number(v) * 1000);
  throw new Error(`date: expected a time or unix seconds, got ${typeName(v)}`);
}

function dateInZone(layout: string, date: unknown, zone: string): string {
  if (zone !== 'UTC' && zone !== 'Local' && zone !== '') throw new Error(`unknown time zone ${zone}`);
  return formatGoTime(toDate(date), layout, zone === 'UTC');
}

// ---------------------------------------------------------------- the table

const S = 'string';
const I = 'int';

export const sprigFunctions: FuncMap = {
  // strings
  upper: typed([S], (s: string) => s.toUpperCase()),
  lower: typed([S], (s: string) => s.toLowerCase()),
  title: typed([S], title),
  untitle: typed([S], untitle),
  trim: typed([S], (s: string) => s.trim()),
  trimAll: typed([S, S], (cutset: string, s: string) => {
    const set = new Set(cutset);
    const chars = [...s];
    let a = 0;
    let b = chars.length;
    while (a < b && set.has(chars[a])) a++;
    while (b > a && set.has(chars[b - 1])) b--;
    return chars.slice(a, b).join('');
  }),
  trimPrefix: typed([S, S], (prefix: string, s: string) => (s.startsWith(prefix) ? s.slice(prefix.length) : s)),
  trimSuffix: typed([S, S], (suffix: string, s: string) =>
    suffix !== '' && s.endsWith(suffix) ? s.slice(0, -suffix.length) : s,
  ),
  replace: typed([S, S, S], (old: string, repl: string, s: string) => s.replaceAll(old, repl)),
  quote: typed(
    [],
    (...args: unknown[]) =>
      strslice(args)
        .map((s) => goQuote(s))
        .join(' '),
    'any',
  ),
  squote: typed(
    [],
    (...args: unknown[]) =>
      strslice(args)
        .map((s) => `'${s}'`)
        .join(' '),
    'any',
  ),
  cat: typed([], (...args: unknown[]) => strslice(args).join(' '), 'any'),
  contains: typed([S, S], (sub: string, s: string) => s.includes(sub)),
  hasPrefix: typed([S, S], (prefix: string, s: string) => s.startsWith(prefix)),
  hasSuffix: typed([S, S], (suffix: string, s: string) => s.endsWith(suffix)),
  split: typed([S, S], (sep: string, s: string) =>
    Object.fromEntries(goSplit(sep, s).map((part, i) => [`_${i}`, part])),
  ),
  splitList: typed([S, S], goSplit),
  join: typed([S, 'any'], (sep: string, v: unknown) => strslice(v).join(sep)),
  repeat: typed([I, S], (count: number, s: string) => {
    if (count < 0) throw new Error('strings: negative Repeat count');
    return s.repeat(count);
  }),
  substr: typed([I, I, S], substr),
  trunc: typed([I, S], trunc),
  nospace: typed([S], (s: string) => s.replace(/\s/gu, '')),
  indent: typed([I, S], indent),
  nindent: typed([I, S], (n: number, s: string) => `\n${indent(n, s)}`),
  kebabcase: typed([S], (s: string) =>
    words(s)
      .map((w) => w.toLowerCase())
      .join('-'),
  ),
  snakecase: typed([S], (s: string) =>
    words(s)
      .map((w) => w.toLowerCase())
      .join('_'),
  ),
  camelcase: typed([S], camelcase),
  toString: typed(['any'], strval),
  toStrings: typed(['any'], strslice),
  // defaults and logic
  default: typed(
    ['any'],
    (d: unknown, ...given: unknown[]) => (given.length === 0 || empty(given[0]) ? d : given[0]),
    'any',
  ),
  empty: typed(['any'], empty),
  coalesce: typed([], (...args: unknown[]) => args.find((a) => !empty(a)) ?? null, 'any'),
  ternary: typed(['any', 'any', 'bool'], (vt: unknown, vf: unknown, cond: boolean) => (cond ? vt : vf)),
  // conversions and math (Sprig's integer math truncates to int64)
  atoi: typed([S], (s: string) => (/^[+-]?\d+$/.test(s) ? Number(s) : 0)),
  int: typed(['any'], toInt64),
  int64: typed(['any'], toInt64),
  float64: typed(['any'], toFloat64),
  add: typed([], (...args: unknown[]) => args.reduce<number>((sum, x) => sum + toInt64(x), 0), 'any'),
  add1: typed(['any'], (v: unknown) => toInt64(v) + 1),
  sub: typed(['any', 'any'], (a: unknown, b: unknown) => toInt64(a) - toInt64(b)),
  mul: typed(
    ['any'],
    (a: unknown, ...rest: unknown[]) => rest.reduce<number>((p, x) => p * toInt64(x), toInt64(a)),
    'any',
  ),
  div: typed(['any', 'any'], (a: unknown, b: unknown) => goDiv(toInt64(a), toInt64(b))),
  mod: typed(['any', 'any'], (a: unknown, b: unknown) => {
    const d = toInt64(b);
    if (d === 0) throw new Error('runtime error: integer divide by zero');
    return toInt64(a) % d;
  }),
  max: typed(['any'], (a: unknown, ...rest: unknown[]) => Math.max(toInt64(a), ...rest.map(toInt64)), 'any'),
  min: typed(['any'], (a: unknown, ...rest: unknown[]) => Math.min(toInt64(a), ...rest.map(toInt64)), 'any'),
  addf: typed([], (...args: unknown[]) => args.reduce<number>((sum, x) => sum + toFloat64(x), 0), 'any'),
  subf: typed(
    ['any'],
    (a: unknown, ...rest: unknown[]) => rest.reduce<number>((d, x) => d - toFloat64(x), toFloat64(a)),
    'any',
  ),
  mulf: typed(
    ['any'],
    (a: unknown, ...rest: unknown[]) => rest.reduce<number>((p, x) => p * toFloat64(x), toFloat64(a)),
    'any',
  ),
  divf: typed(
    ['any'],
    (a: unknown, ...rest: unknown[]) => rest.reduce<number>((q, x) => q / toFloat64(x), toFloat64(a)),
    'any',
  ),
  floor: typed(['any'], (v: unknown) => Math.floor(toFloat64(v))),
  ceil: typed(['any'], (v: unknown) => Math.ceil(toFloat64(v))),
  round: typed(['any', I], (v: unknown, places: number) => {
    const f = 10 ** places;
    return Math.round(toFloat64(v) * f) / f;
  }),
  until: typed([I], (n: number) => Array.from({ length: Math.max(0, n) }, (_, i) => i)),
  // lists
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
  // dicts
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
  // encodings
  toJson: typed(['any'], (v: unknown) => {
    try {
      return goJson(v);
    } catch {
      return '';
    }
  }),
  mustToJson: typed(['any'], (v: unknown) => goJson(v)),
  toPrettyJson: typed(['any'], (v: unknown) => {
    try {
      return goJson(v, '  ', 0);
    } catch {
      return '';
    }
  }),
  fromJson: typed([S], (s: string) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return null;
    }
  }),
  toYaml: typed(['any'], (v: unknown) =>
    stringifyYaml(v ?? null, { sortMapEntries: true, indentSeq: false, lineWidth: 0 }).replace(/\n$/, ''),
  ),
  fromYaml: typed([S], (s: string) => {
    try {
      const parsed = parseYaml(s) as unknown;
      if (parsed === null || parsed === undefined) return {};
      if (!isMap(parsed))
        throw new Error(`cannot unmarshal ${typeName(parsed)} into Go value of type map[string]interface {}`);
      return parsed;
    } catch (error) {
      return { Error: (error as Error).message };
    }
  }),
  b64enc: typed([S], (s: string) => Buffer.from(s, 'utf8').toString('base64')),
  b64dec: typed([S], b64dec),
  sha256sum: typed([S], (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')),
  sha1sum: typed([S], (s: string) => createHash('sha1').update(s, 'utf8').digest('hex')),
  uuidv4: typed([], () => randomUUID()),
  // environment
  env: typed([S], (name: string) => process.env[name] ?? ''),
  expandenv: typed([S], (s: string) =>
    s.replace(
      /\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g,
      (_, braced?: string, bare?: string) => process.env[braced ?? bare ?? ''] ?? '',
    ),
  ),
  // regular expressions
  regexMatch: typed([S, S], (regex: string, s: string) => goRegex(regex, false).test(s)),
  regexFind: typed([S, S], (regex: string, s: string) => goRegex(regex, false).exec(s)?.[0] ?? ''),
  regexFindAll: typed([S, S, I], (regex: string, s: string, n: number) => {
    const all = [...s.matchAll(goRegex(regex, true))].map((m) => m[0]);
    return n < 0 ? all : all.slice(0, n);
  }),
  regexReplaceAll: typed([S, S, S], regexReplaceAll),
  regexReplaceAllLiteral: typed([S, S, S], (regex: string, s: string, repl: string) =>
    s.replace(goRegex(regex, true), () => repl),
  ),
  regexSplit: typed([S, S, I], (regex: string, s: string, n: number) => {
    if (n === 0) return [];
    const out: string[] = [];
    let last = 0;
    for (const m of s.matchAll(goRegex(regex, true))) {
      if (n > 0 && out.length === n - 1) break;
      if (m[0] === '' && (m.index === 0 || m.index === s.length)) continue;
      out.push(s.slice(last, m.index));
      last = m.index + m[0].length;
    }
    out.push(s.slice(last));
    return out;
  }),
  // types
  typeOf: typed(['any'], (v: unknown) => typeName(v)),
  kindOf: typed(['any'], (v: unknown) => goKind(v)),
  kindIs: typed([S, 'any'], (kind: string, v: unknown) => goKind(v) === kind),
  typeIs: typed([S, 'any'], (t: string, v: unknown) => typeName(v) === t),
  // dates (local time, as Sprig's date)
  now: typed([], () => new Date()),
  date: typed([S, 'any'], (layout: string, d: unknown) => dateInZone(layout, d, 'Local')),
  dateInZone: typed([S, 'any', S], dateInZone),
  htmlDate: typed(['any'], (d: unknown) => dateInZone('2006-01-02', d, 'Local')),
  unixEpoch: typed(['any'], (d: unknown) => String(Math.floor(toDate(d).getTime() / 1000))),
};

function goKind(v: unknown): string {
  const k = kindOf(v);
  switch (k) {
    case 'invalid':
    case 'nil':
      return 'invalid';
    case 'float':
      return 'float64';
    case 'time':
    case 'struct':
      return 'struct';
    default:
      return k;
  }
}
