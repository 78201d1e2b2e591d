/**
 * The small yq subset Atmos users write in `!terraform.output vpc dev .ids[0] // "none"` and
 * `packer output --query .builds[0].artifact_id`: a bare name, a path of `.key`, `["key"]` and `[index]` steps,
 * and an optional `// default` fallback. Hand-written because no yq port for JS exists and this grammar is tiny.
 */

import { StrataError } from '../errors.ts';
import { yaml } from '../util/yaml-lib.ts';

export type PathStep = string | number;

export interface Query {
  path: PathStep[];
  /** Present when the expression has `// default`. */
  fallback?: { value: unknown };
  source: string;
}

export class QueryError extends StrataError {}

export function parseQuery(expression: string): Query {
  const source = expression.trim();
  const split = splitDefault(source);
  const path = parsePath(split.path, source);
  if (split.fallback === undefined) return { path, source };
  let value: unknown;
  try {
    value = yaml().parse(split.fallback);
  } catch {
    value = split.fallback;
  }
  return { path, fallback: { value: value ?? null }, source };
}

/** Splits at the first `//` outside quotes. */
function splitDefault(source: string): { path: string; fallback?: string } {
  let quote: string | undefined;
  for (let i = 0; i < source.length - 1; i++) {
    const c = source[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '/' && source[i + 1] === '/') {
      return { path: source.slice(0, i).trim(), fallback: source.slice(i + 2).trim() };
    }
  }
  return { path: source };
}

function parsePath(text: string, source: string): PathStep[] {
  if (text === '' || text === '.') return [];
  // A bare output name (`vpc_id`) is `.vpc_id`.
  const input = text.startsWith('.') || text.startsWith('[') ? text : `.${text}`;
  const steps: PathStep[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new QueryError(`invalid query '${source}': ${why} at position ${i + 1}`, {
      hint: 'supported: name, .a.b, .list[0], .map["key"], and a fallback: .a // "default"',
    });
  };
  while (i < input.length) {
    const c = input[i];
    if (c === '.') {
      i++;
      if (input[i] === '[' || i >= input.length) continue;
      if (input[i] === '"') {
        const end = closingQuote(input, i);
        if (end === -1) fail('unterminated string');
        steps.push(JSON.parse(input.slice(i, end + 1)) as string);
        i = end + 1;
        continue;
      }
      const match = /^[A-Za-z0-9_-]+/.exec(input.slice(i));
      if (!match) fail('expected a key');
      steps.push((match as RegExpExecArray)[0]);
      i += (match as RegExpExecArray)[0].length;
    } else if (c === '[') {
      const close = input.indexOf(']', i);
      if (close === -1) fail("missing ']'");
      const inner = input.slice(i + 1, close).trim();
      if (/^-?\d+$/.test(inner)) steps.push(Number(inner));
      else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) steps.push(JSON.parse(inner) as string);
      else if (/^'[^']*'$/.test(inner)) steps.push(inner.slice(1, -1));
      else fail(`unsupported index '${inner}'`);
      i = close + 1;
    } else {
      fail(`unexpected '${c}'`);
    }
  }
  return steps;
}

function closingQuote(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/** `found: false` when a step hits a missing key, an out-of-range index or a scalar. */
export function lookup(data: unknown, path: PathStep[]): { found: boolean; value: unknown } {
  let current = data;
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(current)) return { found: false, value: undefined };
      const index = step < 0 ? current.length + step : step;
      if (index < 0 || index >= current.length) return { found: false, value: undefined };
      current = current[index];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) {
        return { found: false, value: undefined };
      }
      if (!Object.hasOwn(current, step)) return { found: false, value: undefined };
      current = (current as Record<string, unknown>)[step];
    }
  }
  return { found: true, value: current };
}

/** Evaluates like yq: a missing path gives the fallback (`//` also replaces null and false), else null. */
export function evaluateQuery(data: unknown, query: Query): unknown {
  const { found, value } = lookup(data, query.path);
  const empty = !found || value === null || value === undefined || value === false;
  if (query.fallback && empty) return query.fallback.value;
  return found ? (value ?? null) : null;
}
