/**
 * Go's value model for templates. JS values map to Go kinds as follows: undefined = an invalid reflect.Value (a
 * missing key), null = nil, a safe-integer number = int, any other number = float64, bigint = int64,
 * array = []interface{}, plain object or Map = map[string]interface{}, Date = time.Time, function = func,
 * other objects = struct.
 */
export type Kind =
  | 'invalid'
  | 'nil'
  | 'bool'
  | 'int'
  | 'float'
  | 'string'
  | 'slice'
  | 'map'
  | 'func'
  | 'time'
  | 'struct';

export type GoMap = Record<string, unknown> | Map<unknown, unknown>;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function isMap(v: unknown): v is GoMap {
  return isPlainObject(v) || v instanceof Map;
}

export function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'undefined':
      return 'invalid';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isSafeInteger(v) ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'function':
      return 'func';
    case 'object':
      if (v === null) return 'nil';
      if (Array.isArray(v)) return 'slice';
      if (v instanceof Date) return 'time';
      if (v instanceof Map || isPlainObject(v)) return 'map';
      return 'struct';
  }
  return 'struct';
}

/** The Go type name of a value, as reflect.Type.String() would print it. */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return typeof v === 'bigint' ? 'int64' : 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice':
      return '[]interface {}';
    case 'map':
      return 'map[string]interface {}';
    case 'func':
      return 'func(...interface {}) interface {}';
    case 'time':
      return 'time.Time';
    default: {
      const name = (v as object).constructor?.name;
      return name ? `main.${name}` : 'struct {}';
    }
  }
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Map entries in Go's sorted key order (fmt and range both sort map keys). */
export function mapEntries(m: GoMap): Array<[unknown, unknown]> {
  if (m instanceof Map) return [...m.entries()].sort((x, y) => compareKeys(x[0], y[0]));
  return Object.keys(m)
    .sort()
    .map((k) => [k, m[k]]);
}

export function mapGet(m: GoMap, key: string): { found: boolean; value: unknown } {
  if (m instanceof Map) return { found: m.has(key), value: m.get(key) };
  if (Object.hasOwn(m, key)) return { found: true, value: m[key] };
  return { found: false, value: undefined };
}

export function mapSize(m: GoMap): number {
  return m instanceof Map ? m.size : Object.keys(m).length;
}

export function mapKeys(m: GoMap): string[] {
  return m instanceof Map ? [...m.keys()].map(String).sort() : Object.keys(m).sort();
}

/** Go's template truth: false, 0, nil, empty string/slice/map and missing values are false. */
export function isTrue(v: unknown): boolean {
  switch (typeof v) {
    case 'undefined':
      return false;
    case 'boolean':
      return v;
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'function':
      return true;
    case 'object':
      if (v === null) return false;
      if (Array.isArray(v)) return v.length > 0;
      if (v instanceof Map) return v.size > 0;
      if (isPlainObject(v)) {
        for (const _ in v) return true;
        return false;
      }
      return true;
  }
  return true;
}
