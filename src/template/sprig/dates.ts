/** Sprig's date functions (local time, as Sprig's `date`), formatted with Go's reference-time layouts. */
import { type FuncMap, typed } from '../funcs.ts';
import { formatGoTime } from '../time.ts';
import { typeName } from '../value.ts';

function toDate(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number' || typeof v === 'bigint') return new Date(Number(v) * 1000);
  throw new Error(`date: expected a time or unix seconds, got ${typeName(v)}`);
}

function dateInZone(layout: string, date: unknown, zone: string): string {
  if (zone !== 'UTC' && zone !== 'Local' && zone !== '') throw new Error(`unknown time zone ${zone}`);
  return formatGoTime(toDate(date), layout, zone === 'UTC');
}

const S = 'string';

export const dateFunctions: FuncMap = {
  now: typed([], () => new Date()),
  date: typed([S, 'any'], (layout: string, d: unknown) => dateInZone(layout, d, 'Local')),
  dateInZone: typed([S, 'any', S], dateInZone),
  htmlDate: typed(['any'], (d: unknown) => dateInZone('2006-01-02', d, 'Local')),
  unixEpoch: typed(['any'], (d: unknown) => String(Math.floor(toDate(d).getTime() / 1000))),
};
