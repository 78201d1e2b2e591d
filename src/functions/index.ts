/**
 * YAML functions (`!env`, `!exec`, `!template`, `!terraform.output`, `!secret`, ...) evaluated per component after
 * templates, as Atmos does. Functions that need data from outside the stacks (Terraform outputs and state) get it
 * from resolvers the engine's caller hands in (`FunctionResolvers`), so this layer imports no toolchain and no
 * engine, and describing stacks that do not use them never loads one.
 */
import { execFileSync, execSync } from 'node:child_process';
import type { StrataConfig } from '../config/types.ts';
import { isPlainMap, mapDeep, type PlainMap } from '../data/merge.ts';
import { YamlFunction } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { envSecret, isSecretName, SecretRef, vaultSecret } from '../secrets/values.ts';
import { type FuncMap, renderTemplate } from '../template/index.ts';
import { parseTerraformArgs, splitArgs } from './args.ts';
import { EXTRA_FUNCTIONS } from './extra.ts';
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

export interface FunctionContext {
  config: StrataConfig;
  /** Outside data (see FunctionResolvers). */
  resolvers?: FunctionResolvers;
  /** The component section being evaluated (vars, env, settings, atmos_stack, ...). */
  section: PlainMap;
  stack: string;
  component: string;
  kind: string;
  /** The stack's `version.track`, for `!version`. */
  versionTrack?: string;
  /** Functions `!template` may call besides the built-in ones (the engine's `atmos.Component`). */
  templateFunctions?: FuncMap;
}

export type FunctionResolver = (fn: YamlFunction, context: FunctionContext) => unknown | Promise<unknown>;

export { splitArgs } from './args.ts';

function argText(fn: YamlFunction): string {
  return typeof fn.args === 'string' ? fn.args : fn.args.map(String).join(' ');
}

function functionError(fn: YamlFunction, context: FunctionContext, message: string, hint?: string): StrataError {
  return new StrataError(
    `${fn.toString()} in component '${context.component}' (stack '${context.stack}'): ${message}`,
    {
      location: { file: fn.file },
      hint,
    },
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
      funcs: context.templateFunctions,
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
  store(fn, context) {
    throw functionError(
      fn,
      context,
      'stores are not supported by strata',
      'use !terraform.state, !secret or !env instead',
    );
  },
};
builtins['store.get'] = builtins.store;

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
    const resolver = builtins[fn.tag];
    const extra = EXTRA_FUNCTIONS[fn.tag];
    if (resolver) results.set(fn, await resolver(fn, context));
    else if (extra)
      results.set(
        fn,
        extra(fn, context, (message, hint) => functionError(fn, context, message, hint)),
      );
    else throw functionError(fn, context, 'unsupported YAML function');
  }
  if (results.size === 0) return value;
  return mapDeep(value, (leaf) => (leaf instanceof YamlFunction ? results.get(leaf) : leaf));
}
