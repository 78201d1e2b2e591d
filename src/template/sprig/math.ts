/** Sprig's number conversions and arithmetic: integer math truncates to int64 as Sprig's does. */
import { activeBudget } from '../budget.ts';
import { type FuncMap, typed } from '../funcs.ts';
import { toFloat64, toInt64 } from './values.ts';

function goDiv(a: number, b: number): number {
  if (b === 0) throw new Error('runtime error: integer divide by zero');
  return Math.trunc(a / b);
}

const S = 'string';
const I = 'int';

export const mathFunctions: FuncMap = {
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
  until: typed([I], (n: number) => {
    activeBudget().iterate(Math.max(0, n));
    return Array.from({ length: Math.max(0, n) }, (_, i) => i);
  }),
};
