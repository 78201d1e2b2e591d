/**
 * Go text/template engine with the Sprig subset Atmos stacks use.
 *
 * Written by hand: no npm package implements Go template semantics (the candidates are a WASM build without Sprig
 * that turns every number into float64, and TS subsets without pipes, variables or printf; see the dependency
 * notes, section 3). Parsed trees are cached by (text, delimiters) so re-rendering the same component sections
 * across thousands of stacks parses each distinct text once.
 */
import { DEFAULT_LIMITS } from '../data/limits.ts';
import type { TemplateLimits } from './budget.ts';
import { type ExecContext, execute, type MissingKey } from './exec.ts';
import { type FuncMap, goBuiltins } from './funcs.ts';
import { gomplateFunctions } from './gomplate.ts';
import { type ParsedTree, parseTree } from './parser.ts';
import { sprigFunctions } from './sprig/index.ts';

export { activeBudget, type TemplateLimits } from './budget.ts';
export { TemplateError } from './errors.ts';
export type { MissingKey } from './exec.ts';
export type { FuncMap, ParamKind, TemplateFunction } from './funcs.ts';
export { typed } from './funcs.ts';

/**
 * Go's builtins, the Sprig subset and Gomplate's namespaces (Sprig wins a name both define, as in Atmos).
 * Read-only: extend it per call with the `funcs` option.
 */
export const builtinFunctions: FuncMap = Object.freeze({ ...gomplateFunctions, ...sprigFunctions, ...goBuiltins });

export const DEFAULT_DELIMITERS: readonly [string, string] = ['{{', '}}'];

export interface ParseOptions {
  /** Name used in error messages (Go's template name); defaults to "template". */
  name?: string;
  /** [left, right]; empty strings mean the defaults, as with Go's Delims. */
  delimiters?: [string, string];
  /** Functions added to (or overriding) the builtins; unknown names are parse errors. */
  funcs?: FuncMap;
}

export interface ExecuteOptions {
  /** What a missing map key yields: `<no value>` (default), nil (zero) or an error (error). */
  missingkey?: MissingKey;
  /** Functions overriding those given at parse time (new names must already be known when parsing). */
  funcs?: FuncMap;
  /** Output, iteration and time budgets of one render (default: DEFAULT_LIMITS). */
  limits?: TemplateLimits;
}

export interface RenderOptions extends ParseOptions, ExecuteOptions {}

/** A parsed template: the tree (shared through the cache) plus the name and functions it was parsed with. */
export class Template {
  constructor(
    readonly name: string,
    readonly text: string,
    readonly delimiters: readonly [string, string],
    readonly funcs: FuncMap | undefined,
    /** Parse tree; shared between Template objects with the same text and delimiters. */
    readonly tree: ParsedTree,
  ) {}

  /** Names declared with define/block. */
  definedTemplates(): string[] {
    return [...this.tree.defines.keys()].sort();
  }
}

const CACHE_LIMIT = 2000;
const defaultCache = new Map<string, ParsedTree>();
const customCache = new Map<string, ParsedTree>();

/** Drops every cached parse tree (for benchmarks and tests). */
export function clearTemplateCache(): void {
  defaultCache.clear();
  customCache.clear();
}

function delimitersOf(delimiters: [string, string] | undefined): [string, string] {
  return [delimiters?.[0] || DEFAULT_DELIMITERS[0], delimiters?.[1] || DEFAULT_DELIMITERS[1]];
}

function hasFunc(funcs: FuncMap | undefined, name: string): boolean {
  return (funcs !== undefined && Object.hasOwn(funcs, name)) || Object.hasOwn(builtinFunctions, name);
}

export function parseTemplate(text: string, options: ParseOptions = {}): Template {
  const name = options.name ?? 'template';
  const [left, right] = delimitersOf(options.delimiters);
  const isDefault = left === DEFAULT_DELIMITERS[0] && right === DEFAULT_DELIMITERS[1];
  const cache = isDefault ? defaultCache : customCache;
  const key = isDefault ? text : `${left}\u0000${right}\u0000${text}`;
  const funcs = options.funcs;
  let tree = cache.get(key);
  if (tree) {
    // A cached tree was checked against other functions: reuse it only if every name it calls still exists.
    for (const used of tree.funcsUsed) {
      if (!hasFunc(funcs, used)) {
        tree = undefined;
        break;
      }
    }
  }
  if (!tree) {
    tree = parseTree(text, {
      name,
      leftDelim: left,
      rightDelim: right,
      hasFunction: (fn) => hasFunc(funcs, fn),
      functionNames: () => new Set([...Object.keys(builtinFunctions), ...Object.keys(funcs ?? {})]),
    });
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, tree);
  }
  return new Template(name, text, [left, right], funcs, tree);
}

export function executeTemplate(template: Template, data: unknown, options: ExecuteOptions = {}): string {
  const funcs: FuncMap[] = [];
  if (options.funcs && options.funcs !== template.funcs) funcs.push(options.funcs);
  if (template.funcs) funcs.push(template.funcs);
  funcs.push(builtinFunctions);
  const ctx: ExecContext = {
    name: template.name,
    text: template.text,
    tree: template.tree,
    missingkey: options.missingkey ?? 'default',
    funcs,
    limits: options.limits ?? DEFAULT_LIMITS,
  };
  return execute(ctx, data);
}

/** Parses (cached) and executes; text without the left delimiter is returned as is after a single indexOf. */
export function renderTemplate(text: string, data: unknown, options: RenderOptions = {}): string {
  if (text.indexOf(options.delimiters?.[0] || '{{') === -1) return text;
  return executeTemplate(parseTemplate(text, options), data, options);
}

/** Whether text contains the left delimiter, i.e. might need rendering. */
export function hasTemplate(text: string, delimiters?: [string, string]): boolean {
  return text.indexOf(delimiters?.[0] || '{{') !== -1;
}
