/** Dependencies between component instances: `dependencies.components` and the legacy `settings.depends_on`. */
import type { ComponentInstance } from '../data/instance.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';

export interface Dependency {
  component: string;
  stack?: string;
  namespace?: string;
  tenant?: string;
  environment?: string;
  stage?: string;
}

/** `dependencies.components` (current Atmos) and `settings.depends_on` (legacy map or list). */
export function dependenciesOf(instance: ComponentInstance): Dependency[] {
  const out: Dependency[] = [];
  const collect = (value: unknown) => {
    const items = Array.isArray(value) ? value : isPlainMap(value) ? Object.values(value) : [];
    for (const item of items) {
      if (typeof item === 'string') out.push({ component: item });
      else if (isPlainMap(item) && typeof item.component === 'string') out.push(item as unknown as Dependency);
    }
  };
  const settings = instance.description.settings;
  collect(isPlainMap(settings) ? settings.depends_on : undefined);
  const dependencies = instance.description.dependencies;
  collect(isPlainMap(dependencies) ? dependencies.components : undefined);
  return out;
}

/** Without `stack:`, a dependency is in the dependent's stack unless context keys point elsewhere. */
export function contextStack(
  dep: Dependency,
  target: ComponentInstance,
  dependent: ComponentInstance,
): string | undefined {
  const keys = ['namespace', 'tenant', 'environment', 'stage'] as const;
  if (!keys.some((k) => dep[k] !== undefined)) return dependent.stack;
  const vars = target.description.vars as PlainMap;
  const depVars = dependent.description.vars as PlainMap;
  for (const key of keys) {
    const wanted = dep[key] ?? depVars[key];
    if (wanted !== undefined && vars[key] !== wanted) return undefined;
  }
  return target.stack;
}

/** One dependent as `describe dependents` and `describe affected` print it. */
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
