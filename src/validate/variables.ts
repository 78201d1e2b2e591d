/**
 * Checks stack vars against the variables a component declares (Terraform `variable` blocks in *.tf, Packer's in
 * *.pkr.hcl), read with HashiCorp's own HCL parser (@cdktn/hcl2json). Atmos does not do this: it finds out at plan time.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hclErrorPosition, parseHcl } from '../data/hcl.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { DEFAULT_LIMITS, readFileBounded } from '../data/limits.ts';
import { isPlainMap } from '../data/merge.ts';
import { YamlFunction } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { closestNames } from '../util/suggest.ts';

export type HclType =
  | { kind: 'any' | 'string' | 'number' | 'bool' }
  | { kind: 'list' | 'set' | 'map'; element: HclType }
  | { kind: 'tuple'; elements: HclType[] }
  | { kind: 'object'; attributes: Record<string, { type: HclType; optional: boolean }> };

export interface VariableDeclaration {
  name: string;
  type: HclType;
  required: boolean;
  sensitive: boolean;
  nullable: boolean;
  file: string;
}

export interface VariableProblem {
  severity: 'error' | 'warning';
  stack: string;
  component: string;
  variable: string;
  message: string;
  hint?: string;
}

/** Parses an HCL type constraint such as `map(object({ a = string, b = optional(list(number), []) }))`. */
export function parseHclType(text: string): HclType {
  const source = text.replace(/^\$\{/, '').replace(/\}$/, '').trim();
  let pos = 0;
  const skip = () => {
    while (pos < source.length && /\s/.test(source[pos])) pos++;
  };
  const expect = (ch: string) => {
    skip();
    if (source[pos] !== ch) throw new Error(`expected '${ch}' at ${pos} in type '${source}'`);
    pos++;
  };
  const ident = () => {
    skip();
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(source.slice(pos));
    if (!m) throw new Error(`expected a type name at ${pos} in '${source}'`);
    pos += m[0].length;
    return m[0];
  };
  /** Skips a default value inside optional(T, default): balanced brackets and quotes. */
  const skipValue = () => {
    let depth = 0;
    for (; pos < source.length; pos++) {
      const ch = source[pos];
      if (ch === '"') {
        for (pos++; pos < source.length && source[pos] !== '"'; pos++) if (source[pos] === '\\') pos++;
      } else if ('([{'.includes(ch)) depth++;
      else if (')]}'.includes(ch)) {
        if (depth === 0) return;
        depth--;
      } else if (ch === ',' && depth === 0) return;
    }
  };
  const type = (): HclType => {
    const name = ident();
    if (name === 'any' || name === 'string' || name === 'number' || name === 'bool') return { kind: name };
    if (name === 'list' || name === 'set' || name === 'map') {
      expect('(');
      const element = type();
      expect(')');
      return { kind: name, element };
    }
    if (name === 'tuple') {
      expect('(');
      expect('[');
      const elements: HclType[] = [];
      skip();
      while (source[pos] !== ']') {
        elements.push(type());
        skip();
        if (source[pos] === ',') pos++;
        skip();
      }
      pos++;
      expect(')');
      return { kind: 'tuple', elements };
    }
    if (name === 'object') {
      expect('(');
      expect('{');
      const attributes: Record<string, { type: HclType; optional: boolean }> = {};
      skip();
      while (source[pos] !== '}') {
        const key = ident();
        skip();
        if (source[pos] === '=' || source[pos] === ':') pos++;
        skip();
        let optional = false;
        let attrType: HclType;
        if (source.startsWith('optional(', pos)) {
          pos += 'optional('.length;
          optional = true;
          attrType = type();
          skip();
          if (source[pos] === ',') {
            pos++;
            skipValue();
          }
          expect(')');
        } else attrType = type();
        attributes[key] = { type: attrType, optional };
        skip();
        if (source[pos] === ',') pos++;
        skip();
      }
      pos++;
      expect(')');
      return { kind: 'object', attributes };
    }
    throw new Error(`unknown type '${name}' in '${source}'`);
  };
  const result = type();
  skip();
  if (pos !== source.length) throw new Error(`unexpected text after the type in '${source}'`);
  return result;
}

export function formatHclType(type: HclType): string {
  switch (type.kind) {
    case 'list':
    case 'set':
    case 'map':
      return `${type.kind}(${formatHclType(type.element)})`;
    case 'tuple':
      return `tuple([${type.elements.map(formatHclType).join(', ')}])`;
    case 'object':
      return `object({${Object.entries(type.attributes)
        .map(([k, a]) => `${k} = ${a.optional ? `optional(${formatHclType(a.type)})` : formatHclType(a.type)}`)
        .join(', ')}})`;
    default:
      return type.kind;
  }
}

/**
 * Why `value` cannot be converted to `type` (Terraform's conversion rules: strings from numbers and bools, numbers
 * and bools from their string forms), or undefined when it can. `null` is checked by the caller (nullable).
 */
export function typeMismatch(value: unknown, type: HclType, path = ''): string | undefined {
  if (value === null || value === undefined || type.kind === 'any') return undefined;
  if (typeof value === 'string' && /\$\{|\{\{|^!/.test(value)) return undefined; // computed at run time
  if (value instanceof YamlFunction) return undefined; // left unevaluated (validate stacks, --skip)
  const at = path ? ` at ${path}` : '';
  switch (type.kind) {
    case 'string':
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? undefined
        : `expected a string${at}, got ${describe(value)}`;
    case 'number':
      if (typeof value === 'number') return undefined;
      return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))
        ? undefined
        : `expected a number${at}, got ${describe(value)}`;
    case 'bool':
      if (typeof value === 'boolean') return undefined;
      return value === 'true' || value === 'false' ? undefined : `expected a bool${at}, got ${describe(value)}`;
    case 'list':
    case 'set':
      if (!Array.isArray(value)) return `expected a ${type.kind}${at}, got ${describe(value)}`;
      for (let i = 0; i < value.length; i++) {
        const problem = typeMismatch(value[i], type.element, `${path}[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    case 'tuple':
      if (!Array.isArray(value)) return `expected a tuple${at}, got ${describe(value)}`;
      if (value.length !== type.elements.length)
        return `expected a tuple of ${type.elements.length} elements${at}, got ${value.length}`;
      for (let i = 0; i < value.length; i++) {
        const problem = typeMismatch(value[i], type.elements[i], `${path}[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    case 'map':
      if (!isPlainMap(value)) return `expected a map${at}, got ${describe(value)}`;
      for (const key of Object.keys(value)) {
        const problem = typeMismatch(value[key], type.element, `${path}.${key}`);
        if (problem) return problem;
      }
      return undefined;
    case 'object':
      if (!isPlainMap(value)) return `expected an object${at}, got ${describe(value)}`;
      for (const [key, attribute] of Object.entries(type.attributes)) {
        // A missing attribute is an error unless optional; an explicit null is a value Terraform accepts.
        if (!(key in value)) {
          if (!attribute.optional) return `attribute '${key}' is required${at}`;
          continue;
        }
        if (value[key] === null) continue;
        const problem = typeMismatch(value[key], attribute.type, `${path}.${key}`);
        if (problem) return problem;
      }
      return undefined;
  }
  return undefined;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isPlainMap(value)) return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}

const declarationCache = new Map<string, Promise<Map<string, VariableDeclaration> | undefined>>();

/** Declared variables of a component folder, or undefined when the folder has no HCL sources to read. */
export function readDeclaredVariables(
  dir: string,
  kind: string,
): Promise<Map<string, VariableDeclaration> | undefined> {
  const key = `${kind}\u0000${dir}`;
  let pending = declarationCache.get(key);
  if (!pending) {
    pending = readUncached(dir, kind);
    declarationCache.set(key, pending);
  }
  return pending;
}

async function readUncached(dir: string, kind: string): Promise<Map<string, VariableDeclaration> | undefined> {
  if (!existsSync(dir)) return undefined;
  const suffix = kind === 'packer' ? '.pkr.hcl' : '.tf';
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort();
  if (files.length === 0) return undefined;
  const out = new Map<string, VariableDeclaration>();
  for (const file of files) {
    const path = join(dir, file);
    const source = readFileBounded(path, DEFAULT_LIMITS.maxFileBytes, path);
    let parsed: Record<string, unknown>;
    try {
      parsed = await parseHcl(source, file);
    } catch (error) {
      const { message, line, col } = hclErrorPosition(error);
      throw new StrataError(`cannot parse ${path}: ${message}`, { location: { file: path, line, col } });
    }
    const variables = isPlainMap(parsed.variable) ? parsed.variable : {};
    for (const [name, blocks] of Object.entries(variables)) {
      const block = (Array.isArray(blocks) ? blocks[0] : blocks) as Record<string, unknown>;
      let type: HclType = { kind: 'any' };
      if (typeof block.type === 'string') {
        try {
          type = parseHclType(block.type);
        } catch {
          type = { kind: 'any' };
        }
      }
      out.set(name, {
        name,
        type,
        required: !('default' in block),
        sensitive: block.sensitive === true,
        nullable: block.nullable !== false,
        file: path,
      });
    }
  }
  return out;
}

/** Compares one instance's vars with its component's declarations. */
export async function checkInstanceVariables(instance: ComponentInstance): Promise<VariableProblem[]> {
  if (instance.kind !== 'terraform' && instance.kind !== 'packer') return [];
  if (instance.abstract || !instance.enabled) return [];
  const declared = await readDeclaredVariables(instance.componentDir, instance.kind);
  if (!declared) return [];
  const vars = isPlainMap(instance.description.vars) ? instance.description.vars : {};
  const problems: VariableProblem[] = [];
  const base = { stack: instance.stack, component: instance.name };
  for (const [name, value] of Object.entries(vars)) {
    const declaration = declared.get(name);
    if (!declaration) {
      const near = closestNames(name, declared.keys(), 1);
      problems.push({
        ...base,
        severity: 'warning',
        variable: name,
        message: `vars.${name} is not declared by the component (${instance.componentDir})`,
        hint: near.length > 0 ? `Did you mean '${near[0]}'?` : undefined,
      });
      continue;
    }
    if (value === null && !declaration.nullable) {
      problems.push({
        ...base,
        severity: 'error',
        variable: name,
        message: `vars.${name} is null but the variable is declared nullable = false`,
      });
      continue;
    }
    const mismatch = typeMismatch(value, declaration.type);
    if (mismatch) {
      problems.push({
        ...base,
        severity: 'error',
        variable: name,
        message: `vars.${name}: ${mismatch} (declared type ${formatHclType(declaration.type)} in ${declaration.file})`,
      });
    }
  }
  for (const declaration of declared.values()) {
    if (
      declaration.required &&
      (vars[declaration.name] === undefined || (vars[declaration.name] === null && !declaration.nullable))
    ) {
      problems.push({
        ...base,
        severity: 'error',
        variable: declaration.name,
        message: `required variable '${declaration.name}' has no value (declared in ${declaration.file} without a default)`,
        hint: `set vars.${declaration.name} for this component in the stack, or give the variable a default`,
      });
    }
  }
  return problems;
}
