/**
 * fmt-style printing (%v, Sprint, Sprintln and the verbs Sprintf uses), written by hand because template output must
 * match Go byte for byte: `map[a:1 b:2]`, `[a b]`, `<nil>`, floats as strconv.FormatFloat prints them.
 */
import { canBackquote, goQuote, goQuoteRune } from './quote.ts';
import { formatFloat } from './strconv.ts';
import { goTimeString } from './time.ts';
import { type GoMap, kindOf, mapEntries, typeName } from './value.ts';

export interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  wid: number;
  prec: number;
}

export function newFlags(): Flags {
  return {
    plus: false,
    minus: false,
    sharp: false,
    space: false,
    zero: false,
    plusV: false,
    sharpV: false,
    wid: -1,
    prec: -1,
  };
}

export const DEFAULT_FLAGS: Readonly<Flags> = newFlags();

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, f: Flags, zeroOk = true): string {
  if (f.wid < 0) return s;
  const width = f.wid - runeCount(s);
  if (width <= 0) return s;
  if (f.minus) return s + ' '.repeat(width);
  return (f.zero && zeroOk ? '0' : ' ').repeat(width) + s;
}

function badVerb(verb: string, arg: unknown): string {
  if (arg === undefined || arg === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(arg)}=${printArg(arg, 'v', DEFAULT_FLAGS, 0)})`;
}

function fmtInteger(v: number | bigint, verb: string, f: Flags): string {
  let base = 10;
  switch (verb) {
    case 'v':
    case 'd':
      break;
    case 'b':
      base = 2;
      break;
    case 'o':
    case 'O':
      base = 8;
      break;
    case 'x':
    case 'X':
      base = 16;
      break;
    case 'c':
      return pad(codePointString(Number(v)), f);
    case 'q':
      return pad(goQuoteRune(Number(v), f.plus), f);
    case 'U': {
      const n = Number(v);
      let s = `U+${n.toString(16).toUpperCase().padStart(4, '0')}`;
      if (f.sharp && n >= 0 && n <= 0x10ffff) s += ` '${codePointString(n)}'`;
      return pad(s, f);
    }
    default:
      return badVerb(verb, v);
  }
  const negative = v < 0;
  let digits = (negative ? -v : v).toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  let prec = -1;
  if (f.prec >= 0) {
    prec = f.prec;
    if (prec === 0 && Number(v) === 0) return pad('', { ...f, zero: false });
  } else if (f.zero && !f.minus && f.wid >= 0) {
    prec = f.wid;
    if (negative || f.plus || f.space) prec--;
  }
  if (digits.length < prec) digits = digits.padStart(prec, '0');
  if (f.sharp) {
    if (base === 2) digits = `0b${digits}`;
    else if (base === 8 && digits[0] !== '0') digits = `0${digits}`;
    else if (base === 16) digits = (verb === 'X' ? '0X' : '0x') + digits;
  }
  if (verb === 'O') digits = `0o${digits}`;
  if (negative) digits = `-${digits}`;
  else if (f.plus) digits = `+${digits}`;
  else if (f.space) digits = ` ${digits}`;
  return pad(digits, f, false);
}

function codePointString(n: number): string {
  return n >= 0 && n <= 0x10ffff && !(n >= 0xd800 && n < 0xe000) ? String.fromCodePoint(n) : '\ufffd';
}

function fmtFloat(v: number, verb: string, f: Flags): string {
  let fmt: string;
  let prec: number;
  switch (verb) {
    case 'v':
      fmt = 'g';
      prec = -1;
      break;
    case 'g':
    case 'G':
      fmt = verb;
      prec = -1;
      break;
    case 'f':
    case 'F':
      fmt = 'f';
      prec = 6;
      break;
    case 'e':
    case 'E':
      fmt = verb;
      prec = 6;
      break;
    default:
      return badVerb(verb, v);
  }
  if (f.prec >= 0) prec = f.prec;
  let num = formatFloat(v, fmt, prec);
  if (num[0] !== '-' && num[0] !== '+') num = `+${num}`;
  if (f.space && num[0] === '+' && !f.plus) num = ` ${num.slice(1)}`;
  if (num[1] === 'I' || num[1] === 'N') {
    if (num[1] === 'N' && !f.space && !f.plus) num = num.slice(1);
    return pad(num, f, false);
  }
  if (f.plus || num[0] !== '+') {
    if (f.zero && !f.minus && f.wid > num.length) return num[0] + '0'.repeat(f.wid - num.length) + num.slice(1);
    return pad(num, f);
  }
  return pad(num.slice(1), f);
}

function truncateRunes(s: string, prec: number): string {
  if (prec < 0) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    if (n++ >= prec) break;
    out += ch;
  }
  return out;
}

function fmtString(s: string, verb: string, f: Flags): string {
  switch (verb) {
    case 'v':
      if (f.sharpV) return pad(goQuote(s), f);
      return pad(truncateRunes(s, f.prec), f);
    case 's':
      return pad(truncateRunes(s, f.prec), f);
    case 'q': {
      const t = truncateRunes(s, f.prec);
      return pad(f.sharp && canBackquote(t) ? `\`${t}\`` : goQuote(t, f.plus), f);
    }
    case 'x':
    case 'X': {
      let bytes = [...Buffer.from(s, 'utf8')];
      if (f.prec >= 0) bytes = bytes.slice(0, f.prec);
      const prefix = f.sharp ? (verb === 'X' ? '0X' : '0x') : '';
      let hex = bytes
        .map((b, i) => {
          const h = b.toString(16).padStart(2, '0');
          return (f.space && i > 0 ? ' ' : '') + (f.space || i === 0 ? prefix : '') + h;
        })
        .join('');
      if (verb === 'X') hex = hex.toUpperCase();
      return pad(hex, f);
    }
    default:
      return badVerb(verb, s);
  }
}

/** Formats one operand with a verb; `depth` > 0 inside a slice or map (where nil prints as <nil> for any verb). */
export function printArg(arg: unknown, verb: string, f: Flags, depth: number): string {
  if (arg === undefined || arg === null) {
    if (verb === 'T' || verb === 'v' || depth > 0) return pad('<nil>', f);
    return badVerb(verb, arg);
  }
  if (verb === 'T') return pad(typeName(arg), f);
  switch (kindOf(arg)) {
    case 'bool':
      return verb === 't' || verb === 'v' ? pad(String(arg), f) : badVerb(verb, arg);
    case 'int':
      return fmtInteger(arg as number | bigint, verb, f);
    case 'float':
      return fmtFloat(arg as number, verb, f);
    case 'string':
      return fmtString(arg as string, verb, f);
    case 'slice': {
      const items = (arg as unknown[]).map((x) => printArg(x, verb, f, depth + 1));
      return f.sharpV ? `[]interface {}{${items.join(', ')}}` : `[${items.join(' ')}]`;
    }
    case 'map': {
      const entries = mapEntries(arg as GoMap).map(
        ([k, v]) => `${printArg(k, verb, f, depth + 1)}:${printArg(v, verb, f, depth + 1)}`,
      );
      return f.sharpV ? `map[string]interface {}{${entries.join(', ')}}` : `map[${entries.join(' ')}]`;
    }
    case 'time':
      return verb === 'v' || verb === 's' ? fmtString(goTimeString(arg as Date), 's', f) : badVerb(verb, arg);
    case 'func':
      return verb === 'v' || verb === 'p' ? pad(`0x${(1).toString(16)}`, f) : badVerb(verb, arg);
    default: {
      const fields = Object.entries(arg as object).map(([k, v]) =>
        f.plusV ? `${k}:${printArg(v, verb, f, depth + 1)}` : printArg(v, verb, f, depth + 1),
      );
      return `{${fields.join(' ')}}`;
    }
  }
}

/** fmt.Sprint of one value with %v (used for printing template output). */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return printArg(v, 'v', DEFAULT_FLAGS, 0);
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  let prevString = false;
  args.forEach((arg, i) => {
    const isString = typeof arg === 'string';
    if (i > 0 && !isString && !prevString) out += ' ';
    out += printArg(arg, 'v', DEFAULT_FLAGS, 0);
    prevString = isString;
  });
  return out;
}

/** fmt.Sprintln: always spaces between operands, newline at the end. */
export function sprintln(args: unknown[]): string {
  return `${args.map((a) => printArg(a, 'v', DEFAULT_FLAGS, 0)).join(' ')}\n`;
}
