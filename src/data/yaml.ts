/**
 * Reading stack manifests. js-yaml parses the data (6x faster than `yaml` on stack files, measured; it keeps the
 * engine close to the parse floor); `yaml` is used only where positions matter (provenance) and for output.
 * Atmos's YAML functions survive parsing as typed values and are evaluated per component, after merging.
 */
import jsyaml from 'js-yaml';
import { StrataError } from '../errors.ts';
import { codeFrame } from '../util/suggest.ts';
import { DEFAULT_LIMITS, type EngineLimits, LimitError } from './limits.ts';

/** A YAML function (`!env`, `!exec`, `!terraform.output`, ...) kept as data until a component is evaluated. */
export class YamlFunction {
  constructor(
    readonly tag: string,
    /** The scalar text, or the items of the sequence form. */
    readonly args: string | unknown[],
    /** Manifest the function was written in (relative paths resolve against it). */
    readonly file: string,
  ) {}

  /** The Atmos text form (`!env HOME`), used when a function must be shown unevaluated. */
  toString(): string {
    if (typeof this.args === 'string' || this.args.length === 0) return `!${this.tag} ${this.args}`.trimEnd();
    return `!${this.tag} ${JSON.stringify(this.args)}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** `!append [...]`: concatenated onto the inherited list whatever the list merge strategy. */
export class AppendList {
  constructor(readonly items: unknown[]) {}
  toJSON(): unknown[] {
    return this.items;
  }
}

/** `!unset`: removes the key inherited from lower layers (null would keep it). */
export const UNSET: unique symbol = Symbol('!unset');

/** `!include <path> [query]` placeholder, replaced right after the file is parsed. */
export class IncludeRef {
  constructor(
    readonly args: string,
    readonly raw: boolean,
  ) {}
}

/** Tags evaluated per component after merging (the rest of Atmos's tags are rejected with a clear message). */
export const FUNCTION_TAGS = [
  'env',
  'exec',
  'template',
  'terraform.output',
  'terraform.state',
  'store',
  'store.get',
  'secret',
  'vault',
  'repo-root',
  'cwd',
  'literal',
  'git.root',
  'git.sha',
  'git.branch',
  'git.ref',
  'git.url',
  'git.host',
  'git.owner',
  'git.name',
  'git.repository',
  'version',
  'labels',
  'labels.keys',
  'labels.values',
  'tags',
  'random',
  // Recognised so that a stack using them still loads; evaluating them fails with a message (functions/extra.ts).
  'aws.account_id',
  'aws.caller_identity_arn',
  'aws.caller_identity_user_id',
  'aws.region',
  'aws.organization_id',
  'aws.cloudformation.output',
  'emulator',
  'cel',
  'starlark',
  'ci.labels',
] as const;

/** The manifest being parsed: js-yaml constructors take no context, and parsing is synchronous. */
let currentFile = '';

function functionTypes(): jsyaml.Type[] {
  const types: jsyaml.Type[] = [];
  for (const tag of FUNCTION_TAGS) {
    types.push(
      new jsyaml.Type(`!${tag}`, {
        kind: 'scalar',
        construct: (data) => new YamlFunction(tag, data ?? '', currentFile),
      }),
      new jsyaml.Type(`!${tag}`, {
        kind: 'sequence',
        construct: (data) => new YamlFunction(tag, data ?? [], currentFile),
      }),
    );
  }
  types.push(
    new jsyaml.Type('!append', { kind: 'sequence', construct: (data) => new AppendList(data ?? []) }),
    new jsyaml.Type('!unset', { kind: 'scalar', construct: () => UNSET }),
    new jsyaml.Type('!unset', { kind: 'mapping', construct: () => UNSET }),
    new jsyaml.Type('!include', { kind: 'scalar', construct: (data) => new IncludeRef(String(data ?? ''), false) }),
    new jsyaml.Type('!include.raw', { kind: 'scalar', construct: (data) => new IncludeRef(String(data ?? ''), true) }),
  );
  return types;
}

/**
 * Integers as Go's yaml.v3 (Atmos) reads them and js-yaml does not: YAML 1.1 octals (`mode: 0644` is 420) and `_`
 * digit separators (`1_000`). Its own tag: js-yaml keeps one implicit type per tag.
 */
const goInteger = new jsyaml.Type('tag:strata,2026:go-int', {
  kind: 'scalar',
  resolve: (data: unknown) =>
    typeof data === 'string' && (/^[-+]?0[0-7_]*[0-7]$/.test(data) || /^[-+]?[0-9][0-9_]*_[0-9_]*$/.test(data)),
  construct: (data: string) => {
    const digits = data.replaceAll('_', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    const unsigned = digits.replace(/^[-+]/, '');
    return sign * Number.parseInt(unsigned, /^0[0-7]+$/.test(unsigned) ? 8 : 10);
  },
});

/**
 * js-yaml's default schema minus `timestamp`: yaml.v3 keeps `2024-01-01` a string when decoding into untyped values,
 * so Atmos prints dates as written (js-yaml would make Date objects and print them as ISO instants).
 */
// js-yaml exports its types at run time; @types/js-yaml does not declare them.
const { types } = jsyaml as unknown as {
  types: Record<'null' | 'bool' | 'int' | 'float' | 'merge' | 'binary' | 'omap' | 'pairs' | 'set', jsyaml.Type>;
};
const schema = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: [types.null, types.bool, goInteger, types.int, types.float, types.merge],
  explicit: [types.binary, types.omap, types.pairs, types.set, ...functionTypes()],
});

export class YamlSyntaxError extends StrataError {}

/**
 * Parses a YAML file; of a multi-document file (or one with a trailing `---`) only the first document counts, as in
 * Atmos. Errors carry file:line:col and a code frame. Aliases share one object in the result, so parsing itself is
 * cheap; what they would expand to downstream (merge, output) is counted and bounded here (`limits`).
 */
export function parseYaml(
  source: string,
  file: string,
  limits: Pick<EngineLimits, 'maxYamlValues' | 'maxYamlDepth'> = DEFAULT_LIMITS,
): unknown {
  currentFile = file;
  let value: unknown;
  try {
    value = jsyaml.loadAll(source, undefined, { schema, filename: file })[0];
  } catch (error) {
    if (error instanceof jsyaml.YAMLException) throw syntaxError(error, source, file);
    if (error instanceof RangeError) throw tooDeep(file, limits.maxYamlDepth);
    throw error;
  } finally {
    currentFile = '';
  }
  checkExpandedSize(value, source, file, limits);
  return value;
}

/**
 * Counts the values the document holds once every alias is expanded (memoised per shared object: linear in the
 * parsed size), and fails past the budget or the depth limit, naming the first alias's line.
 */
function checkExpandedSize(
  root: unknown,
  source: string,
  file: string,
  limits: Pick<EngineLimits, 'maxYamlValues' | 'maxYamlDepth'>,
): void {
  const sizes = new Map<object, number>();
  const size = (value: unknown, depth: number): number => {
    if (value === null || typeof value !== 'object') return 1;
    if (depth > limits.maxYamlDepth) throw tooDeep(file, limits.maxYamlDepth);
    const known = sizes.get(value);
    if (known !== undefined) return known;
    let total = 1;
    const children = Array.isArray(value)
      ? value
      : value instanceof AppendList
        ? value.items
        : value instanceof YamlFunction
          ? Array.isArray(value.args)
            ? value.args
            : []
          : Object.values(value);
    for (const child of children) {
      total += size(child, depth + 1);
      if (total > limits.maxYamlValues) {
        const alias = /(?:^|[\s,[{:-])\*[^\s,\]}]+/m.exec(source);
        const line = alias ? source.slice(0, alias.index + 1).split('\n').length : undefined;
        throw new LimitError(
          `${file}: the YAML expands to more than ${limits.maxYamlValues} values once its aliases are expanded (limits.max_yaml_values)`,
          {
            location: { file, line },
            hint: 'aliases that refer to other aliases multiply (a "billion laughs"): write the values out, or raise limits.max_yaml_values',
          },
        );
      }
    }
    sizes.set(value, total);
    return total;
  };
  size(root, 0);
}

function tooDeep(file: string, maxDepth: number): LimitError {
  return new LimitError(`${file}: the YAML nests deeper than ${maxDepth} levels (limits.max_yaml_depth)`, {
    location: { file },
    hint: 'flatten the structure, or raise limits.max_yaml_depth',
  });
}

function syntaxError(error: jsyaml.YAMLException, source: string, file: string): YamlSyntaxError {
  const mark = error.mark as { line: number; column: number } | undefined;
  const line = mark ? mark.line + 1 : undefined;
  const col = mark ? mark.column + 1 : undefined;
  let reason = error.reason || 'invalid YAML';
  let hint: string | undefined;
  const unknownTag = /unknown tag !<(!?[^>]*)>/.exec(error.message);
  if (unknownTag) {
    reason = `unsupported YAML function or tag '${unknownTag[1]}'`;
    hint = `supported: ${['!include', '!include.raw', '!append', '!unset', ...FUNCTION_TAGS.map((t) => `!${t}`)].join(', ')}`;
  } else if (/duplicated mapping key/.test(reason)) {
    hint = 'a key appears twice in the same map: remove or rename one of them';
  } else if (/bad indentation|end of the stream|block mapping entry/.test(reason)) {
    hint = 'check the indentation of this line against the lines above it (spaces only, no tabs)';
  }
  return new YamlSyntaxError(`invalid YAML in ${file}: ${reason}`, {
    location: { file, line, col },
    details: line ? codeFrame(source, line, col) : undefined,
    hint,
  });
}
