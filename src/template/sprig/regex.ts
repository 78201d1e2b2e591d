/** Sprig's regular-expression functions: Go's RE2 syntax translated to JS RegExps, and Go's replacement templates. */
import { type FuncMap, typed } from '../funcs.ts';

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

const S = 'string';
const I = 'int';

export const regexFunctions: FuncMap = {
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
};
