import { stringify } from 'yaml';
import { UsageError } from '../errors.ts';

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
  return stringify(data, { indent: 2, lineWidth: 0, aliasDuplicateObjects: false });
}
