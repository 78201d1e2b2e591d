/**
 * Go value model and fmt-style printing (%v, Sprint, Sprintf), written by hand because template output must match
 * Go byte for byte: `map[a:1 b:2]`, `[a b]`, `<nil>`, floats as strconv.FormatFloat prints them.
 *
 * JS values map to Go kinds as follows: undefined = an invalid reflect.Value (a missing key), null = nil,
 * a safe-integer number = int, any other number = float64, bigint = int64, array = []interface{},
 * plain object or Map = map[string]interface{}, Date = time.Time, function = func, other objects = struct.
 */
import { canBackquote, goQuote, goQuoteRune } from './quote.ts';
import { goTimeString } from './time.ts';

export type Kind =
  | 'invalid'
  | 'nil'
  | 'bool'
  | 'int'
  | 'float'
  | 'string'
  | 'slice'
  | 'map'
  | 'func'
  | 'time'
  | 'struct';

export type GoMap = Record<string, unknown> | Map<unknown, unknown>;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function isMap(v: unknown): v is GoMap {
  return isPlainObject(v) || v instanceof Map;
}

export function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'undefined':
      return 'invalid';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isSafeInteger(v) ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'function':
      return 'func';
    case 'object':
      if (v === null) return 'nil';
      if (Array.isArray(v)) return 'slice';
      if (v instanceof Date) return 'time';
      if (v instanceof Map || isPlainObject(v)) return 'map';
      return 'struct';
  }
  return 'struct';
}

/** The Go type name of a value, as reflect.Type.String() would print it. */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return typeof v === 'bigint' ? 'int64' : 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice':
      return '[]interface {}';
    case 'map':
      return 'map[string]interface {}';
    case 'func':
      return 'func(...interface {}) interface {}';
    case 'time':
      return 'time.Time';
    default: {
      const name = (v as object).constructor?.name;
      return name ? `main.${name}` : 'struct {}';
    }
  }
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Map entries in Go's sorted key order (fmt and range both sort map keys). */
export function mapEntries(m: GoMap): Array<[unknown, unknown]> {
  if (m instanceof Map) return [...m.entries()].sort((x, y) => compareKeys(x[0], y[0]));
  return Object.keys(m)
    .sort()
    .map((k) => [k, m[k]]);
}

export function mapGet(m: GoMap, key: string): { found: boolean; value: unknown } {
  if (m instanceof Map) return { found: m.has(key), value: m.get(key) };
  if (Object.hasOwn(m, key)) return { found: true, value: m[key] };
  return { found: false, value: undefined };
}

export function mapSize(m: GoMap): number {
  return m instanceof Map ? m.size : Object.keys(m).length;
}

export function mapKeys(m: GoMap): string[] {
  return m instanceof Map ? [...m.keys()].map(String).sort() : Object.keys(m).sort();
}

/** Go's template truth: false, 0, nil, empty string/slice/map and missing values are false. */
export function isTrue(v: unknown): boolean {
  switch (typeof v) {
    case 'undefined':
      return false;
    case 'boolean':
      return v;
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'function':
      return true;
    case 'object':
      if (v === null) return false;
      if (Array.isArray(v)) return v.length > 0;
      if (v instanceof Map) return v.size > 0;
      if (isPlainObject(v)) {
        for (const _ in v) return true;
        return false;
      }
      return true;
  }
  return true;
}

// ---------------------------------------------------------------- strconv.FormatFloat

interface Decimal {
  /** Significant digits without leading or trailing zeros ('' for zero). */
  d: string;
  /** Position of the decimal point relative to the start of d. */
  dp: number;
}

function shortestDecimal(x: number): Decimal {
  if (x === 0) return { d: '', dp: 0 };
  const [mant, exp] = x.toExponential().split('e');
  return { d: mant.replace('.', '').replace(/0+$/, ''), dp: Number(exp) + 1 };
}

/** The exact decimal expansion of a double, so rounding can be done half-to-even on exact digits as Go does. */
function exactDecimal(x: number): Decimal {
  if (x === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e: number;
  if (expBits === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  let digits: string;
  let dp: number;
  if (e >= 0) {
    digits = (mant << BigInt(e)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-e)).toString();
    dp = digits.length + e;
  }
  return { d: digits.replace(/0+$/, ''), dp };
}

function roundDecimal(dec: Decimal, nd: number): Decimal {
  if (nd < 0) return { d: '', dp: 0 };
  if (nd >= dec.d.length) return dec;
  const next = dec.d.charCodeAt(nd) - 48;
  let up: boolean;
  if (next === 5 && nd + 1 === dec.d.length) up = nd > 0 && (dec.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  else up = next >= 5;
  if (!up) {
    const d = dec.d.slice(0, nd).replace(/0+$/, '');
    return { d, dp: d === '' ? 0 : dec.dp };
  }
  let i = nd - 1;
  while (i >= 0 && dec.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: dec.dp + 1 };
  return { d: dec.d.slice(0, i) + String.fromCharCode(dec.d.charCodeAt(i) + 1), dp: dec.dp };
}

function fmtE(neg: boolean, d: Decimal, prec: number, e: string): string {
  let out = neg ? '-' : '';
  out += d.d.length ? d.d[0] : '0';
  if (prec > 0) out += `.${d.d.slice(1, prec + 1).padEnd(prec, '0')}`;
  let exp = d.d.length === 0 ? 0 : d.dp - 1;
  const sign = exp < 0 ? '-' : '+';
  exp = Math.abs(exp);
  return `${out}${e}${sign}${exp < 10 ? `0${exp}` : exp}`;
}

function fmtF(neg: boolean, d: Decimal, prec: number): string {
  let out = neg ? '-' : '';
  if (d.dp > 0) out += d.d.slice(0, d.dp).padEnd(d.dp, '0');
  else out += '0';
  if (prec > 0) {
    out += '.';
    for (let i = 1; i <= prec; i++) {
      const j = d.dp + i - 1;
      out += j >= 0 && j < d.d.length ? d.d[j] : '0';
    }
  }
  return out;
}

/** strconv.FormatFloat(x, fmt, prec, 64) for fmt in e E f g G; prec -1 means shortest. */
export function formatFloat(x: number, fmt: string, prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  const shortest = prec < 0;
  let digs: Decimal;
  const lower = fmt.toLowerCase();
  if (shortest) {
    digs = shortestDecimal(abs);
    if (lower === 'e') prec = Math.max(digs.d.length - 1, 0);
    else if (lower === 'f') prec = Math.max(digs.d.length - digs.dp, 0);
    else prec = digs.d.length;
  } else {
    const exact = exactDecimal(abs);
    if (lower === 'e') digs = roundDecimal(exact, prec + 1);
    else if (lower === 'f') digs = roundDecimal(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      digs = roundDecimal(exact, prec);
    }
  }
  if (lower === 'e') return fmtE(neg, digs, prec, fmt === 'E' ? 'E' : 'e');
  if (lower === 'f') return fmtF(neg, digs, prec);
  let eprec = prec;
  if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
  if (shortest) eprec = 6;
  const exp = digs.dp - 1;
  if (digs.d.length !== 0 && (exp < -4 || exp >= eprec)) {
    if (prec > digs.d.length) prec = digs.d.length;
    return fmtE(neg, digs, prec - 1, fmt === 'G' ? 'E' : 'e');
  }
  if (prec > digs.dp) prec = digs.d.length;
  return fmtF(neg, digs, Math.max(prec - digs.dp, 0));
}

// ---------------------------------------------------------------- fmt

interface Flags {
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

function newFlags(): Flags {
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

const DEFAULT_FLAGS: Readonly<Flags> = newFlags();

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

function printArg(arg: unknown, verb: string, f: Flags, depth: number): string {
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

/** fmt.Sprintf with Go's verbs, flags, width, precision, argument indexes and error annotations. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  const n = format.length;
  let i = 0;
  const parseNum = (): number | undefined => {
    const start = i;
    while (i < n && format[i] >= '0' && format[i] <= '9') i++;
    return i > start ? Number(format.slice(start, i)) : undefined;
  };
  /** Handles an explicit `[n]` argument index; false when it is malformed. */
  const argIndex = (): boolean => {
    if (format[i] !== '[') return true;
    reordered = true;
    const close = format.indexOf(']', i);
    const idx = close > i ? Number(format.slice(i + 1, close)) : Number.NaN;
    if (!Number.isInteger(idx) || idx < 1 || idx > args.length) {
      i = close > i ? close + 1 : n;
      return false;
    }
    argNum = idx - 1;
    i = close + 1;
    return true;
  };
  const intArg = (): number | undefined => {
    if (argNum >= args.length) return undefined;
    const a = args[argNum++];
    return typeof a === 'number' && Number.isSafeInteger(a) ? a : undefined;
  };
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct === -1) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f = newFlags();
    for (; i < n; i++) {
      const c = format[i];
      if (c === '#') f.sharp = true;
      else if (c === '0') f.zero = !f.minus;
      else if (c === '+') f.plus = true;
      else if (c === '-') {
        f.minus = true;
        f.zero = false;
      } else if (c === ' ') f.space = true;
      else break;
    }
    let goodIndex = argIndex();
    if (format[i] === '*') {
      i++;
      const w = intArg();
      if (w === undefined) out += '%!(BADWIDTH)';
      else if (w < 0) {
        f.minus = true;
        f.zero = false;
        f.wid = -w;
      } else f.wid = w;
    } else {
      f.wid = parseNum() ?? -1;
    }
    if (format[i] === '.') {
      i++;
      goodIndex = argIndex() && goodIndex;
      if (format[i] === '*') {
        i++;
        const p = intArg();
        if (p === undefined || p < 0) out += '%!(BADPREC)';
        else f.prec = p;
      } else {
        f.prec = parseNum() ?? 0;
      }
    }
    goodIndex = argIndex() && goodIndex;
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodIndex) {
      out += `%!${verb}(BADINDEX)`;
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    if (verb === 'v') {
      f.sharpV = f.sharp;
      f.sharp = false;
      f.plusV = f.plus;
      f.plus = false;
    }
    out += printArg(args[argNum++], verb, f, 0);
  }
  if (!reordered && argNum < args.length) {
    const extra = args
      .slice(argNum)
      .map((a) => (a === undefined || a === null ? '<nil>' : `${typeName(a)}=${printArg(a, 'v', DEFAULT_FLAGS, 0)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}
