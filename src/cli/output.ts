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

/** Colour only on a terminal and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
export type Color = keyof typeof codes;

export function paint(text: string, color: Color, stream: NodeJS.WriteStream = process.stdout): string {
  return useColor(stream) ? `\u001b[${codes[color]}m${text}\u001b[0m` : text;
}
