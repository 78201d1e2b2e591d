/**
 * Template functions beyond Go's and Sprig's that Atmos stacks use: a subset of Gomplate's `strings` namespace and
 * `atmos.Component`. Gomplate namespaces are objects of functions, which the template engine calls as methods.
 */
import { activeBudget, type FuncMap } from '../template/index.ts';

const text = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

/** Go's %q for strings: double quotes with backslash escapes. */
function goQuote(value: unknown): string {
  return JSON.stringify(text(value));
}

const strings = {
  Title: (s: unknown) =>
    text(s).replace(
      /(^|[^\p{L}\p{N}'])(\p{L})/gu,
      (_m, before: string, letter: string) => before + letter.toUpperCase(),
    ),
  Quote: goQuote,
  ToUpper: (s: unknown) => text(s).toUpperCase(),
  ToLower: (s: unknown) => text(s).toLowerCase(),
  TrimSpace: (s: unknown) => text(s).trim(),
  Trim: (cutset: unknown, s: unknown) => {
    const chars = new Set(text(cutset));
    let value = text(s);
    while (value && chars.has(value[0])) value = value.slice(1);
    while (value && chars.has(value[value.length - 1])) value = value.slice(0, -1);
    return value;
  },
  TrimPrefix: (prefix: unknown, s: unknown) =>
    text(s).startsWith(text(prefix)) ? text(s).slice(text(prefix).length) : text(s),
  TrimSuffix: (suffix: unknown, s: unknown) =>
    text(s).endsWith(text(suffix)) && text(suffix) ? text(s).slice(0, -text(suffix).length) : text(s),
  ReplaceAll: (from: unknown, to: unknown, s: unknown) => text(s).replaceAll(text(from), text(to)),
  Split: (separator: unknown, s: unknown) => text(s).split(text(separator)),
  Contains: (substr: unknown, s: unknown) => text(s).includes(text(substr)),
  HasPrefix: (prefix: unknown, s: unknown) => text(s).startsWith(text(prefix)),
  HasSuffix: (suffix: unknown, s: unknown) => text(s).endsWith(text(suffix)),
  Repeat: (count: unknown, s: unknown) => {
    activeBudget().checkSize(Number(count) * text(s).length);
    return text(s).repeat(Number(count));
  },
  KebabCase: (s: unknown) =>
    text(s)
      .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
      .replace(/[\s_]+/g, '-')
      .toLowerCase(),
  SnakeCase: (s: unknown) =>
    text(s)
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/[\s-]+/g, '_')
      .toLowerCase(),
};

/** Functions for component templates; `component` looks up another component of the repository (sync, cached). */
export function stackTemplateFunctions(component: (name: string, stack: string) => Record<string, unknown>): FuncMap {
  return {
    strings: () => strings,
    atmos: () => ({ Component: (name: unknown, stack: unknown) => component(text(name), text(stack)) }),
  };
}
