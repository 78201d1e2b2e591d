/**
 * Gives equal JSON values one number, for the result cache's value table (docs/stacks.md, "The result cache"), and
 * checks on the way that JSON carries each value exactly. Merging shares unchanged values, and rebuilds some sections
 * alike for every instance (a backend, component_info), so a component's section value in one stack is most often
 * the very value, or a value alike to the one, the same component's section held in the stack before: comparing the
 * two finds it, without a text or a hash. Strings and numbers are then found by themselves; only another object
 * (vars, new in every stack) is checked and turned into JSON text, which finds its equals and is the text the pack
 * needs anyway.
 */
import { isPlainMap, type PlainMap } from '../data/merge.ts';

/** The number a value JSON cannot carry exactly would get. */
const NOT_JSON = -1;

export class JsonInterner {
  /** The first value interned under each number, and its JSON text (made when first asked for, for a scalar). */
  readonly #values: unknown[] = [];
  readonly #texts: (string | undefined)[] = [];
  /** Strings, finite numbers, booleans and null, by themselves (a Map tells "1" from 1). */
  readonly #scalars = new Map<unknown, number>();
  readonly #byText = new Map<string, number>();
  /** Per component name, its section's keys and the value each held last, with its number. */
  readonly #last = new Map<string, { keys: string[]; slots: Slot[] }>();

  /**
   * A component's section as numbers: its keys in order (the very array the component's section had the last time,
   * when the keys are the same) and each value's number, equal numbers for values with the same JSON text (a map's
   * keys in the same order); undefined when JSON cannot carry a value exactly (undefined, NaN, Infinity, -0, a class
   * instance, a hole in a list, a key `__proto__`). Values must not change once interned: merging never changes a
   * value it made.
   */
  section(component: string, section: PlainMap): InternedSection | undefined {
    const keys = Object.keys(section);
    let last = this.#last.get(component);
    if (last === undefined || !sameKeys(last.keys, keys)) {
      last = { keys, slots: [] };
      this.#last.set(component, last);
    }
    const ids = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const value = section[keys[i]];
      const slot = last.slots[i];
      if (slot !== undefined && (slot.value === value || slot.misses < 2) && sameJson(slot.value, value)) {
        ids[i] = slot.id;
        continue;
      }
      const id = typeof value === 'object' && value !== null ? this.#object(value) : this.#scalar(value);
      if (id === NOT_JSON) return undefined;
      if (slot === undefined) last.slots[i] = { value, id, misses: 0 };
      else {
        // A section that differs in every stack (vars) is not compared again until it is alike once more.
        slot.misses = id === slot.id ? 0 : slot.misses + 1;
        slot.value = value;
        slot.id = id;
      }
      ids[i] = id;
    }
    return { keys: last.keys, ids };
  }

  /** How many numbers there are (they run from 0). */
  get size(): number {
    return this.#values.length;
  }

  /** The value first interned under a number. */
  value(id: number): unknown {
    return this.#values[id];
  }

  /** The JSON text of the values under a number. */
  text(id: number): string {
    let text = this.#texts[id];
    if (text === undefined) {
      text = JSON.stringify(this.#values[id]);
      this.#texts[id] = text;
    }
    return text;
  }

  #scalar(value: unknown): number {
    if (Object.is(value, -0)) return NOT_JSON; // the Map would find the 0
    let id = this.#scalars.get(value);
    if (id === undefined) {
      if (!isJsonScalar(value)) return NOT_JSON;
      id = this.#add(value, undefined);
      this.#scalars.set(value, id);
    }
    return id;
  }

  #object(value: object): number {
    if (!isJson(value)) return NOT_JSON;
    const text = JSON.stringify(value);
    let id = this.#byText.get(text);
    if (id === undefined) {
      id = this.#add(value, text);
      this.#byText.set(text, id);
    }
    return id;
  }

  #add(value: unknown, text: string | undefined): number {
    this.#values.push(value);
    this.#texts.push(text);
    return this.#values.length - 1;
  }
}

/**
 * Whether `value` has the JSON text of `known` (a value interned, so JSON carries it exactly), found without making
 * either text: merging builds some sections afresh for every instance (a backend, component_info, metadata), alike in
 * every stack. A -0 is never taken for a 0.
 */
function sameJson(known: unknown, value: unknown): boolean {
  if (known === value) return typeof known !== 'number' || known !== 0 || Object.is(known, value);
  if (typeof known !== 'object' || known === null || typeof value !== 'object' || value === null) return false;
  if (Array.isArray(known)) {
    if (!Array.isArray(value) || value.length !== known.length) return false;
    for (let i = 0; i < known.length; i++) if (!(i in value) || !sameJson(known[i], value[i])) return false;
    return true;
  }
  if (!isPlainMap(value)) return false;
  const keys = Object.keys(known);
  const valueKeys = Object.keys(value);
  if (keys.length !== valueKeys.length) return false;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== valueKeys[i] || !sameJson((known as PlainMap)[keys[i]], value[keys[i]])) return false;
  }
  return true;
}

/** A section's keys in order and the number of each value. */
export interface InternedSection {
  keys: string[];
  ids: Int32Array;
}

/** Whether two key lists are the same, in order. */
export function sameKeys(known: string[], keys: string[]): boolean {
  if (known.length !== keys.length) return false;
  for (let i = 0; i < keys.length; i++) if (known[i] !== keys[i]) return false;
  return true;
}

interface Slot {
  value: unknown;
  id: number;
  /** How many values in a row were not alike to the one before. */
  misses: number;
}

function isJsonScalar(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  return typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0);
}

/** Whether JSON carries a value exactly: plain maps, lists without holes, and scalars JSON carries exactly. */
function isJson(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return isJsonScalar(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!(i in value) || !isJson(value[i])) return false;
    return true;
  }
  if (!isPlainMap(value)) return false;
  for (const key of Object.keys(value)) if (key === '__proto__' || !isJson(value[key])) return false;
  return true;
}
