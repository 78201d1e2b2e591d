/**
 * Gomplate's namespaces that Atmos stacks reach for (`strings`, `regexp`, `conv`, `coll`, `data`, `math`, `path`,
 * `filepath`, `crypto`, `base64`) and its `getenv`, with Gomplate's argument order: the input comes last, so
 * `{{ .x | regexp.ReplaceLiteral "-" "_" }}` works. A namespace is an object whose functions the template engine
 * calls as methods; a name it lacks is an error listing the ones it has. Written from Gomplate's documented
 * behaviour; docs/templates.md lists what is here and what is not.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { yaml } from '../util/yaml-lib.ts';
import { activeBudget } from './budget.ts';
import type { FuncMap, TemplateFunction } from './funcs.ts';
import { encodingFunctions } from './sprig/encoding.ts';
import { regexFunctions } from './sprig/regex.ts';
import { strval, toFloat64, toInt64 } from './sprig/values.ts';
import { isMap, mapEntries } from './value.ts';

/** A Gomplate namespace: its functions, and its name for error messages. */
export class GomplateNamespace {
  constructor(
    readonly namespace: string,
    functions: Record<string, TemplateFunction>,
  ) {
    Object.assign(this, functions);
  }

  /** The functions it has, for did-you-mean. */
  names(): string[] {
    return Object.keys(this).filter((k) => k !== 'namespace');
  }
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : strval(v));

function list(v: unknown, fn: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw new Error(`${fn}: expected a list, got ${v === null || v === undefined ? 'nil' : typeof v}`);
}

function dict(v: unknown, fn: string): Record<string, unknown> {
  if (isMap(v)) return Object.fromEntries(mapEntries(v).map(([k, x]) => [String(k), x]));
  throw new Error(`${fn}: expected a map`);
}

/** RE2 pattern compiled as the Sprig functions do (one translation for both). */
const re = {
  match: regexFunctions.regexMatch as (r: string, s: string) => boolean,
  find: regexFunctions.regexFind as (r: string, s: string) => string,
  findAll: regexFunctions.regexFindAll as (r: string, s: string, n: number) => string[],
  replace: regexFunctions.regexReplaceAll as (r: string, s: string, repl: string) => string,
  replaceLiteral: regexFunctions.regexReplaceAllLiteral as (r: string, s: string, repl: string) => string,
  split: regexFunctions.regexSplit as (r: string, s: string, n: number) => string[],
};

/** Optional leading count: `f(expr, input)` or `f(expr, n, input)`. */
function withCount(args: unknown[]): { n: number; input: string } {
  return args.length > 1 ? { n: toInt64(args[0]), input: text(args[1]) } : { n: -1, input: text(args[0]) };
}

const words = (s: string): string[] =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);

const strings = {
  Abbrev: (...args: unknown[]) => {
    const input = text(args[args.length - 1]);
    const width = toInt64(args[args.length - 2]);
    return abbreviate(input, args.length > 2 ? toInt64(args[0]) : 0, width);
  },
  CamelCase: (s: unknown) => {
    const [first = '', ...rest] = words(text(s));
    return first + rest.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
  },
  Contains: (substr: unknown, s: unknown) => text(s).includes(text(substr)),
  HasPrefix: (prefix: unknown, s: unknown) => text(s).startsWith(text(prefix)),
  HasSuffix: (suffix: unknown, s: unknown) => text(s).endsWith(text(suffix)),
  Indent: (...args: unknown[]) => {
    const input = text(args[args.length - 1]);
    const width = args.length === 3 ? toInt64(args[0]) : args.length === 2 && typeof args[0] === 'number' ? args[0] : 1;
    const pad = args.length === 3 ? text(args[1]) : args.length === 2 && typeof args[0] === 'string' ? args[0] : ' ';
    return input
      .split('\n')
      .map((line) => (line === '' ? line : pad.repeat(width) + line))
      .join('\n');
  },
  KebabCase: (s: unknown) => joinWords(text(s), '-'),
  Quote: (s: unknown) => JSON.stringify(text(s)),
  Repeat: (count: unknown, s: unknown) => {
    activeBudget().checkSize(toInt64(count) * text(s).length);
    return text(s).repeat(toInt64(count));
  },
  ReplaceAll: (from: unknown, to: unknown, s: unknown) => text(s).replaceAll(text(from), text(to)),
  RuneCount: (...args: unknown[]) => [...args.map(text).join('')].length,
  ShellQuote: (s: unknown) =>
    (Array.isArray(s) ? s : [s]).map((w) => `'${text(w).replaceAll("'", `'"'"'`)}'`).join(' '),
  Slug: (s: unknown) =>
    text(s)
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, ''),
  SnakeCase: (s: unknown) => joinWords(text(s), '_'),
  Split: (separator: unknown, s: unknown) => text(s).split(text(separator)),
  SplitN: (separator: unknown, n: unknown, s: unknown) => {
    const count = toInt64(n);
    const parts = text(s).split(text(separator));
    if (count < 0 || parts.length <= count) return parts;
    return [...parts.slice(0, count - 1), parts.slice(count - 1).join(text(separator))];
  },
  Squote: (s: unknown) => `'${text(s).replaceAll("'", "''")}'`,
  Title: (s: unknown) =>
    text(s).replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, before: string, l: string) => before + l.toUpperCase()),
  ToLower: (s: unknown) => text(s).toLowerCase(),
  ToUpper: (s: unknown) => text(s).toUpperCase(),
  Trim: (cutset: unknown, s: unknown) => trimChars(text(s), text(cutset), true, true),
  TrimLeft: (cutset: unknown, s: unknown) => trimChars(text(s), text(cutset), true, false),
  TrimRight: (cutset: unknown, s: unknown) => trimChars(text(s), text(cutset), false, true),
  TrimPrefix: (prefix: unknown, s: unknown) =>
    text(s).startsWith(text(prefix)) ? text(s).slice(text(prefix).length) : text(s),
  TrimSpace: (s: unknown) => text(s).trim(),
  TrimSuffix: (suffix: unknown, s: unknown) =>
    text(suffix) && text(s).endsWith(text(suffix)) ? text(s).slice(0, -text(suffix).length) : text(s),
  Trunc: (length: unknown, s: unknown) => text(s).slice(0, toInt64(length)),
  WordWrap: (...args: unknown[]) => {
    const input = text(args[args.length - 1]);
    const width = args.length > 1 ? toInt64(args[0]) : 80;
    const lineBreak = args.length > 2 ? text(args[1]) : '\n';
    const lines: string[] = [];
    let line = '';
    for (const word of input.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(line);
    return lines.join(lineBreak);
  },
};

/** Gomplate's snake/kebab case: the first word keeps its case, the others are lower-cased. */
function joinWords(s: string, separator: string): string {
  const [first = '', ...rest] = words(s);
  return [first, ...rest.map((w) => w.toLowerCase())].join(separator);
}

/** Abbreviation with ellipses, from an optional offset (Gomplate follows Apache Commons' abbreviate). */
function abbreviate(input: string, offset: number, width: number): string {
  if (input.length <= width) return input;
  if (width < 4) return input.slice(0, width);
  let from = Math.min(offset, input.length);
  if (input.length - from < width - 3) from = input.length - (width - 3);
  if (from <= 4) return `${input.slice(0, width - 3)}...`;
  if (from + width - 3 < input.length) return `...${abbreviate(input.slice(from), 0, width - 3)}`;
  return `...${input.slice(input.length - (width - 3))}`;
}

function trimChars(value: string, cutset: string, left: boolean, right: boolean): string {
  const chars = new Set(cutset);
  let start = 0;
  let end = value.length;
  while (left && start < end && chars.has(value[start])) start++;
  while (right && end > start && chars.has(value[end - 1])) end--;
  return value.slice(start, end);
}

const regexp = {
  Find: (expression: unknown, input: unknown) => re.find(text(expression), text(input)),
  FindAll: (expression: unknown, ...rest: unknown[]) => {
    const { n, input } = withCount(rest);
    return re.findAll(text(expression), input, n);
  },
  Match: (expression: unknown, input: unknown) => re.match(text(expression), text(input)),
  QuoteMeta: (input: unknown) => text(input).replace(/[\\.+*?()|[\]{}^$]/g, '\\$&'),
  Replace: (expression: unknown, replacement: unknown, input: unknown) =>
    re.replace(text(expression), text(input), text(replacement)),
  ReplaceLiteral: (expression: unknown, replacement: unknown, input: unknown) =>
    re.replaceLiteral(text(expression), text(input), text(replacement)),
  Split: (expression: unknown, ...rest: unknown[]) => {
    const { n, input } = withCount(rest);
    return re.split(text(expression), input, n);
  },
};

function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1;
  return ['1', 't', 'true', 'yes', 'on'].includes(text(v).trim().toLowerCase());
}

/** Gomplate's conv.ToInt64: numbers, numeric strings (hex, octal, binary prefixes), floats truncated; else 0. */
function toInt(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  const s = text(v).trim().replaceAll('_', '');
  if (/^[-+]?0[xob]/i.test(s)) return Number(s.replace(/^([-+]?)0o/i, '$10o')) || 0;
  const n = Number(s);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

const conv = {
  Bool: (v: unknown) => toBool(v),
  Default: (fallback: unknown, v: unknown) => (v === undefined || v === null || v === '' ? fallback : v),
  Has: (collection: unknown, key: unknown) => has(collection, key),
  Join: (items: unknown, separator: unknown) => list(items, 'conv.Join').map(text).join(text(separator)),
  ParseFloat: (s: unknown) => Number(text(s)),
  ParseInt: (s: unknown, base: unknown) => Number.parseInt(text(s), toInt64(base) || 10),
  ToBool: (v: unknown) => toBool(v),
  ToBools: (...v: unknown[]) => v.flat().map(toBool),
  ToFloat64: (v: unknown) => toFloat64(v),
  ToFloat64s: (...v: unknown[]) => v.flat().map(toFloat64),
  ToInt: toInt,
  ToInt64: toInt,
  ToInts: (...v: unknown[]) => v.flat().map(toInt),
  ToInt64s: (...v: unknown[]) => v.flat().map(toInt),
  ToString: (v: unknown) => text(v),
  ToStrings: (...v: unknown[]) => v.flat().map(text),
};

function has(collection: unknown, key: unknown): boolean {
  if (Array.isArray(collection)) return collection.some((x) => x === key);
  if (isMap(collection)) return Object.hasOwn(dict(collection, 'coll.Has'), text(key));
  return false;
}

/** Deep merge where the first map wins (Gomplate's coll.Merge: `dst` takes precedence over each `src`). */
function mergeFirstWins(dst: Record<string, unknown>, src: Record<string, unknown>): Record<string, unknown> {
  const out = { ...src };
  for (const [k, v] of Object.entries(dst)) {
    out[k] = isMap(v) && isMap(out[k]) ? mergeFirstWins(dict(v, 'coll.Merge'), dict(out[k], 'coll.Merge')) : v;
  }
  return out;
}

function flatten(items: unknown[], depth: number): unknown[] {
  return items.flatMap((x) => (Array.isArray(x) && depth !== 0 ? flatten(x, depth - 1) : [x]));
}

const compare = (a: unknown, b: unknown) =>
  typeof a === 'number' && typeof b === 'number' ? a - b : text(a).localeCompare(text(b));

const coll = {
  Append: (value: unknown, items: unknown) => [...list(items, 'coll.Append'), value],
  Dict: (...pairs: unknown[]) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < pairs.length; i += 2) out[text(pairs[i])] = i + 1 < pairs.length ? pairs[i + 1] : '';
    return out;
  },
  Flatten: (...args: unknown[]) =>
    flatten(list(args[args.length - 1], 'coll.Flatten'), args.length > 1 ? toInt64(args[0]) : -1),
  Has: has,
  Keys: (...maps: unknown[]) => maps.flatMap((m) => Object.keys(dict(m, 'coll.Keys')).sort()),
  Merge: (dst: unknown, ...srcs: unknown[]) =>
    srcs.reduce<Record<string, unknown>>((acc, src) => mergeFirstWins(acc, dict(src, 'coll.Merge')), {
      ...dict(dst, 'coll.Merge'),
    }),
  Omit: (...args: unknown[]) => {
    const source = dict(args[args.length - 1], 'coll.Omit');
    const keys = new Set(args.slice(0, -1).flat().map(text));
    return Object.fromEntries(Object.entries(source).filter(([k]) => !keys.has(k)));
  },
  Pick: (...args: unknown[]) => {
    const source = dict(args[args.length - 1], 'coll.Pick');
    const keys = new Set(args.slice(0, -1).flat().map(text));
    return Object.fromEntries(Object.entries(source).filter(([k]) => keys.has(k)));
  },
  Prepend: (value: unknown, items: unknown) => [value, ...list(items, 'coll.Prepend')],
  Reverse: (items: unknown) => [...list(items, 'coll.Reverse')].reverse(),
  Slice: (...items: unknown[]) => items,
  Sort: (...args: unknown[]) => {
    const items = [...list(args[args.length - 1], 'coll.Sort')];
    const key = args.length > 1 ? text(args[0]) : undefined;
    return items.sort((a, b) => (key ? compare(dict(a, 'coll.Sort')[key], dict(b, 'coll.Sort')[key]) : compare(a, b)));
  },
  Uniq: (items: unknown) => [...new Set(list(items, 'coll.Uniq'))],
  Values: (...maps: unknown[]) =>
    maps.flatMap((m) => {
      const d = dict(m, 'coll.Values');
      return Object.keys(d)
        .sort()
        .map((k) => d[k]);
    }),
};

function parseJson(input: unknown, fn: string): unknown {
  try {
    return JSON.parse(text(input));
  } catch (error) {
    throw new Error(`${fn}: unable to parse JSON: ${(error as Error).message}`);
  }
}

function parseYamlText(input: unknown, fn: string): unknown {
  try {
    return yaml().parse(text(input));
  } catch (error) {
    throw new Error(`${fn}: unable to parse YAML: ${(error as Error).message}`);
  }
}

function expect<T>(value: T, check: (v: T) => boolean, fn: string, kind: string): T {
  if (!check(value)) throw new Error(`${fn}: expected ${kind}`);
  return value;
}

const toJson = encodingFunctions.toJson as (v: unknown) => string;
const toYaml = encodingFunctions.toYaml as (v: unknown) => string;

const data = {
  JSON: (input: unknown) => expect(parseJson(input, 'data.JSON'), isMap, 'data.JSON', 'a JSON object'),
  JSONArray: (input: unknown) =>
    expect(parseJson(input, 'data.JSONArray'), Array.isArray, 'data.JSONArray', 'a JSON array'),
  YAML: (input: unknown) => expect(parseYamlText(input, 'data.YAML'), isMap, 'data.YAML', 'a YAML mapping'),
  YAMLArray: (input: unknown) =>
    expect(parseYamlText(input, 'data.YAMLArray'), Array.isArray, 'data.YAMLArray', 'a YAML sequence'),
  ToJSON: (v: unknown) => toJson(v),
  ToJSONPretty: (indent: unknown, v: unknown) => JSON.stringify(JSON.parse(toJson(v)), null, text(indent)),
  ToYAML: (v: unknown) => toYaml(v),
};

const numbers = (args: unknown[]) => args.flat().map(toFloat64);
/** Gomplate's math returns an int when every argument is an integer. */
const whole = (args: unknown[], value: number) =>
  args.flat().every((a) => Number.isInteger(typeof a === 'number' ? a : Number(text(a)))) ? Math.trunc(value) : value;

const math = {
  Abs: (n: unknown) => Math.abs(toFloat64(n)),
  Add: (...n: unknown[]) =>
    whole(
      n,
      numbers(n).reduce((a, b) => a + b, 0),
    ),
  Ceil: (n: unknown) => Math.ceil(toFloat64(n)),
  Div: (a: unknown, b: unknown) => {
    if (toFloat64(b) === 0) throw new Error('math.Div: divide by 0');
    return toFloat64(a) / toFloat64(b);
  },
  Floor: (n: unknown) => Math.floor(toFloat64(n)),
  IsFloat: (n: unknown) =>
    /^[-+]?\d*\.\d+(e[-+]?\d+)?$/i.test(text(n)) || (typeof n === 'number' && !Number.isInteger(n)),
  IsInt: (n: unknown) => /^[-+]?\d+$/.test(text(n)),
  IsNum: (n: unknown) => text(n).trim() !== '' && Number.isFinite(Number(text(n))),
  Max: (...n: unknown[]) => whole(n, Math.max(...numbers(n))),
  Min: (...n: unknown[]) => whole(n, Math.min(...numbers(n))),
  Mul: (...n: unknown[]) =>
    whole(
      n,
      numbers(n).reduce((a, b) => a * b, 1),
    ),
  Pow: (a: unknown, b: unknown) => whole([a, b], toFloat64(a) ** toFloat64(b)),
  Rem: (a: unknown, b: unknown) => toInt64(a) % toInt64(b),
  Round: (n: unknown) => Math.sign(toFloat64(n)) * Math.round(Math.abs(toFloat64(n))),
  Seq: (...args: unknown[]) => {
    const [start, end, step] =
      args.length === 1 ? [1, toInt64(args[0]), 1] : [toInt64(args[0]), toInt64(args[1]), toInt64(args[2] ?? 1)];
    const by = step === 0 ? 1 : Math.abs(step) * (end >= start ? 1 : -1);
    const out: number[] = [];
    for (let i = start; by > 0 ? i <= end : i >= end; i += by) out.push(i);
    return out;
  },
  Sub: (a: unknown, b: unknown) => whole([a, b], toFloat64(a) - toFloat64(b)),
};

const paths = {
  Base: (p: unknown) => posix.basename(text(p)) || (text(p) === '' ? '.' : '/'),
  Clean: (p: unknown) => posix.normalize(text(p) || '.').replace(/(.)\/$/, '$1'),
  Dir: (p: unknown) => posix.dirname(text(p)),
  Ext: (p: unknown) => posix.extname(text(p)),
  IsAbs: (p: unknown) => posix.isAbsolute(text(p)),
  Join: (...parts: unknown[]) => posix.join(...parts.flat().map(text)),
  Split: (p: unknown) => {
    const value = text(p);
    const at = value.lastIndexOf('/') + 1;
    return [value.slice(0, at), value.slice(at)];
  },
};

const digest = (algorithm: string) => (input: unknown) => createHash(algorithm).update(text(input)).digest('hex');

const crypto = {
  SHA1: digest('sha1'),
  SHA224: digest('sha224'),
  SHA256: digest('sha256'),
  SHA384: digest('sha384'),
  SHA512: digest('sha512'),
};

const base64 = {
  Encode: (input: unknown) => Buffer.from(text(input)).toString('base64'),
  Decode: (input: unknown) => Buffer.from(text(input), 'base64').toString('utf8'),
};

const NAMESPACES: Record<string, Record<string, TemplateFunction>> = {
  strings,
  regexp,
  conv,
  coll,
  data,
  math,
  path: paths,
  filepath: paths,
  crypto,
  base64,
};

/** Gomplate's `getenv NAME [default]`: the default also when the variable is set but empty. */
function getenv(name: unknown, fallback?: unknown): string {
  const value = process.env[text(name)];
  return value === undefined || value === '' ? text(fallback) : value;
}

/** The Gomplate functions, as a FuncMap: each namespace is a function returning its object. */
export const gomplateFunctions: FuncMap = {
  ...Object.fromEntries(
    Object.entries(NAMESPACES).map(([name, fns]) => {
      const namespace = new GomplateNamespace(name, fns);
      return [name, () => namespace];
    }),
  ),
  getenv,
};

/** What is supported, namespace by namespace (for docs and the table test). */
export function gomplateInventory(): Record<string, string[]> {
  return Object.fromEntries(Object.entries(NAMESPACES).map(([name, fns]) => [name, Object.keys(fns).sort()]));
}
