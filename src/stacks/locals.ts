/**
 * Stack `locals:` (Atmos): file-scoped template variables. A manifest may declare them at the top level, per kind
 * (`terraform.locals`) and per component (`components.terraform.vpc.locals`); each inner scope sees the outer ones.
 * Locals may read other locals (resolved in dependency order; a cycle is an error) and the file's `vars`,
 * `settings` and `env`. The file's templates are then rendered with them when the file is read, and the `locals`
 * sections are dropped: importers never see them and components never print them.
 */
import { isPlainMap, mapDeep, type PlainMap } from '../data/merge.ts';
import { YamlFunction } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { hasTemplate, renderTemplate } from '../template/index.ts';

/** The resolved locals of one manifest: the file's own, and each kind's (file locals included). */
export interface FileLocals {
  locals: PlainMap;
  kinds: Record<string, PlainMap>;
}

interface Scope {
  locals: PlainMap;
  vars: PlainMap;
  settings: PlainMap;
  env: PlainMap;
}

const asMap = (value: unknown): PlainMap => (isPlainMap(value) ? value : {});
const LOCAL_REFERENCE = /\.locals\.([A-Za-z_][A-Za-z0-9_]*)/g;

/** Whether a manifest's text may declare locals (a cheap check before the work below). */
export function mayDeclareLocals(text: string): boolean {
  return /\blocals\s*:/.test(text);
}

/**
 * Resolves a manifest's locals and renders its templates with them. Returns the data without `locals` sections and
 * the resolved locals (for `describe locals`). `display` names the file in errors.
 */
export function applyLocals(
  data: PlainMap,
  file: string,
  delimiters: [string, string],
): { data: PlainMap; locals: FileLocals } {
  const fileScope = scopeOf(data, {}, file, 'locals', delimiters);
  const result: PlainMap = {};
  const kinds: Record<string, PlainMap> = {};
  for (const key of Object.keys(data)) {
    const value = data[key];
    if (key === 'locals') continue;
    if (key === 'components' && isPlainMap(value)) {
      result.components = renderComponents(value, data, fileScope, kinds, file, delimiters);
    } else if (isPlainMap(value) && isPlainMap(value.locals)) {
      const kindScope = kindScopeOf(key, data, fileScope, kinds, file, delimiters);
      result[key] = renderSection(withoutLocals(value), kindScope, delimiters);
    } else {
      result[key] = renderSection(value, fileScope, delimiters);
    }
  }
  return { data: result, locals: { locals: fileScope.locals, kinds } };
}

function renderComponents(
  components: PlainMap,
  data: PlainMap,
  fileScope: Scope,
  kinds: Record<string, PlainMap>,
  file: string,
  delimiters: [string, string],
): PlainMap {
  const out: PlainMap = {};
  for (const kind of Object.keys(components)) {
    const byName = components[kind];
    if (!isPlainMap(byName)) {
      out[kind] = byName;
      continue;
    }
    const kindScope = kindScopeOf(kind, data, fileScope, kinds, file, delimiters);
    const rendered: PlainMap = {};
    for (const name of Object.keys(byName)) {
      const section = byName[name];
      if (!isPlainMap(section) || !isPlainMap(section.locals)) {
        rendered[name] = renderSection(section, kindScope, delimiters);
        continue;
      }
      const scope = scopeOf(section, kindScope, file, `components.${kind}.${name}.locals`, delimiters);
      rendered[name] = renderSection(withoutLocals(section), scope, delimiters);
    }
    out[kind] = rendered;
  }
  return out;
}

/** A kind's scope (`terraform.locals` over the file's), computed once per kind. */
function kindScopeOf(
  kind: string,
  data: PlainMap,
  fileScope: Scope,
  kinds: Record<string, PlainMap>,
  file: string,
  delimiters: [string, string],
): Scope {
  const section = asMap(data[kind]);
  if (!isPlainMap(section.locals)) return fileScope;
  const scope = scopeOf(section, fileScope, file, `${kind}.locals`, delimiters);
  kinds[kind] = scope.locals;
  return scope;
}

function withoutLocals(section: PlainMap): PlainMap {
  const { locals: _locals, ...rest } = section;
  return rest;
}

/** The scope a section's `locals` make: the outer scope's values with this section's vars/settings/env and locals. */
function scopeOf(
  section: PlainMap,
  outer: Partial<Scope>,
  file: string,
  where: string,
  delimiters: [string, string],
): Scope {
  const scope: Scope = {
    locals: { ...outer.locals },
    vars: { ...outer.vars, ...asMap(section.vars) },
    settings: { ...outer.settings, ...asMap(section.settings) },
    env: { ...outer.env, ...asMap(section.env) },
  };
  const declared = section.locals;
  if (declared === undefined || declared === null) return scope;
  if (!isPlainMap(declared)) {
    throw new StrataError(`${where} in ${file} must be a map of names to values`, { location: { file } });
  }
  const resolving: string[] = [];
  const resolve = (name: string): void => {
    if (Object.hasOwn(resolved, name)) return;
    if (resolving.includes(name)) {
      const cycle = [...resolving.slice(resolving.indexOf(name)), name].join(' -> ');
      throw new StrataError(`circular dependency in locals of ${file}: ${cycle}`, {
        location: { file },
        hint: 'a local may read other locals, but not itself through them',
      });
    }
    resolving.push(name);
    for (const dependency of references(declared[name])) if (Object.hasOwn(declared, dependency)) resolve(dependency);
    resolving.pop();
    scope.locals = { ...scope.locals, ...resolved };
    resolved[name] = resolveLocal(declared[name], scope, file, `${where}.${name}`, delimiters);
  };
  const resolved: PlainMap = {};
  for (const name of Object.keys(declared)) resolve(name);
  scope.locals = { ...scope.locals, ...resolved };
  return scope;
}

/** The local names a value reads (`.locals.<name>` in any of its strings). */
function references(value: unknown): string[] {
  const names: string[] = [];
  mapDeep(value, (leaf) => {
    if (typeof leaf === 'string') for (const match of leaf.matchAll(LOCAL_REFERENCE)) names.push(match[1]);
    return leaf;
  });
  return names;
}

/** One local's value: `!env NAME [default]` read from the file's env then the process, templates rendered. */
function resolveLocal(
  value: unknown,
  scope: Scope,
  file: string,
  where: string,
  delimiters: [string, string],
): unknown {
  return mapDeep(value, (leaf) => {
    if (leaf instanceof YamlFunction && leaf.tag === 'env' && typeof leaf.args === 'string')
      return envValue(leaf.args, scope);
    if (typeof leaf !== 'string' || !hasTemplate(leaf, delimiters)) return leaf;
    try {
      return renderTemplate(leaf, scope, { name: where, delimiters, missingkey: 'error' });
    } catch (error) {
      throw new StrataError(`cannot resolve ${where} in ${file}: ${(error as Error).message}`, {
        location: { file },
        hint: "locals may read other locals (.locals.x) and the file's .vars, .settings and .env",
      });
    }
  });
}

function envValue(args: string, scope: Scope): unknown {
  const [name, ...rest] = args.trim().split(/\s+/);
  const fromSection = scope.env[name];
  if (fromSection !== undefined && fromSection !== null) return String(fromSection);
  const fromProcess = process.env[name];
  if (fromProcess !== undefined) return fromProcess;
  return rest.length > 0 ? rest.join(' ').replace(/^(['"])(.*)\1$/, '$2') : null;
}

/**
 * Renders a section's templates with the scope. As Atmos renders the whole file, a template that needs data the file
 * does not have (`{{ .atmos_component }}`) leaves the section for the component stage; strata still resolves the
 * strings that read `.locals`, which would otherwise render `<no value>` there.
 */
function renderSection(value: unknown, scope: Scope, delimiters: [string, string]): unknown {
  if (Object.keys(scope.locals).length === 0) return value;
  const renderWith = (onlyLocals: boolean) =>
    mapDeep(value, (leaf) => {
      if (typeof leaf !== 'string' || !hasTemplate(leaf, delimiters)) return leaf;
      if (onlyLocals && !leaf.includes('.locals')) return leaf;
      try {
        return renderTemplate(leaf, scope, { name: 'locals', delimiters, missingkey: 'error' });
      } catch (error) {
        if (onlyLocals) return leaf;
        throw error;
      }
    });
  try {
    return renderWith(false);
  } catch {
    return renderWith(true);
  }
}
