/** Sprig's regular-expression functions: Go's RE2 syntax translated to JS RegExps, and Go's replacement templates. */
import { type FuncMap, typed } from '../funcs.ts';
import { findMatches, type RegexMatch } from './regex-guard.ts';

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
function expand(template: string, match: RegexMatch): string {
  return template.replace(
    /\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g,
    (_, all: string, braced?: string, bare?: string) => {
      if (all === '$') return '$';
      const name = braced ?? bare ?? '';
      if (/^\d+$/.test(name)) return match.captures[Number(name)] ?? '';
      return match.groups?.[name] ?? '';
    },
  );
}

/** Every match of `regex` in `s`, each replaced by what `replacement` makes of it. */
function replaceAll(regex: string, s: string, replacement: (match: RegexMatch) => string): string {
  let out = '';
  let last = 0;
  for (const match of findMatches(goRegex(regex, true), s, -1)) {
    out += s.slice(last, match.index) + replacement(match);
    last = match.index + (match.captures[0] ?? '').length;
  }
  return out + s.slice(last);
}

const S = 'string';
const I = 'int';

export const regexFunctions: FuncMap = {
  regexMatch: typed([S, S], (regex: string, s: string) => findMatches(goRegex(regex, false), s, 1).length > 0),
  regexFind: typed(
    [S, S],
    (regex: string, s: string) => findMatches(goRegex(regex, false), s, 1)[0]?.captures[0] ?? '',
  ),
  regexFindAll: typed([S, S, I], (regex: string, s: string, n: number) =>
    findMatches(goRegex(regex, true), s, n < 0 ? -1 : n).map((m) => m.captures[0] ?? ''),
  ),
  regexReplaceAll: typed([S, S, S], (regex: string, s: string, repl: string) =>
    replaceAll(regex, s, (match) => expand(repl, match)),
  ),
  regexReplaceAllLiteral: typed([S, S, S], (regex: string, s: string, repl: string) =>
    replaceAll(regex, s, () => repl),
  ),
  regexSplit: typed([S, S, I], (regex: string, s: string, n: number) => {
    if (n === 0) return [];
    const out: string[] = [];
    let last = 0;
    for (const m of findMatches(goRegex(regex, true), s, -1)) {
      if (n > 0 && out.length === n - 1) break;
      const text = m.captures[0] ?? '';
      if (text === '' && (m.index === 0 || m.index === s.length)) continue;
      out.push(s.slice(last, m.index));
      last = m.index + text.length;
    }
    out.push(s.slice(last));
    return out;
  }),
};
