/**
 * YAML functions (`!env`, `!exec`, `!template`, `!terraform.output`, `!secret`, ...) evaluated per component after
 * templates, as Atmos does. Functions that need data from outside the stacks (Terraform outputs and state) get it
 * from resolvers the engine's caller hands in (`FunctionResolvers`), so this layer imports no toolchain and no
 * engine, and describing stacks that do not use them never loads one.
 */
import { execFileSync, execSync } from 'node:child_process';
import type { StrataConfig } from '../config/types.ts';
import { runJq } from '../data/jq.ts';
import { isPlainMap, mapDeep, type PlainMap } from '../data/merge.ts';
import { YamlFunction } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { envSecret, isSecretName, SecretRef, vaultSecret } from '../secrets/values.ts';
import { type FuncMap, renderTemplate, type TemplateLimits } from '../template/index.ts';
import { parsePipes, parseTerraformArgs, splitArgs } from './args.ts';
import { EXTRA_FUNCTIONS } from './extra.ts';
import { CallMemo, MEMOISED_FUNCTIONS } from './memo.ts';
import { secretValue } from './secret.ts';

/** Which component output `!terraform.output` / `!terraform.state` read. */
export interface TerraformOutputRef {
  component: string;
  stack: string;
  /** An output name or a yq-style path, optionally with `// default`. */
  expression: string;
}

/** Outside data for YAML functions; a function whose resolver is missing fails with an error naming it. */
export interface FunctionResolvers {
  /** `!terraform.output` (`output`: as `terraform output` gives it) and `!terraform.state` (`state`: from the state). */
  terraformOutput?(ref: TerraformOutputRef, mode: 'output' | 'state'): Promise<unknown>;
}

/**
 * What functions may reach: `all` (toolchain runs, as Atmos); `no-exec` (describe/validate: `!exec` stays
 * unevaluated, shown as written); `controller` (`strata serve`: `!env` and `!exec` are errors).
 */
export type FunctionAccess = 'all' | 'no-exec' | 'controller';

export interface FunctionContext {
  config: StrataConfig;
  /** Default `all`. */
  access?: FunctionAccess;
  /** Template functions for `!template` (the engine's, with the controller's refusals). */
  templateFuncs?: FuncMap;
  /** Budgets for `!template`. */
  limits?: TemplateLimits;
  /** Outside data (see FunctionResolvers). */
  resolvers?: FunctionResolvers;
  /** The component section being evaluated (vars, env, settings, atmos_stack, ...). */
  section: PlainMap;
  stack: string;
  component: string;
  kind: string;
  /** The stack's `version.track`, for `!version`. */
  versionTrack?: string;
  /** Functions left unevaluated (`--skip terraform.output`): they stay in their text form. */
  skip?: ReadonlySet<string>;
  /** Calls with outside effects evaluated once per engine (see memo.ts); without it, every reference runs. */
  memo?: CallMemo;
}

export type FunctionResolver = (fn: YamlFunction, context: FunctionContext) => unknown | Promise<unknown>;

export { splitArgs } from './args.ts';
export { CallMemo, MEMOISED_FUNCTIONS } from './memo.ts';

function argText(fn: YamlFunction): string {
  return typeof fn.args === 'string' ? fn.args : fn.args.map(String).join(' ');
}

function functionError(
  fn: YamlFunction,
  context: FunctionContext,
  message: string,
  hint?: string,
  cause?: StrataError,
): StrataError {
  return new StrataError(
    `${fn.toString()} in component '${context.component}' (stack '${context.stack}'): ${message}`,
    { location: { file: fn.file }, hint, details: cause?.details, cause },
  );
}

/**
 * What `!env` and `!exec` give in the controller's context: nothing read, nothing run. A value that a served spec
 * uses fails as soon as it is written out (as text or JSON) with the refusal; one no spec uses (a Terraform var of a
 * node component) costs nothing.
 */
export class RefusedValue {
  constructor(readonly error: StrataError) {}
  toJSON(): never {
    throw this.error;
  }
  toString(): never {
    throw this.error;
  }
}

function refusedInController(fn: YamlFunction, context: FunctionContext, what: string): RefusedValue {
  return new RefusedValue(
    functionError(
      fn,
      context,
      `not available in specs the controller serves (strata serve reads no ${what})`,
      'write the value into the stack, or use !secret for secrets (served masked)',
    ),
  );
}

function parseOutput(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
}

const builtins: Record<string, FunctionResolver> = {
  env(fn, context) {
    if (context.access === 'controller') return refusedInController(fn, context, 'the environment');
    const [name, ...rest] = splitArgs(argText(fn));
    if (!name) throw functionError(fn, context, 'missing the variable name', 'write !env NAME [default]');
    const env = isPlainMap(context.section.env) ? context.section.env : {};
    if (env[name] instanceof SecretRef) return env[name];
    if (env[name] !== undefined && env[name] !== null) return String(env[name]);
    const value = process.env[name];
    // A secret-like name stays a reference: masked in describe and dry runs, read when a tool runs.
    if (value !== undefined) return isSecretName(name) ? envSecret(name) : value;
    return rest.length > 0 ? rest.join(' ') : null;
  },
  exec(fn, context) {
    if (context.access === 'controller') return refusedInController(fn, context, 'commands');
    // describe/validate show the command instead of running it (limits.exec_in_describe runs it).
    if (context.access === 'no-exec') return fn;
    try {
      const output = execSync(argText(fn), {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: context.config.basePath,
      });
      return parseOutput(output);
    } catch (error) {
      const failure = error as { status?: number; stderr?: string };
      throw functionError(
        fn,
        context,
        `command exited with code ${failure.status ?? 'unknown'}`,
        failure.stderr?.trim().split('\n').slice(-3).join(' | '),
      );
    }
  },
  template(fn, context) {
    const rendered = renderTemplate(argText(fn), context.section, {
      name: `!template in ${context.component}`,
      delimiters: context.config.templates.delimiters,
      funcs: context.templateFuncs,
      limits: context.limits,
    });
    return parseOutput(rendered);
  },
  'repo-root'(_fn, context) {
    try {
      return execFileSync('git', ['rev-parse', '--show-toplevel'], {
        cwd: context.config.basePath,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return context.config.basePath;
    }
  },
  cwd() {
    return process.cwd();
  },
  literal(fn) {
    return argText(fn);
  },
  /**
   * `!secret <file> <key.path>` / `!secret env:NAME` / Atmos's `!secret NAME` (declared under `secrets.vars`), with
   * `| default <value>` and `| path <jq>`: a lazy reference, decrypted only when a tool runs.
   */
  secret(fn, context) {
    try {
      return secretValue(argText(fn), fn, context);
    } catch (error) {
      if (error instanceof StrataError && !error.message.startsWith(fn.toString()))
        throw functionError(fn, context, error.message, error.hint);
      throw error;
    }
  },
  /** Inline ansible-vault values (`!vault |`): kept encrypted until a tool runs. */
  vault(fn) {
    return vaultSecret(argText(fn), fn.file);
  },
  'terraform.output'(fn, context) {
    return terraformValue(fn, context, 'output');
  },
  'terraform.state'(fn, context) {
    return terraformValue(fn, context, 'state');
  },
  /** `!store <store> [stack] <component> <key> [| default x] [| query jq]`: a value a component wrote. */
  async store(fn, context) {
    const { base, fallback, query } = parsePipes(argText(fn));
    const words = splitArgs(base);
    if (words.length !== 3 && words.length !== 4) {
      throw functionError(fn, context, `expected 3 or 4 arguments, got ${words.length}`, STORE_USAGE);
    }
    const [store, stack, component, key] = words.length === 4 ? words : [words[0], context.stack, words[1], words[2]];
    const { readComponentValue } = await import('./stores.ts');
    const read = await readComponentValue(context.config, store, stack, component, key);
    return storeResult(read, `'${key}' of '${component}' in stack '${stack}'`, store, fallback, query);
  },
  /** `!store.get <store> <key> [| default x] [| query jq]`: any key of a store. */
  async 'store.get'(fn, context) {
    const { base, fallback, query } = parsePipes(argText(fn));
    const words = splitArgs(base);
    if (words.length !== 2) {
      throw functionError(fn, context, `expected 2 arguments, got ${words.length}`, STORE_USAGE);
    }
    const { readStoreKey } = await import('./stores.ts');
    const read = await readStoreKey(context.config, words[0], words[1]);
    return storeResult(read, `key '${words[1]}'`, words[0], fallback, query);
  },
};

const STORE_USAGE =
  'write !store <store> [stack] <component> <key> or !store.get <store> <key>, optionally | default <value> | query <jq>';

/** A store read: the value (through the query), the default when absent, else an error naming what is missing. */
async function storeResult(
  read: { found: true; value: unknown } | { found: false },
  what: string,
  store: string,
  fallback: { value: unknown } | undefined,
  query: string | undefined,
): Promise<unknown> {
  if (!read.found) {
    if (fallback) return fallback.value;
    throw new StrataError(`${what} is not in store '${store}'`, {
      hint: 'write the value first, or give a default: | default <value>',
    });
  }
  return query ? runJq(read.value, query, `store '${store}'`) : read.value;
}

/**
 * `!terraform.output <component> [stack] <output or query>`: another component's output, read from its state
 * (`state`) or by running `terraform output` (`output`). The stack defaults to the current one.
 */
async function terraformValue(fn: YamlFunction, context: FunctionContext, mode: 'output' | 'state'): Promise<unknown> {
  const parsed = parseTerraformArgs(argText(fn));
  if (!parsed) {
    throw functionError(
      fn,
      context,
      `expected 2 or 3 arguments, got ${splitArgs(argText(fn)).length}`,
      `write !terraform.${mode} <component> [stack] <output or jq expression>`,
    );
  }
  const resolve = context.resolvers?.terraformOutput;
  if (!resolve) {
    throw functionError(
      fn,
      context,
      'nothing here resolves Terraform outputs',
      "open the stack engine with strata's openEngine (src/services/engine.ts), or pass resolvers.terraformOutput in the engine options",
    );
  }
  return resolve(
    { component: parsed.component, stack: parsed.stack ?? context.stack, expression: parsed.expression },
    mode,
  );
}

/** True when the value contains a YAML function anywhere. */
export function containsFunction(value: unknown): boolean {
  return collectFunctions(value).length > 0;
}

function collectFunctions(value: unknown, out: YamlFunction[] = []): YamlFunction[] {
  mapDeep(value, (leaf) => {
    if (leaf instanceof YamlFunction) out.push(leaf);
    return leaf;
  });
  return out;
}

/**
 * Evaluates every YAML function in `value` (in document order, one at a time: `!exec` commands may depend on each
 * other's side effects); returns `value` itself when it holds none.
 */
export async function evaluateFunctions(value: unknown, context: FunctionContext): Promise<unknown> {
  const results = new Map<YamlFunction, unknown>();
  for (const fn of collectFunctions(value)) {
    if (context.skip?.has(fn.tag)) continue;
    results.set(fn, await evaluateOne(fn, context));
  }
  if (results.size === 0) return value;
  return mapDeep(value, (leaf) => (leaf instanceof YamlFunction && results.has(leaf) ? results.get(leaf) : leaf));
}

/** A call's arguments as words; Terraform references with the stack filled in (`vpc id` in a stack = `vpc <stack> id`). */
function canonicalArgs(fn: YamlFunction, context: FunctionContext): string | unknown[] {
  if (!fn.tag.startsWith('terraform.')) return fn.args;
  const parsed = parseTerraformArgs(argText(fn));
  return parsed ? [parsed.component, parsed.stack ?? context.stack, parsed.expression] : fn.args;
}

/** `!exec` in describe and validate is shown as written: no call to count. */
function shownUnevaluated(fn: YamlFunction, context: FunctionContext): boolean {
  return fn.tag === 'exec' && context.access === 'no-exec';
}

/** One function; an error from a resolver is reworded to name the call, the component, the stack and the file. */
async function evaluateOne(fn: YamlFunction, context: FunctionContext): Promise<unknown> {
  const resolver = builtins[fn.tag];
  const extra = EXTRA_FUNCTIONS[fn.tag];
  if (!resolver && !extra) throw functionError(fn, context, 'unsupported YAML function');
  try {
    if (resolver && context.memo && MEMOISED_FUNCTIONS.has(fn.tag) && !shownUnevaluated(fn, context)) {
      const key = CallMemo.key(fn.tag, canonicalArgs(fn, context), context.stack);
      return await context.memo.call(key, () => resolver(fn, context));
    }
    if (resolver) return await resolver(fn, context);
    return extra(fn, context, (message, hint) => functionError(fn, context, message, hint));
  } catch (error) {
    if (!(error instanceof StrataError) || error.message.startsWith(fn.toString())) throw error;
    throw functionError(fn, context, error.message, error.hint, error);
  }
}
