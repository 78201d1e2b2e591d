/** Sprig's string functions, with Go's rules for title case, word boundaries and slicing. */
import { activeBudget } from '../budget.ts';
import { type FuncMap, typed } from '../funcs.ts';
import { goQuote } from '../quote.ts';
import { strslice, strval } from './values.ts';

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

const S = 'string';
const I = 'int';

export const stringFunctions: FuncMap = {
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
    activeBudget().checkSize(count * s.length);
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
};

export const environmentFunctions: FuncMap = {
  env: typed([S], (name: string) => process.env[name] ?? ''),
  expandenv: typed([S], (s: string) =>
    s.replace(
      /\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g,
      (_, braced?: string, bare?: string) => process.env[braced ?? bare ?? ''] ?? '',
    ),
  ),
};
