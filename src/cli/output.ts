import { UsageError } from '../errors.ts';
import { yaml } from '../util/yaml-lib.ts';

export type OutputFormat = 'yaml' | 'json';

export function parseFormat(value: string | undefined, allowed: readonly string[] = ['yaml', 'json']): OutputFormat {
  const format = (value ?? allowed[0]).toLowerCase();
  if (!allowed.includes(format)) {
    throw new UsageError(`invalid --format '${value}'`, { hint: `use one of: ${allowed.join(', ')}` });
  }
  return format as OutputFormat;
}

/** Serialises data as Atmos does: YAML with two-space indent and no line folding, or indented JSON. */
export function render(data: unknown, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (data === undefined) return '';
  return yaml().stringify(data, { indent: 2, lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * What `render(data, 'json')` returns, in pieces of one top-level entry each, so the whole text (34 MB for 500 stacks)
 * is never held at once. JSON strings hold no raw newline, so indenting an entry's lines is exact.
 */
export function* jsonChunks(data: unknown): Generator<string> {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || 'toJSON' in data) {
    yield render(data, 'json');
    return;
  }
  let first = true;
  for (const [key, value] of Object.entries(data)) {
    const text = JSON.stringify(value, null, 2);
    if (text === undefined) continue;
    yield `${first ? '{' : ','}\n  ${JSON.stringify(key)}: ${text.replaceAll('\n', '\n  ')}`;
    first = false;
  }
  yield first ? '{}\n' : '\n}\n';
}
