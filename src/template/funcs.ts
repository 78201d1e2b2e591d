/**
 * Function signatures and Go's text/template builtins (and, or, not, len, index, slice, print*, eq..ge, html, js,
 * urlquery, call), written by hand to reproduce Go's results and error messages.
 */
import { sprint, sprintln } from './format.ts';
import { sprintf } from './sprintf.ts';
import { type GoMap, isMap, isTrue, kindOf, mapGet, mapSize, typeName } from './value.ts';

export type TemplateFunction = (...args: unknown[]) => unknown;
export type FuncMap = Record<string, TemplateFunction>;

/**
 * How the executor checks and converts an argument before a call, like Go's validateType against the parameter type:
 * `value` passes the raw value (missing = undefined, as Go's reflect.Value builtins see it); `any` is interface{}
 * (missing becomes null); the others reject values of the wrong kind with Go's "wrong type for value" error.
 */
export type ParamKind = 'value' | 'any' | 'string' | 'int' | 'float' | 'bool' | 'list' | 'map';

export interface Signature {
  params: ParamKind[];
  variadic?: ParamKind;
}

const signatures = new WeakMap<TemplateFunction, Signature>();

/** Declares a function with Go parameter kinds; functions without a signature take any number of `any` arguments. */
export function typed<A extends unknown[]>(
  params: ParamKind[],
  impl: (...args: A) => unknown,
  variadic?: ParamKind,
): TemplateFunction {
  const f = impl as unknown as TemplateFunction;
  signatures.set(f, { params, variadic });
  return f;
}

export function signatureOf(fn: TemplateFunction): Signature | undefined {
  return signatures.get(fn);
}

export const GO_TYPE: Record<ParamKind, string> = {
  value: 'reflect.Value',
  any: 'interface {}',
  string: 'string',
  int: 'int',
  float: 'float64',
  bool: 'bool',
  list: '[]interface {}',
  map: 'map[string]interface {}',
};

// ---------------------------------------------------------------- comparisons

type BasicKind = 'bool' | 'int' | 'float' | 'string';

function basicKind(v: unknown): BasicKind | undefined {
  const kind = kindOf(v);
  return kind === 'bool' || kind === 'int' || kind === 'float' || kind === 'string' ? kind : undefined;
}

const errBadComparisonType = 'invalid type for comparison';
const errBadComparison = 'incompatible types for comparison';

function eq(arg1: unknown, ...arg2: unknown[]): boolean {
  const a1 = arg1 ?? undefined;
  if (arg2.length === 0) throw new Error('missing argument for comparison');
  const k1 = basicKind(a1);
  for (const arg of arg2) {
    const a = arg ?? undefined;
    const k2 = basicKind(a);
    let truth = false;
    if (k1 !== k2) {
      if (a1 !== undefined && a !== undefined) throw new Error(errBadComparison);
    } else if (k1 === 'int') {
      truth = Number(a1) === Number(a);
    } else if (k1 !== undefined) {
      truth = a1 === a;
    } else if (a1 === undefined || a === undefined) {
      truth = a1 === a;
    } else {
      const t1 = kindOf(a1);
      const t2 = kindOf(a);
      if (t1 !== t2) {
        throw new Error(`non-comparable types ${sprint([a1])}: ${typeName(a1)}, ${typeName(a)}: ${sprint([a])}`);
      }
      if (t1 === 'map' || t1 === 'slice' || t1 === 'func') {
        throw new Error(`non-comparable type ${sprint([a])}: ${typeName(a)}`);
      }
      truth = t1 === 'time' ? (a1 as Date).getTime() === (a as Date).getTime() : a1 === a;
    }
    if (truth) return true;
  }
  return false;
}

function lt(arg1: unknown, arg2: unknown): boolean {
  const k1 = basicKind(arg1);
  if (k1 === undefined) throw new Error(errBadComparisonType);
  const k2 = basicKind(arg2);
  if (k2 === undefined) throw new Error(errBadComparisonType);
  if (k1 !== k2) throw new Error(errBadComparison);
  if (k1 === 'bool') throw new Error(errBadComparisonType);
  if (k1 === 'int') return Number(arg1) < Number(arg2);
  return (arg1 as number | string) < (arg2 as number | string);
}

function le(arg1: unknown, arg2: unknown): boolean {
  return lt(arg1, arg2) || eq(arg1, arg2);
}

// ---------------------------------------------------------------- indexing

function indexArg(index: unknown, cap: number): number {
  if (index === undefined || index === null) throw new Error('cannot index slice/array with nil');
  if (typeof index === 'bigint') index = Number(index);
  if (typeof index !== 'number' || !Number.isSafeInteger(index)) {
    throw new Error(`cannot index slice/array with type ${typeName(index)}`);
  }
  if (index < 0 || index > cap) throw new Error(`index out of range: ${index}`);
  return index;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new Error('index of untyped nil');
  for (const idx of indexes) {
    if (item === undefined || item === null) throw new Error('index of nil pointer');
    if (typeof item === 'string' || Array.isArray(item)) {
      const bytes = typeof item === 'string' ? Buffer.from(item, 'utf8') : undefined;
      const len = bytes ? bytes.length : (item as unknown[]).length;
      const x = indexArg(idx, len);
      if (x === len) throw new Error(`index out of range: ${x}`);
      item = bytes ? bytes[x] : (item as unknown[])[x];
    } else if (isMap(item)) {
      if (typeof idx !== 'string') {
        if (idx === undefined || idx === null) throw new Error('value is nil; should be of type string');
        throw new Error(`value has type ${typeName(idx)}; should be string`);
      }
      const got = mapGet(item, idx);
      item = got.found ? got.value : null;
    } else {
      throw new Error(`can't index item of type ${typeName(item)}`);
    }
  }
  return item;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  let bytes: Buffer | undefined;
  let len: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new Error('cannot 3-index slice a string');
    bytes = Buffer.from(item, 'utf8');
    len = bytes.length;
  } else if (Array.isArray(item)) {
    len = item.length;
  } else {
    throw new Error(`can't slice item of type ${typeName(item)}`);
  }
  const idx = [0, len, len];
  indexes.forEach((x, i) => {
    idx[i] = indexArg(x, len);
  });
  if (idx[0] > idx[1]) throw new Error(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) throw new Error(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  return bytes ? bytes.subarray(idx[0], idx[1]).toString('utf8') : (item as unknown[]).slice(idx[0], idx[1]);
}

function length(item: unknown): number {
  if (item === undefined) throw new Error('len of untyped nil');
  if (item === null) throw new Error('len of nil pointer');
  if (typeof item === 'string') return Buffer.byteLength(item, 'utf8');
  if (Array.isArray(item)) return item.length;
  if (isMap(item)) return mapSize(item as GoMap);
  throw new Error(`len of type ${typeName(item)}`);
}

// ---------------------------------------------------------------- escaping

/** Go's evalArgs for html/js/urlquery: one string as is, otherwise Sprint with missing values as "<no value>". */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === null || a === undefined ? '<no value>' : a)));
}

const HTML_ESCAPES: Record<string, string> = {
  '"': '&#34;',
  "'": '&#39;',
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '\0': '\uFFFD',
};

function htmlEscape(s: string): string {
  return s.replace(/["'&<>\0]/g, (c) => HTML_ESCAPES[c]);
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const JS_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '<': '\\u003C',
  '>': '\\u003E',
  '&': '\\u0026',
  '=': '\\u003D',
};

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (JS_ESCAPES[ch]) out += JS_ESCAPES[ch];
    else if (cp < 0x20) out += `\\u00${cp.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (cp < 0x80 || PRINTABLE.test(ch)) out += ch;
    else out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

/** url.QueryEscape: only A-Z a-z 0-9 - _ . ~ stay; space becomes '+'. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+');
}

// ---------------------------------------------------------------- the builtin table

function and(...args: unknown[]): unknown {
  for (const a of args) if (!isTrue(a)) return a;
  return args[args.length - 1];
}
function or(...args: unknown[]): unknown {
  for (const a of args) if (isTrue(a)) return a;
  return args[args.length - 1];
}

export const builtinAnd = typed(['value'], and, 'value');
export const builtinOr = typed(['value'], or, 'value');

export const goBuiltins: FuncMap = {
  and: builtinAnd,
  or: builtinOr,
  not: typed(['value'], (v: unknown) => !isTrue(v)),
  len: typed(['value'], length),
  index: typed(['value'], index, 'value'),
  slice: typed(['value'], slice, 'value'),
  print: typed([], (...args: unknown[]) => sprint(args), 'any'),
  printf: typed(['string'], (format: string, ...args: unknown[]) => sprintf(format, args), 'any'),
  println: typed([], (...args: unknown[]) => sprintln(args), 'any'),
  eq: typed(['value'], eq, 'value'),
  ne: typed(['value', 'value'], (a: unknown, b: unknown) => !eq(a, b)),
  lt: typed(['value', 'value'], lt),
  le: typed(['value', 'value'], le),
  gt: typed(['value', 'value'], (a: unknown, b: unknown) => !le(a, b)),
  ge: typed(['value', 'value'], (a: unknown, b: unknown) => !lt(a, b)),
  html: typed([], (...args: unknown[]) => htmlEscape(evalArgs(args)), 'any'),
  js: typed([], (...args: unknown[]) => jsEscape(evalArgs(args)), 'any'),
  urlquery: typed([], (...args: unknown[]) => queryEscape(evalArgs(args)), 'any'),
  call: typed(
    ['value'],
    (fn: unknown, ...args: unknown[]) => {
      if (fn === undefined || fn === null) throw new Error('call of nil');
      if (typeof fn !== 'function') throw new Error(`non-function of type ${typeName(fn)}`);
      return fn(...args.map((a) => a ?? null));
    },
    'value',
  ),
};
