/**
 * jq expressions, where Atmos takes yq expressions (`!terraform.state vpc .ids[0] // "none"`, `!include f.yaml .a`,
 * `describe --query`): the real jq compiled to WebAssembly (jq-wasm), loaded on first use. For the paths and
 * `//` defaults Atmos users write, jq and yq agree. No results give null, one gives the value, several a list.
 */
import { StrataError } from '../errors.ts';
import { callSync } from '../util/sync-call.ts';

export class QueryError extends StrataError {}

let jq: Promise<{ raw(data: string, filter: string, flags?: string[]): Promise<string> }> | undefined;

function results(output: string): unknown {
  const values = output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
  if (values.length === 0) return null;
  return values.length === 1 ? values[0] : values;
}

function queryError(expression: string, error: unknown, where: string): QueryError {
  const message = String((error as Error).message ?? error)
    .replace(/^Failed to execute raw query: /, '')
    .trim();
  return new QueryError(`${where}: the query '${expression}' failed: ${message}`, {
    hint: 'queries are jq expressions: .a.b, .list[0], .map["key"], .a // "default", .items | length',
  });
}

/**
 * An expression written as one quoted word, as Atmos's functions take it: `'...'` (a doubled `''` is a quote) or
 * `"..."` (a doubled `""` is a quote: Atmos's escaping for string defaults, `".a // ""none"""`).
 */
export function unquoteExpression(text: string): string {
  const single = /^'((?:[^']|'')*)'$/s.exec(text);
  if (single) return single[1].replaceAll("''", "'");
  const double = /^"((?:[^"]|"")*)"$/s.exec(text);
  if (double) return double[1].replaceAll('""', '"');
  return text;
}

/** Evaluates `expression` against `data` (anything JSON can hold). */
export async function runJq(data: unknown, expression: string, where = 'query'): Promise<unknown> {
  jq ??= import('jq-wasm');
  try {
    return results(await (await jq).raw(JSON.stringify(data ?? null), expression, ['-c']));
  } catch (error) {
    throw queryError(expression, error, where);
  }
}

/** The same, blocking: for `!include` queries, which run while manifests are read. */
export function runJqSync(data: unknown, expression: string, where = 'query'): unknown {
  let output: string;
  try {
    output = callSync<string>(import.meta.resolve('jq-wasm'), 'raw', [
      JSON.stringify(data ?? null),
      expression,
      ['-c'],
    ]);
  } catch (error) {
    if (error instanceof StrataError) throw error;
    throw queryError(expression, error, where);
  }
  return results(output);
}
