/**
 * Shapes of the JSON files strata writes and reads back (execution state, run records, locks): a small schema
 * checker whose answer names the first wrong field in words (`nodes must be an object, found a string`), so a file
 * edited by hand or written by another version is a clear error, never a TypeError later on.
 */

/** Checks a value; gives what is wrong with it (starting at `path`), or undefined when it fits. */
export type Shape = (value: unknown, path: string) => string | undefined;

/** A field that may be absent (or null). */
export interface Optional {
  optional: Shape;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value === 'number' ? 'the number' : typeof value} ${String(value)}`;
}

function wrong(path: string, expected: string, value: unknown): string {
  return `${path || 'the file'} must be ${expected}, found ${describeValue(value)}`;
}

export const string: Shape = (value, path) => (typeof value === 'string' ? undefined : wrong(path, 'a string', value));
export const number: Shape = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) ? undefined : wrong(path, 'a number', value);
export const integer: Shape = (value, path) =>
  Number.isInteger(value) ? undefined : wrong(path, 'a whole number', value);

export function oneOf(...allowed: Array<string | number>): Shape {
  const list = allowed.map((a) => JSON.stringify(a)).join(', ');
  return (value, path) => (allowed.includes(value as string) ? undefined : wrong(path, `one of ${list}`, value));
}

export function optional(shape: Shape): Optional {
  return { optional: shape };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function join(path: string, key: string): string {
  const part = /^[A-Za-z_][\w-]*$/.test(key) ? key : JSON.stringify(key);
  return path ? `${path}.${part}` : part;
}

/** An object with these fields (others are allowed: a newer strata may add some). */
export function object(fields: Record<string, Shape | Optional>): Shape {
  return (value, path) => {
    if (!isMap(value)) return wrong(path, 'an object', value);
    for (const [key, field] of Object.entries(fields)) {
      const present = value[key] !== undefined && value[key] !== null;
      if ('optional' in field) {
        if (present) {
          const error = field.optional(value[key], join(path, key));
          if (error) return error;
        }
      } else {
        const error = present ? field(value[key], join(path, key)) : `${join(path, key)} is missing`;
        if (error) return error;
      }
    }
    return undefined;
  };
}

/** An object whose every value has the same shape (a map by name). */
export function record(shape: Shape): Shape {
  return (value, path) => {
    if (!isMap(value)) return wrong(path, 'an object', value);
    for (const [key, item] of Object.entries(value)) {
      const error = shape(item, join(path, key));
      if (error) return error;
    }
    return undefined;
  };
}

export function list(shape: Shape): Shape {
  return (value, path) => {
    if (!Array.isArray(value)) return wrong(path, 'a list', value);
    for (const [index, item] of value.entries()) {
      const error = shape(item, `${path}[${index}]`);
      if (error) return error;
    }
    return undefined;
  };
}

/** What is wrong with `value` as a whole, or undefined when it fits `shape`. */
export function problemWith(shape: Shape, value: unknown): string | undefined {
  return shape(value, '');
}
