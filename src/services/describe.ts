/**
 * `describe` and `list` over the stacks as typed functions: the CLI only parses flags and renders what these return.
 */
import { withSensitiveMasked } from '../components/handover.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { finalizeMarkers, type PlainMap } from '../data/merge.ts';
import { StrataError, UsageError } from '../errors.ts';
import type { Diagram } from '../graph/render.ts';
import type { DependentItem } from '../stacks/dependencies.ts';
import type { StackEngine } from '../stacks/engine.ts';
import { didYouMean } from '../util/suggest.ts';

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
  requireKnownSections(instances, options.sections);
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

/** `--sections varz`: a name no component description has is a usage error, not an empty result. */
function requireKnownSections(instances: ComponentInstance[], sections: string[] | undefined): void {
  if (!sections?.length || instances.length === 0) return;
  const known = new Set(instances.flatMap((i) => Object.keys(i.description)));
  for (const section of sections) {
    if (known.has(section)) continue;
    throw new UsageError(`unknown section '${section}' for --sections`, {
      hint: didYouMean(section, known) ?? `sections: ${[...known].sort().join(', ')}`,
    });
  }
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
  // What is printed shows variables the component declares sensitive masked (secrets print masked themselves).
  const shown = await withSensitiveMasked(instance);
  const description: PlainMap = { ...shown.description, imports };
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
  if (instances.length === 0) {
    // A component no stack has is a usage error with a suggestion, not an empty list.
    const names = new Set((await engine.instances()).map((i) => i.name));
    throw new UsageError(`unknown component '${options.component}' for --component`, {
      hint: didYouMean(options.component, names) ?? 'run `strata list components` to see the components',
    });
  }
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

export interface InstanceRow {
  component: string;
  stack: string;
  type: string;
}

/** `list instances [-s stack]`: every (component, stack) pair, sorted by stack then component; abstract ones hidden. */
export async function listInstances(engine: StackEngine, options: { stack?: string } = {}): Promise<InstanceRow[]> {
  if (options.stack) await engine.stackVars(options.stack);
  const instances = await engine.instances({ stack: options.stack });
  return instances
    .filter((i) => !i.abstract)
    .map((i) => ({ component: i.name, stack: i.stack, type: i.kind }))
    .sort((a, b) => a.stack.localeCompare(b.stack) || a.component.localeCompare(b.component));
}

/** One component instance in `describe graph`. */
export interface GraphInstance {
  id: string;
  component: string;
  stack: string;
  type: string;
}

/** `describe graph`: instances and the edges from each dependency to its dependent. */
export interface ComponentGraph {
  nodes: GraphInstance[];
  edges: Array<{ from: string; to: string }>;
}

/** `start` with everything it depends on and everything that depends on it, transitively (not its siblings). */
function lineage(start: string[], edges: ComponentGraph['edges']): Set<string> {
  const walk = (next: Map<string, string[]>) => {
    const seen = new Set(start);
    const queue = [...start];
    for (let head = 0; head < queue.length; head++) {
      for (const id of next.get(queue[head]) ?? []) {
        if (!seen.has(id)) {
          seen.add(id);
          queue.push(id);
        }
      }
    }
    return seen;
  };
  const down = new Map<string, string[]>();
  const up = new Map<string, string[]>();
  for (const { from, to } of edges) {
    down.set(from, [...(down.get(from) ?? []), to]);
    up.set(to, [...(up.get(to) ?? []), from]);
  }
  return new Set([...walk(up), ...walk(down)]);
}

/**
 * `describe graph [component] [-s stack]`: the dependencies between component instances (settings.depends_on,
 * dependencies.components) as the multi-component runs order them. With a stack, its instances and those of other
 * stacks they depend on or that depend on them; with a component, what it depends on and what depends on it, transitively.
 */
export async function describeGraph(
  engine: StackEngine,
  options: { component?: string; stack?: string } = {},
): Promise<ComponentGraph> {
  if (options.stack) await engine.stackVars(options.stack);
  const { dependencyGraph } = await import('../components/terraform/multi.ts');
  const byId = new Map<string, ComponentInstance>();
  for (const instance of await engine.instances()) {
    if (!instance.abstract && !byId.has(`${instance.name}@${instance.stack}`))
      byId.set(`${instance.name}@${instance.stack}`, instance);
  }
  const graph = dependencyGraph([...byId.values()]);
  const edges = graph.flatMap((node) => node.needs.map((need) => ({ from: need, to: node.id })));
  let selected = [...byId.values()].filter((i) => !options.stack || i.stack === options.stack);
  if (options.component) {
    const named = selected.filter((i) => i.name === options.component);
    if (named.length === 0) {
      const where = options.stack ? `stack '${options.stack}'` : 'any stack';
      throw new StrataError(`component '${options.component}' is not in ${where}`, {
        hint: didYouMean(options.component, new Set(selected.map((i) => i.name))),
      });
    }
    selected = named;
  }
  const ids = new Set(selected.map((i) => `${i.name}@${i.stack}`));
  // Edges that touch the selection bring their other end along (a dependency in another stack).
  const keep = options.component
    ? lineage([...ids], edges)
    : new Set([...ids, ...edges.flatMap((e) => (ids.has(e.from) || ids.has(e.to) ? [e.from, e.to] : []))]);
  const nodes = [...keep]
    .map((id) => byId.get(id) as ComponentInstance)
    .map((i) => ({ id: `${i.name}@${i.stack}`, component: i.name, stack: i.stack, type: i.kind }))
    .sort((a, b) => a.stack.localeCompare(b.stack) || a.component.localeCompare(b.component));
  return { nodes, edges: edges.filter((e) => keep.has(e.from) && keep.has(e.to)) };
}

/** The graph as a picture: components grouped by stack, labelled with their name. */
export function componentDiagram(graph: ComponentGraph): Diagram {
  const stacks = [...new Set(graph.nodes.map((n) => n.stack))];
  return {
    nodes: graph.nodes.map((n) => ({ id: n.id, label: n.component, group: n.stack })),
    edges: graph.edges,
    groups: stacks.map((s) => ({ id: s, label: `stack ${s}` })),
  };
}
