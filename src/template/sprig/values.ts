/** Sprig's conversions (strval, cast.To*), its notion of empty, and the default/logic and type-test functions. */

import { formatValue } from '../format.ts';
import { type FuncMap, typed } from '../funcs.ts';
import { type GoMap, isMap, kindOf, mapEntries, mapKeys, typeName } from '../value.ts';

export function strval(v: unknown): string {
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
export function toInt64(v: unknown): number {
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
export function toFloat64(v: unknown): number {
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
export function empty(v: unknown): boolean {
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
export function strslice(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(strval);
  if (v === null || v === undefined) return [];
  return [strval(v)];
}

export function asList(v: unknown, fnName: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw new Error(`Cannot ${fnName} on type ${v === null || v === undefined ? '<nil>' : typeName(v)}`);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ea = mapEntries(a);
    const eb = mapEntries(b);
    return ea.length === eb.length && ea.every(([k, v], i) => k === eb[i][0] && deepEqual(v, eb[i][1]));
  }
  return false;
}

export function toPlain(m: GoMap): Record<string, unknown> {
  return m instanceof Map ? Object.fromEntries([...m.entries()].map(([k, v]) => [String(k), v])) : m;
}

const S = 'string';

export const logicFunctions: FuncMap = {
  default: typed(
    ['any'],
    (d: unknown, ...given: unknown[]) => (given.length === 0 || empty(given[0]) ? d : given[0]),
    'any',
  ),
  empty: typed(['any'], empty),
  coalesce: typed([], (...args: unknown[]) => args.find((a) => !empty(a)) ?? null, 'any'),
  ternary: typed(['any', 'any', 'bool'], (vt: unknown, vf: unknown, cond: boolean) => (cond ? vt : vf)),
};

export const typeFunctions: FuncMap = {
  typeOf: typed(['any'], (v: unknown) => typeName(v)),
  kindOf: typed(['any'], (v: unknown) => goKind(v)),
  kindIs: typed([S, 'any'], (kind: string, v: unknown) => goKind(v) === kind),
  typeIs: typed([S, 'any'], (t: string, v: unknown) => typeName(v) === t),
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
