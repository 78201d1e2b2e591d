/**
 * `overrides:` scoping (docs/architecture.md, "Overrides scoping"): each file's overrides, global and per kind,
 * apply to the components defined in that file and in the files it imports afterwards; the importer wins.
 */
import { isPlainMap, mergeLayers, type PlainMap } from '../data/merge.ts';

/** Overrides per component kind; `*` holds the global `overrides` section. */
export type OverridesByKind = Record<string, PlainMap>;

export function withoutImport(data: PlainMap): PlainMap {
  if (!('import' in data)) return data;
  const { import: _ignored, ...rest } = data;
  return rest;
}

export function isEmptyOverrides(overrides: OverridesByKind): boolean {
  for (const key in overrides) if (Object.keys(overrides[key]).length > 0) return false;
  return true;
}

/**
 * A file's own overrides per kind. Each kind's entry already holds the file's global `overrides` under it (the
 * kind's section wins), so that between files the importing file wins whatever section the value came from.
 */
export function ownOverrides(data: PlainMap): OverridesByKind {
  const out: OverridesByKind = {};
  const global = isPlainMap(data.overrides) ? data.overrides : {};
  if (Object.keys(global).length > 0) out['*'] = global;
  for (const key of Object.keys(data)) {
    const section = data[key];
    if (key === 'components' || !isPlainMap(section) || !isPlainMap(section.overrides)) continue;
    if (Object.keys(section.overrides).length > 0) out[key] = mergeLayers([global, section.overrides]);
  }
  return out;
}

export function mergeOverrides(lower: OverridesByKind, higher: OverridesByKind): OverridesByKind {
  if (isEmptyOverrides(higher)) return lower;
  if (isEmptyOverrides(lower)) return higher;
  const out: OverridesByKind = {};
  for (const kind of new Set([...Object.keys(lower), ...Object.keys(higher)])) {
    out[kind] = mergeLayers([lower[kind] ?? lower['*'], higher[kind] ?? higher['*']]);
  }
  return out;
}

/** Writes the file-scoped overrides into every component this file defines (Atmos: componentSection["overrides"]). */
export function applyOverrides(data: PlainMap, overrides: OverridesByKind): PlainMap {
  if (isEmptyOverrides(overrides) || !isPlainMap(data.components)) return data;
  const components: PlainMap = { ...data.components };
  for (const kind of Object.keys(components)) {
    const byName = components[kind];
    if (!isPlainMap(byName)) continue;
    const final = overrides[kind] ?? overrides['*'];
    if (!final || Object.keys(final).length === 0) continue;
    const updated: PlainMap = {};
    for (const name of Object.keys(byName)) {
      const section = byName[name];
      updated[name] = isPlainMap(section) ? { ...section, overrides: final } : section;
    }
    components[kind] = updated;
  }
  return { ...data, components };
}
