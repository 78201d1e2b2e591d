/**
 * Parameter checking as PVE's JSONSchema does it: every endpoint declares its parameters (type, enum, range,
 * pattern, format, property strings) with `additionalProperties => 0`, and a request that does not fit gets 400
 * "Parameter verification failed." with one message per parameter, in PVE's words.
 */
import { invalidParams } from './errors.ts';

export type ParamType = 'string' | 'integer' | 'number' | 'boolean';

export interface ParamSpec {
  type: ParamType;
  optional?: boolean;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  /** Matched against the whole value. */
  pattern?: RegExp;
  /** A format check: returns PVE's error text (after "invalid format - "), or undefined when the value fits. */
  format?: (value: string, path: string) => string | undefined;
}

export type Schema = Record<string, ParamSpec>;

/** A property-string key: a ParamSpec that may take the value without `key=` or stand for another key. */
export interface PropKeySpec extends ParamSpec {
  defaultKey?: boolean;
  /** `virtio=MAC` style: the key names the value of `keyAlias`, the value is this key's own. */
  keyAlias?: string;
}

/** The values of a request as the HTTP layer hands them over: strings, or JSON values from a JSON body. */
export type RawParams = Record<string, unknown>;

/** What a failed check says about one value, in JSONSchema's words; undefined when it fits. */
export function checkValue(spec: ParamSpec, raw: unknown, path: string): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw === 'boolean') {
    if (spec.type === 'boolean') return undefined;
    return `type check ('${spec.type}') failed - got JSON::PP::Boolean`;
  }
  if (typeof raw === 'object') {
    return `type check ('${spec.type}') failed - got ${Array.isArray(raw) ? 'ARRAY' : 'HASH'}`;
  }
  const value = String(raw);
  if (spec.type === 'boolean' && value !== '0' && value !== '1') {
    return `type check ('boolean') failed - got '${value}'`;
  }
  if (spec.type === 'integer' && !/^-?\d+$/.test(value)) return `type check ('integer') failed - got '${value}'`;
  if (spec.type === 'number' && !/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value)) {
    return `type check ('number') failed - got '${value}'`;
  }
  if (spec.maxLength !== undefined && value.length > spec.maxLength) {
    return `value may only be ${spec.maxLength} characters long`;
  }
  if (spec.pattern && !new RegExp(`^(?:${spec.pattern.source})$`, spec.pattern.flags).test(value)) {
    return 'value does not match the regex pattern';
  }
  if (spec.format) {
    const error = spec.format(value, path);
    if (error !== undefined) return `invalid format - ${error}`;
  }
  if (spec.minimum !== undefined && Number(value) < spec.minimum) {
    return `value must have a minimum value of ${spec.minimum}`;
  }
  if (spec.maximum !== undefined && Number(value) > spec.maximum) {
    return `value must have a maximum value of ${spec.maximum}`;
  }
  if (spec.enum && !spec.enum.includes(value)) {
    return `value '${value}' does not have a value in the enumeration '${spec.enum.join(', ')}'`;
  }
  return undefined;
}

/** Normalises a checked value: booleans as 0/1, everything else as its text. */
function normalise(raw: unknown): string {
  if (typeof raw === 'boolean') return raw ? '1' : '0';
  return String(raw);
}

/**
 * Checks request parameters against an endpoint's schema (no additional properties) and returns them as strings.
 * `schemaFor` answers keys the fixed table does not list (qemu's indexed keys: net0, scsi1, …).
 */
export function validate(
  schema: Schema,
  params: RawParams,
  schemaFor?: (key: string) => ParamSpec | undefined,
): Record<string, string> {
  const errors: Record<string, string> = {};
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(params)) {
    const spec = schema[key] ?? schemaFor?.(key);
    if (!spec) {
      errors[key] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    if (raw === null || raw === undefined) continue;
    const error = checkValue(spec, raw, key);
    if (error) errors[key] = error;
    else out[key] = normalise(raw);
  }
  for (const [key, spec] of Object.entries(schema)) {
    if (!spec.optional && out[key] === undefined && errors[key] === undefined) {
      errors[key] = 'property is missing and it is not optional';
    }
  }
  if (Object.keys(errors).length > 0) throw invalidParams(errors);
  return out;
}

/** Parses a property string (`a=1,b=x` with an optional default key) and checks each key; throws PVE's format error text. */
export function parsePropertyString(
  format: Record<string, PropKeySpec>,
  text: string,
  path: string,
): Record<string, string> {
  const result: Record<string, string> = {};
  let defaultUsed = false;
  for (const part of text.split(',')) {
    if (/^\s*$/.test(part)) continue;
    const kv = /^([^=]+)=(.+)$/.exec(part);
    if (kv) {
      const [, key, value] = kv;
      if (result[key] !== undefined) throw new FormatError(`duplicate key in comma-separated list property: ${key}`);
      const alias = format[key]?.keyAlias;
      if (alias) {
        if (result[alias] !== undefined) throw new FormatError(`key '${alias}' has already been set`);
        result[alias] = key;
      }
      // Inside property strings PVE reads booleans with parse_boolean: yes/no, on/off, true/false too.
      result[key] = format[key]?.type === 'boolean' ? parseBoolean(value) : value;
    } else if (!part.includes('=')) {
      const defaultKey = Object.entries(format).find(([, spec]) => spec.defaultKey)?.[0];
      if (!defaultKey) throw new FormatError('value without key, but schema does not define a default key');
      if (defaultUsed || result[defaultKey] !== undefined) {
        throw new FormatError(`duplicate key in comma-separated list property: ${defaultKey}`);
      }
      defaultUsed = true;
      result[defaultKey] = part;
    } else {
      throw new FormatError('missing key in comma-separated list property');
    }
  }
  const errors: string[] = [];
  for (const [key, value] of Object.entries(result)) {
    const spec = format[key];
    if (!spec) {
      errors.push(
        `${path}.${key}: property is not defined in schema and the schema does not allow additional properties`,
      );
      continue;
    }
    if (spec.keyAlias) continue;
    const error = checkValue(spec, value, `${path}.${key}`);
    if (error) errors.push(`${path}.${key}: ${error}`);
  }
  for (const [key, spec] of Object.entries(format)) {
    if (!spec.optional && !spec.keyAlias && result[key] === undefined) {
      errors.push(`${path}.${key}: property is missing and it is not optional`);
    }
  }
  if (errors.length > 0) throw new FormatError(`format error\n${errors.join('\n')}`);
  return result;
}

/** PVE::JSONSchema::parse_boolean: 1/0, true/false, yes/no, on/off (any case); anything else stays as it is. */
export function parseBoolean(value: string): string {
  if (/^(1|true|yes|on)$/i.test(value)) return '1';
  if (/^(0|false|no|off)$/i.test(value)) return '0';
  return value;
}

/** A property string that does not parse; its message is what follows "invalid format - ". */
export class FormatError extends Error {}

/** A format check built from a property-string format (for ParamSpec.format). */
export function propertyString(format: Record<string, PropKeySpec>): ParamSpec['format'] {
  return (value, path) => {
    try {
      parsePropertyString(format, value, path);
      return undefined;
    } catch (error) {
      if (error instanceof FormatError) return error.message;
      throw error;
    }
  };
}

// ---- PVE's standard options and formats -------------------------------------------------------------------------

const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
export const DNS_NAME_RE =
  /^(?=.{1,255}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const STORAGE_ID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const CONFIG_ID_RE = /^[a-z][a-z0-9_-]+$/i;

export const node: ParamSpec = {
  type: 'string',
  format: (v) => (NODE_RE.test(v) ? undefined : `value does not look like a valid node name`),
};
export const vmid: ParamSpec = { type: 'integer', minimum: 100, maximum: 999999999 };
export const optionalBool: ParamSpec = { type: 'boolean', optional: true };
export const optionalString: ParamSpec = { type: 'string', optional: true };
export const optionalInt: ParamSpec = { type: 'integer', optional: true };
export const dnsName: ParamSpec = {
  type: 'string',
  format: (v) => (DNS_NAME_RE.test(v) ? undefined : 'value does not look like a valid DNS name'),
};
export const storageId: ParamSpec = {
  type: 'string',
  format: (v) => (STORAGE_ID_RE.test(v) ? undefined : `storage ID '${v}' contains illegal characters`),
};
export const poolId: ParamSpec = {
  type: 'string',
  format: (v) => (/^[A-Za-z0-9_-]+$/.test(v) ? undefined : `invalid pool ID '${v}'`),
};
export const configId: ParamSpec = {
  type: 'string',
  maxLength: 40,
  format: (v) => (CONFIG_ID_RE.test(v) ? undefined : `invalid configuration ID '${v}'`),
};
export const configIdList: ParamSpec = {
  type: 'string',
  format: (v) => {
    const bad = splitList(v).find((id) => !CONFIG_ID_RE.test(id));
    return bad === undefined ? undefined : `invalid configuration ID '${bad}'`;
  },
};
export const skiplock: ParamSpec = optionalBool;

/** PVE::Tools::split_list: commas, semicolons, NULs (repeated form keys) and blanks separate list items. */
export function splitList(text: string): string[] {
  return text.split(/[,;\0\s]+/).filter(Boolean);
}

/** The path parameters every VM endpoint takes. */
export const VM_PATH: Schema = { node, vmid };
export const NODE_PATH: Schema = { node };
