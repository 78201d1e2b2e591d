/** The stack engine's public API. */
export * from './commands.ts';
export {
  type Dependency,
  dependenciesOf,
  type EngineOptions,
  type InstanceFilter,
  openEngine,
  StackEngine,
} from './engine.ts';
export { isPlainMap, type ListMergeStrategy, mergeLayers, mergeMaps, type PlainMap } from './merge.ts';
export type { ComponentDescription, ComponentInstance, Section } from './types.ts';
export { YamlFunction } from './yaml.ts';
