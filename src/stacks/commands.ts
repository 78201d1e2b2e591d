/**
 * The stack commands as typed library functions: the CLI only parses flags and renders what these return.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { globSync } from 'tinyglobby';
import { StrataError } from '../errors.ts';
import { didYouMean } from '../util/suggest.ts';
import { checkInstanceVariables } from '../validate/variables.ts';
import type { StackEngine } from './engine.ts';
import { STACK_EXTENSIONS } from './manifests.ts';
import { finalizeMarkers, isPlainMap, type PlainMap } from './merge.ts';
import type { ComponentInstance } from './types.ts';
import { parseYaml } from './yaml.ts';

export interface DescribeStacksOptions {
  /** Stack names or manifest paths to keep. */
  stacks?: string[];
  components?: string[];
  componentTypes?: string[];
  /** Section names to keep in each component (e.g. vars, settings). */
  sections?: string[];
  includeEmptyStacks?: boolean;
}

export type StacksDescription = Record<string, { components: Record<string, Record<string, PlainMap>> }>;

/** `describe stacks`: every stack with its components, keyed by canonical stack name. */
export async function describeStacks(
  engine: StackEngine,
  options: DescribeStacksOptions = {},
): Promise<StacksDescription> {
  const out: StacksDescription = {};
  const wantedStacks = options.stacks?.length ? new Set(options.stacks) : undefined;
  const instances = await engine.instances();
  for (const instance of instances) {
    if (
      wantedStacks &&
      !wantedStacks.has(instance.stack) &&
      !wantedStacks.has(String(instance.description.atmos_manifest))
    )
      continue;
    if (options.components?.length && !options.components.includes(instance.name)) continue;
    if (options.componentTypes?.length && !options.componentTypes.includes(instance.kind)) continue;
    const stack = (out[instance.stack] ??= { components: {} });
    const byKind = (stack.components[instance.kind] ??= {});
    byKind[instance.name] = selectSections(instance.description, options.sections);
  }
  if (options.includeEmptyStacks) {
    for (const manifest of engine.manifests()) {
      if (wantedStacks && !wantedStacks.has(manifest.fallbackName) && !wantedStacks.has(manifest.key)) continue;
      out[manifest.fallbackName] ??= { components: {} };
    }
  }
  if (wantedStacks && Object.keys(out).length === 0) {
    // An unknown stack is an error with a suggestion, not an empty result.
    for (const name of wantedStacks) await engine.stackVars(name);
  }
  return sortKeys(out) as StacksDescription;
}

function selectSections(description: PlainMap, sections: string[] | undefined): PlainMap {
  if (!sections?.length) return description;
  const out: PlainMap = {};
  for (const key of Object.keys(description)) if (sections.includes(key)) out[key] = description[key];
  return out;
}

function sortKeys(value: PlainMap): PlainMap {
  const out: PlainMap = {};
  for (const key of Object.keys(value).sort()) out[key] = value[key];
  return out;
}

export interface DescribeComponentResult {
  instance: ComponentInstance;
  /** The section as printed: Atmos's full set of keys, plus deps and component_type. */
  description: PlainMap;
}

/** `describe component <c> -s <stack>`. */
export async function describeComponent(
  engine: StackEngine,
  component: string,
  stack: string,
  kind?: string,
): Promise<DescribeComponentResult> {
  const instance = await engine.describeComponent(component, stack, { kind });
  const imports = engine.origin(instance)?.manifest.imports ?? [];
  const description: PlainMap = { ...instance.description, imports };
  const deps = [...imports, String(instance.description.atmos_manifest)].sort();
  description.component_type = instance.kind;
  description.deps = deps;
  description.deps_all = deps;
  description.component_info = {
    ...(instance.description.component_info as PlainMap),
    component_path: instance.componentDir,
  };
  return { instance, description: sortKeys(description) };
}

/**
 * `describe manifest <path>` (strata only): a top-level manifest merged with all its imports, before components are
 * processed, i.e. what the stack-level sections (vars, settings, env, components, ...) add up to.
 */
export async function describeManifest(engine: StackEngine, manifest: string): Promise<PlainMap> {
  const key = manifest.replace(/\.(ya?ml)(\.tmpl)?$/, '');
  const found = engine.manifests().find((m) => m.key === key || m.fallbackName === manifest);
  if (!found) {
    const keys = engine.manifests().map((m) => m.key);
    throw new StrataError(`no top-level manifest '${manifest}'`, {
      hint: didYouMean(key, keys) ?? `manifests: ${keys.join(', ')}`,
    });
  }
  return { ...(finalizeMarkers(found.doc) as PlainMap), imports: found.imports };
}

/** `list stacks [-c component]`. */
export async function listStacks(engine: StackEngine, options: { component?: string } = {}): Promise<string[]> {
  if (!options.component) return engine.stackNames();
  const instances = await engine.instances({ component: options.component });
  return [...new Set(instances.map((i) => i.stack))].sort();
}

export interface ComponentRow {
  component: string;
  type: string;
  stacks: number;
}

/** `list components [-s stack]`: unique components with their kind and how many stacks use them (abstract hidden). */
export async function listComponents(
  engine: StackEngine,
  options: { stack?: string; abstract?: boolean } = {},
): Promise<ComponentRow[]> {
  if (options.stack) await engine.stackVars(options.stack);
  const instances = await engine.instances({ stack: options.stack });
  const rows = new Map<string, { component: string; type: string; stacks: Set<string> }>();
  for (const instance of instances) {
    if (instance.abstract && !options.abstract) continue;
    const key = `${instance.kind}\u0000${instance.name}`;
    const row = rows.get(key) ?? { component: instance.name, type: instance.kind, stacks: new Set<string>() };
    row.stacks.add(instance.stack);
    rows.set(key, row);
  }
  return [...rows.values()]
    .map((r) => ({ component: r.component, type: r.type, stacks: r.stacks.size }))
    .sort((a, b) => a.component.localeCompare(b.component) || a.type.localeCompare(b.type));
}

export interface DependentItem {
  component: string;
  component_type: string;
  component_path: string;
  stack: string;
  stack_slug: string;
  namespace?: string;
  tenant?: string;
  environment?: string;
  stage?: string;
}

/** `describe dependents <c> -s <stack>`. */
export async function describeDependents(
  engine: StackEngine,
  component: string,
  stack: string,
): Promise<DependentItem[]> {
  const dependents = await engine.dependents(component, stack);
  dependents.sort((a, b) => a.stack.localeCompare(b.stack) || a.name.localeCompare(b.name));
  return dependents.map((d) => {
    const vars = d.description.vars as PlainMap;
    const item: DependentItem = {
      component: d.name,
      component_type: d.kind,
      component_path: String((d.description.component_info as PlainMap).component_path),
      stack: d.stack,
      stack_slug: `${d.stack}-${d.name.replaceAll('/', '-')}`,
    };
    for (const key of ['namespace', 'tenant', 'environment', 'stage'] as const)
      if (vars[key] !== undefined) item[key] = String(vars[key]);
    return item;
  });
}

export interface ValidationProblem {
  severity: 'error' | 'warning';
  stack?: string;
  component?: string;
  file?: string;
  line?: number;
  col?: number;
  message: string;
  hint?: string;
}

/**
 * `validate stacks`: every YAML file under the stacks folder parses, every stack assembles and every component
 * evaluates; problems are collected (not just the first) so one run shows them all.
 */
export async function validateStacks(
  engine: StackEngine,
  options: { stack?: string; checkVariables?: boolean } = {},
): Promise<ValidationProblem[]> {
  const problems: ValidationProblem[] = [];
  const record = (error: unknown) => {
    if (!(error instanceof StrataError)) throw error;
    problems.push({
      severity: 'error',
      file: error.location?.file,
      line: error.location?.line,
      col: error.location?.col,
      message: error.message,
      hint: error.hint,
    });
  };
  const base = engine.config.stacks.basePath;
  const files = globSync(
    STACK_EXTENSIONS.filter((e) => !e.endsWith('.tmpl')).map((e) => `**/*${e}`),
    { cwd: base, onlyFiles: true },
  ).sort();
  for (const file of files) {
    try {
      parseYaml(readFileSync(join(base, file), 'utf8'), join(base, file));
    } catch (error) {
      record(error);
    }
  }
  if (problems.length > 0) return problems;
  try {
    const instances = await engine.instances(options.stack ? { stack: options.stack } : {});
    // A misspelt --stack must not validate nothing and succeed: this throws the unknown-stack error.
    if (options.stack && instances.length === 0) await engine.stackVars(options.stack);
    const seen = new Map<string, ComponentInstance>();
    for (const instance of instances) {
      const key = `${instance.kind}/${instance.name}@${instance.stack}`;
      const previous = seen.get(key);
      if (previous && previous.description.atmos_manifest !== instance.description.atmos_manifest) {
        if (
          JSON.stringify(previous.description.vars) !== JSON.stringify(instance.description.vars) ||
          JSON.stringify(previous.description.settings) !== JSON.stringify(instance.description.settings)
        ) {
          problems.push({
            severity: 'error',
            message: `the component '${instance.name}' in the stack '${instance.stack}' is defined differently in the manifests ${previous.description.atmos_manifest} and ${instance.description.atmos_manifest}`,
            hint: 'a component may be configured in only one top-level manifest per stack',
          });
        }
      }
      seen.set(key, instance);
    }
    problems.push(...missingComponentFolders(engine, instances));
    if (options.checkVariables !== false) {
      for (const instance of instances) {
        for (const problem of await checkInstanceVariables(instance))
          problems.push({ ...problem, message: `${problem.component}@${problem.stack}: ${problem.message}` });
      }
    }
  } catch (error) {
    record(error);
  }
  return problems;
}

/**
 * Components whose code folder does not exist (seed properties 4 and 12). A warning, not an error: Atmos does not
 * check this, and repositories that vendor their components in CI have no folders until then.
 */
function missingComponentFolders(engine: StackEngine, instances: ComponentInstance[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const reported = new Set<string>();
  for (const instance of instances) {
    if (instance.abstract || !instance.enabled || existsSync(instance.componentDir)) continue;
    const kindBase = engine.config.components[instance.kind]?.basePath;
    const folder = relative(kindBase ?? engine.config.basePath, instance.componentDir);
    const key = `${instance.kind}/${folder}@${instance.stack}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const existing =
      kindBase && existsSync(kindBase)
        ? readdirSync(kindBase, { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .map((e) => e.name)
        : [];
    problems.push({
      severity: 'warning',
      stack: instance.stack,
      component: instance.name,
      file: engine.origin(instance)?.manifest.path,
      message: `${instance.name}@${instance.stack}: the ${instance.kind} component folder '${folder}' does not exist in ${relative(engine.config.basePath, kindBase ?? '') || '.'}`,
      hint: didYouMean(folder, existing) ?? 'check metadata.component (or the component name), or vendor the component',
    });
  }
  return problems;
}

export interface ComponentValidation {
  name: string;
  schemaType: string;
  schemaPath: string;
  ok: boolean;
  skipped?: string;
  errors: string[];
}

/** `validate component <c> -s <stack>`: runs each `settings.validation` JSON Schema against the described component. */
export async function validateComponent(
  engine: StackEngine,
  component: string,
  stack: string,
  adhoc?: { schemaPath: string; schemaType: string },
): Promise<ComponentValidation[]> {
  const { description } = await describeComponent(engine, component, stack);
  const settings = description.settings as PlainMap;
  const entries: Array<[string, PlainMap]> = adhoc
    ? [['command line', { schema_type: adhoc.schemaType, schema_path: adhoc.schemaPath }]]
    : Object.entries(isPlainMap(settings.validation) ? settings.validation : {}).filter((e): e is [string, PlainMap] =>
        isPlainMap(e[1]),
      );
  const results: ComponentValidation[] = [];
  for (const [name, entry] of entries) {
    if (entry.disabled === true) continue;
    const schemaType = String(entry.schema_type ?? 'jsonschema');
    const schemaPath = String(entry.schema_path ?? '');
    if (schemaType !== 'jsonschema') {
      results.push({
        name,
        schemaType,
        schemaPath,
        ok: true,
        skipped: `${schemaType} policies are not supported by strata (no OPA engine); only jsonschema is checked`,
        errors: [],
      });
      continue;
    }
    const file = isAbsolute(schemaPath) ? schemaPath : join(engine.config.schemas.jsonschemaBasePath, schemaPath);
    if (!existsSync(file)) {
      throw new StrataError(`schema file for validation '${name}' not found: ${file}`, {
        hint: 'schema_path is relative to schemas.jsonschema.base_path in atmos.yaml',
      });
    }
    const schema = JSON.parse(readFileSync(file, 'utf8')) as PlainMap;
    const draft2020 = typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
    const ajv = draft2020
      ? new Ajv2020({ allErrors: true, strict: false })
      : new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    const data = JSON.parse(JSON.stringify(description));
    const ok = validate(data) === true;
    const errors = ok
      ? []
      : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    results.push({ name, schemaType, schemaPath, ok, errors });
  }
  return results;
}
