/** The stack engine's public API. */
export type { ComponentDescription, ComponentInstance, Section } from '../data/instance.ts';
export { isPlainMap, type ListMergeStrategy, mergeLayers, mergeMaps, type PlainMap } from '../data/merge.ts';
export { YamlFunction } from '../data/yaml.ts';
export { type Dependency, type DependentItem, dependenciesOf } from './dependencies.ts';
export {
  type EngineOptions,
  type EngineResolvers,
  type InstanceFilter,
  loadEngine,
  StackEngine,
} from './engine.ts';
