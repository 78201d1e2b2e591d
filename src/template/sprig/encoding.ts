/** Sprig's encodings and hashes: JSON as Go's encoding/json writes it, YAML, base64, SHA sums, UUIDs. */
import { createHash, randomUUID } from 'node:crypto';
import { yaml } from '../../util/yaml-lib.ts';
import { formatValue } from '../format.ts';
import { type FuncMap, typed } from '../funcs.ts';
import { isMap, kindOf, mapEntries, typeName } from '../value.ts';

/** Go's encoding/json output: map keys sorted, <, > and & escaped as \u003c, \u003e, \u0026, non-finite numbers rejected. */
function goJson(v: unknown, indent = '', level = 0): string {
  const nl = indent ? `\n${indent.repeat(level + 1)}` : '';
  const close = indent ? `\n${indent.repeat(level)}` : '';
  const sep = indent ? ': ' : ':';
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return 'null';
    case 'bool':
      return String(v);
    case 'int':
    case 'float':
      if (!Number.isFinite(Number(v))) throw new Error(`json: unsupported value: ${formatValue(v)}`);
      return String(v);
    case 'string':
      return JSON.stringify(v).replace(
        /[<>&\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
    case 'slice': {
      const items = (v as unknown[]).map((x) => goJson(x, indent, level + 1));
      return items.length === 0 ? '[]' : `[${nl}${items.join(`,${nl}`)}${close}]`;
    }
    case 'map':
    case 'struct': {
      const entries = isMap(v) ? mapEntries(v) : Object.entries(v as object);
      const items = entries.map(
        ([k, x]) => `${goJson(String(k), indent, level + 1)}${sep}${goJson(x, indent, level + 1)}`,
      );
      return items.length === 0 ? '{}' : `{${nl}${items.join(`,${nl}`)}${close}}`;
    }
    case 'time':
      return JSON.stringify(v);
    default:
      throw new Error(`json: unsupported type: ${typeName(v)}`);
  }
}

function b64dec(s: string): string {
  const bad = /[^A-Za-z0-9+/=]/.exec(s);
  if (bad) return `illegal base64 data at input byte ${Buffer.byteLength(s.slice(0, bad.index))}`;
  if (s.length % 4 !== 0 || /=[^=]/.test(s))
    return `illegal base64 data at input byte ${Math.max(0, s.length - (s.length % 4 || 4))}`;
  return Buffer.from(s, 'base64').toString('utf8');
}

const S = 'string';

export const encodingFunctions: FuncMap = {
  toJson: typed(['any'], (v: unknown) => {
    try {
      return goJson(v);
    } catch {
      return '';
    }
  }),
  mustToJson: typed(['any'], (v: unknown) => goJson(v)),
  toPrettyJson: typed(['any'], (v: unknown) => {
    try {
      return goJson(v, '  ', 0);
    } catch {
      return '';
    }
  }),
  fromJson: typed([S], (s: string) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return null;
    }
  }),
  toYaml: typed(['any'], (v: unknown) =>
    yaml()
      .stringify(v ?? null, { sortMapEntries: true, indentSeq: false, lineWidth: 0 })
      .replace(/\n$/, ''),
  ),
  fromYaml: typed([S], (s: string) => {
    try {
      const parsed = yaml().parse(s) as unknown;
      if (parsed === null || parsed === undefined) return {};
      if (!isMap(parsed))
        throw new Error(`cannot unmarshal ${typeName(parsed)} into Go value of type map[string]interface {}`);
      return parsed;
    } catch (error) {
      return { Error: (error as Error).message };
    }
  }),
  b64enc: typed([S], (s: string) => Buffer.from(s, 'utf8').toString('base64')),
  b64dec: typed([S], b64dec),
  sha256sum: typed([S], (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')),
  sha1sum: typed([S], (s: string) => createHash('sha1').update(s, 'utf8').digest('hex')),
  uuidv4: typed([], () => randomUUID()),
};
