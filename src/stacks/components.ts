import type { StrataConfig } from '../config/types.ts';
import { DEFAULT_LIMITS } from '../data/limits.ts';
import { EMPTY_MAP, isPlainMap, type ListMergeStrategy, mergeLayers, type PlainMap } from '../data/merge.ts';
import { YamlFunction } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { didYouMean } from '../util/suggest.ts';

/** Sections merged in four layers (global+kind, bases, component, overrides). */
const LAYERED_SECTIONS = [
  'vars',
  'settings',
  'env',
  'auth',
  'providers',
  'hooks',
  'generate',
  'secrets',
  'mocks',
] as const;
/** Sections that `overrides:` may change. */
const OVERRIDABLE = new Set(['vars', 'settings', 'env', 'providers', 'hooks', 'generate', 'command']);
/** Sections that must be maps wherever they are written. */
const MAP_SECTIONS = [...LAYERED_SECTIONS, 'metadata', 'backend', 'remote_state_backend', 'overrides'] as const;
const MAP_SECTION_NAMES: ReadonlySet<string> = new Set(MAP_SECTIONS);

/** Whether each of MAP_SECTIONS a map holds is a map (or null): its own keys only, most maps hold a few. */
function sectionsAreMaps(map: PlainMap): boolean {
  for (const key of Object.keys(map)) if (MAP_SECTION_NAMES.has(key) && !isMapOrNothing(map[key])) return false;
  return true;
}
const isMapOrNothing = (value: unknown): boolean =>
  value === undefined || value === null || isPlainMap(value) || value instanceof YamlFunction;
/** Metadata keys never inherited from a base (Atmos: the inheritance meta-properties themselves). */
const NOT_INHERITED_METADATA = new Set(['inherits', 'type']);

export interface RawComponent {
  kind: string;
  name: string;
  section: PlainMap;
  /** Physical component folder under components/<kind>/ (metadata.component, legacy component:, or the name). */
  folder: string;
  /** Bases, most derived first (Atmos's `inheritance`); listed on first read for long chains. */
  inheritance: string[];
  /** The stack component named by metadata.component / component: when there is one (it changes the workspace). */
  baseComponent: string;
  abstract: boolean;
  enabled: boolean;
  locked: boolean;
}

interface BaseAccumulator {
  sections: Record<string, PlainMap>;
  backendType: string;
  remoteStateBackendType: string;
  command: string;
  requiredVersion: string;
  metadata: PlainMap;
  /** Bases in the order they were merged, the last merged first: shared between accumulators, never copied. */
  order: BaseOrder | undefined;
  /** The deepest stack component of the legacy `component:` chain (Atmos's FinalBaseComponentName). */
  folder: string;
  /** Whether bases from two branches were merged (only then may `order` name a base twice). */
  branched: boolean;
}

const asMap = (value: unknown): PlainMap => (isPlainMap(value) ? value : EMPTY_MAP);
const asText = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);

function lastNonEmpty(...values: unknown[]): string {
  let result = '';
  for (const value of values) if (asText(value) !== '') result = asText(value);
  return result;
}

function strategyOf(...settings: unknown[]): ListMergeStrategy | undefined {
  let result: ListMergeStrategy | undefined;
  for (const s of settings) {
    const value = asMap(s).list_merge_strategy;
    if (value === 'replace' || value === 'append' || value === 'merge') result = value;
  }
  return result;
}

export class ComponentBuilder {
  readonly #config: StrataConfig;
  readonly #doc: PlainMap;
  readonly #manifest: string;
  readonly #maxDepth: number;

  constructor(config: StrataConfig, doc: PlainMap, manifestPath: string, maxDepth = DEFAULT_LIMITS.maxChainDepth) {
    this.#config = config;
    this.#doc = doc;
    this.#manifest = manifestPath;
    this.#maxDepth = maxDepth;
  }

  /**
   * Every component of every known kind in this stack document, in document order. A kind is known when strata
   * runs it or atmos.yaml declares it under `components:`; others (`components.argo`) are no components, and
   * `validate stacks` reports them. `only`: the components to build (default: all).
   */
  build(only?: (kind: string, name: string) => boolean): RawComponent[] {
    // A stack whose whole build fails is built whole, so that a narrowed build reports the same error.
    const some = only && !this.#mayFail() ? only : undefined;
    const out: RawComponent[] = [];
    const components = asMap(this.#doc.components);
    for (const kind of Object.keys(components)) {
      if (!(kind in this.#config.components)) continue;
      const byName = asMap(components[kind]);
      for (const name of Object.keys(byName)) if (!some || some(kind, name)) out.push(this.component(kind, name));
    }
    return out;
  }

  /**
   * Whether building every component may fail: a component or section that is not a map, a metadata.inherits that is
   * not a list or names a component not defined, a loop, or a chain near the depth limit (checked on the links
   * alone, without merging; a false alarm only costs the whole build).
   */
  #mayFail(): boolean {
    const components = asMap(this.#doc.components);
    if (!sectionsAreMaps(this.#doc)) return true;
    for (const kind of Object.keys(components)) {
      if (!(kind in this.#config.components)) continue;
      if (!sectionsAreMaps(asMap(this.#doc[kind]))) return true;
      const all = asMap(components[kind]);
      // The longest chain of links below each component; -1 while it is being walked (a loop).
      const depth = new Map<string, number>();
      const chain = (name: string): number => {
        const known = depth.get(name);
        if (known !== undefined) return known < 0 ? Number.POSITIVE_INFINITY : known;
        const own = all[name];
        if (own !== null && own !== undefined && !isPlainMap(own)) return Number.POSITIVE_INFINITY;
        const section = asMap(own);
        const inherits = asMap(section.metadata).inherits;
        if (!sectionsAreMaps(section) || (inherits !== undefined && !Array.isArray(inherits)))
          return Number.POSITIVE_INFINITY;
        const legacy = asText(section.component);
        if (!legacy && (inherits === undefined || inherits.length === 0)) return 0;
        depth.set(name, -1);
        let deepest = 0;
        if (legacy && legacy !== name && isPlainMap(all[legacy])) deepest = 1 + chain(legacy);
        for (const parent of (inherits ?? []) as unknown[]) {
          const base = asText(parent);
          if (!base || base === name) continue;
          deepest = Math.max(deepest, isPlainMap(all[base]) ? 1 + chain(base) : Number.POSITIVE_INFINITY);
        }
        depth.set(name, deepest);
        return deepest;
      };
      for (const name of Object.keys(all)) if (chain(name) >= this.#maxDepth - 2) return true;
    }
    return false;
  }

  component(kind: string, name: string): RawComponent {
    const all = asMap(asMap(this.#doc.components)[kind]);
    if (all[name] !== null && all[name] !== undefined && !isPlainMap(all[name]))
      throw this.#notAMap(`components.${kind}.${name}`, all[name]);
    const own = asMap(all[name]);
    for (const key of MAP_SECTIONS) {
      if (!isMapOrNothing(own[key])) throw this.#notAMap(`components.${kind}.${name}.${key}`, own[key]);
      if (!isMapOrNothing(this.#doc[key])) throw this.#notAMap(key, this.#doc[key]);
      if (!isMapOrNothing(asMap(this.#doc[kind])[key]))
        throw this.#notAMap(`${kind}.${key}`, asMap(this.#doc[kind])[key]);
    }
    const ownMetadata = asMap(own.metadata);
    const kindSection = asMap(this.#doc[kind]);
    const legacyBase = asText(own.component);
    const metadataComponent = asText(ownMetadata.component);
    const inherits = ownMetadata.inherits;
    if (inherits !== undefined && !Array.isArray(inherits)) {
      throw new StrataError(`metadata.inherits of component '${name}' must be a list`, {
        location: { file: this.#manifest },
      });
    }
    const accumulate = (strategy: ListMergeStrategy): BaseAccumulator => {
      const acc = emptyAccumulator();
      // Only the legacy top-level `component:` inherits; metadata.component names the folder and nothing else.
      // `vpc/defaults` with `component: vpc`, where `vpc` inherits `vpc/defaults`, must not turn the link around.
      if (legacyBase && legacyBase !== name && !this.#inheritsFrom(all, legacyBase, name)) {
        this.#mergeBase(kind, all, name, legacyBase, acc, [name], false, strategy);
      }
      // The folder a legacy chain ends in; metadata.inherits bases only lend configuration.
      const chainFolder = acc.folder;
      for (const parent of (inherits ?? []) as unknown[])
        this.#mergeBase(kind, all, name, asText(parent), acc, [name], true, strategy);
      acc.folder = chainFolder;
      return acc;
    };

    // Atmos copies atmos.yaml's integrations.github into every component's settings.integrations (lowest layer).
    const github = asMap(asMap(this.#config.raw.integrations).github);
    const integrations = Object.keys(github).length > 0 ? { integrations: { github } } : undefined;
    const globalSettings = mergeLayers([integrations, this.#doc.settings, kindSection.settings]);
    const overrides = asMap(own.overrides);
    // The list strategy comes from the component's own settings chain, and it also governs how its bases merge.
    let base = accumulate('replace');
    const strategy =
      strategyOf(globalSettings, base.sections.settings, own.settings, overrides.settings) ??
      this.#config.listMergeStrategy;
    if (strategy !== 'replace' && base.order) base = accumulate(strategy);

    const section: PlainMap = {};
    const globalLayers = this.#globalLayersOf(kind, strategy);
    for (const key of LAYERED_SECTIONS) {
      const globalLayer = key === 'settings' ? globalSettings : this.#globalLayer(globalLayers, kind, key, strategy);
      section[key] = mergeLayers(
        [globalLayer, base.sections[key], own[key], OVERRIDABLE.has(key) ? overrides[key] : undefined],
        strategy,
      );
    }
    for (const key of ['dependencies', 'source', 'provision', 'required_providers']) {
      section[key] = mergeLayers([kindSection[key], base.sections[key], own[key]], strategy);
    }

    const inheritMetadata = this.#config.stacks.inheritMetadata;
    const metadata = inheritMetadata ? mergeLayers([base.metadata, ownMetadata], strategy) : ownMetadata;
    section.metadata = metadata;

    const backendType = lastNonEmpty(kindSection.backend_type, base.backendType, own.backend_type);
    const backends = mergeLayers([kindSection.backend, base.sections.backend, own.backend], strategy);
    // A legacy `component:` that names no component of the stack is ignored for the folder (Atmos keeps the name).
    const folder = metadataComponent || base.folder || name;
    const backend = { ...asMap(backends[backendType]) };
    applyBackendDefaults(backendType, backend, metadata, folder, name);
    section.backend_type = backendType;
    section.backend = backend;

    const remoteType = lastNonEmpty(
      kindSection.remote_state_backend_type,
      base.remoteStateBackendType,
      own.remote_state_backend_type,
    );
    const remoteBackends = mergeLayers(
      [kindSection.remote_state_backend, base.sections.remote_state_backend, own.remote_state_backend],
      strategy,
    );
    const effectiveRemoteType = remoteType || (Object.keys(remoteBackends).length > 0 ? backendType : '');
    section.remote_state_backend_type = effectiveRemoteType;
    section.remote_state_backend =
      effectiveRemoteType === ''
        ? {}
        : mergeLayers([asMap(backends[effectiveRemoteType]), asMap(remoteBackends[effectiveRemoteType])], strategy);

    section.command = lastNonEmpty(
      this.#config.components[kind]?.command,
      kindSection.command,
      base.command,
      own.command,
      overrides.command,
    );
    section.required_version = lastNonEmpty(kindSection.required_version, base.requiredVersion, own.required_version);
    section.overrides = overrides;
    section.component = folder;

    const raw: RawComponent = {
      kind,
      name,
      section,
      folder,
      inheritance: NO_BASES,
      // Atmos's BaseComponent: the folder when it is not the component's own name (a derived component).
      baseComponent: folder !== name ? folder : '',
      abstract: ownMetadata.type === 'abstract',
      enabled: metadata.enabled !== false,
      locked: metadata.locked === true,
    };
    listInheritance(base, raw);
    return raw;
  }

  /** Atmos fails on a section that is not a map; merging would otherwise drop it without a word. */
  #notAMap(path: string, value: unknown): StrataError {
    const got = Array.isArray(value) ? 'a list' : `${typeof value} ${JSON.stringify(value)}`;
    return new StrataError(
      `'${path}' must be a map, got ${got} (in the stack manifest ${this.#manifest} or a file it imports)`,
      {
        location: { file: this.#manifest },
        hint: `write ${path.split('.').pop()} as key: value pairs, or !include a YAML, JSON or .tfvars file`,
      },
    );
  }

  /** Per kind and list strategy, the global layer of each section (one look-up per component, not per section). */
  readonly #globalLayers = new Map<string, Map<string, PlainMap>>();

  #globalLayersOf(kind: string, strategy: ListMergeStrategy): Map<string, PlainMap> {
    const cacheKey = `${kind}\u0000${strategy}`;
    let layers = this.#globalLayers.get(cacheKey);
    if (!layers) {
      layers = new Map();
      this.#globalLayers.set(cacheKey, layers);
    }
    return layers;
  }

  /** `<section>` ⊕ `<kind>.<section>` of the stack: the same for every component of a kind, so computed once. */
  #globalLayer(layers: Map<string, PlainMap>, kind: string, key: string, strategy: ListMergeStrategy): PlainMap {
    let layer = layers.get(key);
    if (!layer) {
      // Atmos merges atmos.yaml's `auth:` (providers, identities) under every component's auth section.
      const fromConfig = key === 'auth' ? this.#config.raw.auth : undefined;
      layer = mergeLayers([fromConfig, this.#doc[key], asMap(this.#doc[kind])[key]], strategy);
      layers.set(key, layer);
    }
    return layer;
  }

  /** Whether `component` inherits (through metadata.inherits or component:, at any depth) from `ancestor`. */
  #inheritsFrom(all: PlainMap, component: string, ancestor: string): boolean {
    const seen = new Set<string>();
    const queue = [component];
    while (queue.length > 0) {
      const current = queue.pop() as string;
      if (seen.has(current)) continue;
      seen.add(current);
      const section = asMap(all[current]);
      const parents = [
        asText(section.component),
        ...((asMap(section.metadata).inherits ?? []) as unknown[]).map(asText),
      ];
      for (const parent of parents) {
        if (parent === ancestor) return true;
        if (parent) queue.push(parent);
      }
    }
    return false;
  }

  /**
   * Merges base `parent` (after its own bases) into the accumulator. `required`: bases named in metadata.inherits
   * must exist in the stack; a metadata.component / component: that is not a stack component must be a folder.
   * Returns the depth of the base's chain (0 when nothing was merged).
   */
  #mergeBase(
    kind: string,
    all: PlainMap,
    child: string,
    parent: string,
    acc: BaseAccumulator,
    path: string[],
    required: boolean,
    strategy: ListMergeStrategy,
  ): number {
    if (!parent || parent === child) return 0;
    if (path.length >= this.#maxDepth) throw this.#tooDeep(path);
    if (path.includes(parent)) {
      throw new StrataError(`circular component inheritance: ${[...path, parent].join(' -> ')}`, {
        location: { file: this.#manifest },
        hint: 'remove one of the metadata.inherits / metadata.component links that closes the loop',
      });
    }
    const parentSection = all[parent];
    if (!isPlainMap(parentSection)) {
      if (!required) return 0;
      const suggestion = didYouMean(parent, Object.keys(all));
      throw new StrataError(
        `component '${child}' inherits from '${parent}', but '${parent}' is not defined in the stack (${kind} components)`,
        {
          location: { file: this.#manifest },
          hint: suggestion ?? 'bases must be defined (or imported) in the same stack',
        },
      );
    }
    // Onto an empty accumulator a base always gives the same result: resolved once per stack, whatever inherits it.
    if (acc.order === undefined) {
      const resolved = this.#resolvedBase(kind, all, parent, path, strategy);
      if (path.length + resolved.depth - 1 >= this.#maxDepth)
        throw this.#tooDeep([...path, ...listOrder(resolved.acc.order)]);
      copyAccumulator(resolved.acc, acc);
      return resolved.depth;
    }
    acc.branched = true;
    return this.#applyBase(kind, all, parent, parentSection, acc, path, strategy);
  }

  readonly #resolved = new Map<string, { acc: BaseAccumulator; depth: number }>();

  /**
   * A base merged onto an empty accumulator, memoised. The chain of first bases below it is walked iteratively and
   * resolved from the bottom up, so a 5,000-level chain costs 5,000 merges and no deep recursion.
   */
  #resolvedBase(kind: string, all: PlainMap, parent: string, path: string[], strategy: ListMergeStrategy) {
    const key = (name: string) => `${kind}\u0000${strategy}\u0000${name}`;
    const cached = this.#resolved.get(key(parent));
    if (cached) return cached;
    const chain = [parent];
    for (;;) {
      const current = chain[chain.length - 1];
      const first = firstBase(all, current);
      // A missing base stops the walk: merging the level above reports it (with the right error).
      if (!first || !isPlainMap(all[first]) || this.#resolved.has(key(first))) break;
      if (chain.includes(first) || path.includes(first)) break;
      chain.push(first);
      if (path.length + chain.length > this.#maxDepth) throw this.#tooDeep([...path, ...chain]);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const acc = emptyAccumulator();
      const depth = this.#applyBase(
        kind,
        all,
        chain[i],
        all[chain[i]] as PlainMap,
        acc,
        [...path, ...chain.slice(0, i)],
        strategy,
      );
      this.#resolved.set(key(chain[i]), { acc, depth });
    }
    return this.#resolved.get(key(parent)) as { acc: BaseAccumulator; depth: number };
  }

  #tooDeep(path: string[]): StrataError {
    return new StrataError(
      `component inheritance deeper than ${this.#maxDepth} levels (limits.max_chain_depth): ${[...path.slice(0, 3), '…', ...path.slice(-3)].join(' -> ')}`,
      {
        location: { file: this.#manifest },
        hint: 'inherit from fewer levels of base components, or raise limits.max_chain_depth',
      },
    );
  }

  /** Merges a base's own bases, then the base itself, into the accumulator; returns the depth of its chain. */
  #applyBase(
    kind: string,
    all: PlainMap,
    parent: string,
    parentSection: PlainMap,
    acc: BaseAccumulator,
    path: string[],
    strategy: ListMergeStrategy,
  ): number {
    const parentMetadata = asMap(parentSection.metadata);
    const next = [...path, parent];
    let below = 0;
    // A base's own metadata.component only names its folder; Atmos follows the legacy `component:` and inherits.
    const grand = asText(parentSection.component);
    if (grand && grand !== parent) below = this.#mergeBase(kind, all, parent, grand, acc, next, false, strategy);
    for (const grandParent of (Array.isArray(parentMetadata.inherits) ? parentMetadata.inherits : []) as unknown[]) {
      below = Math.max(below, this.#mergeBase(kind, all, parent, asText(grandParent), acc, next, true, strategy));
    }
    for (const key of BASE_SECTIONS) {
      if (parentSection[key] !== undefined)
        acc.sections[key] = mergeLayers([acc.sections[key], parentSection[key]], strategy);
    }
    acc.backendType = lastNonEmpty(acc.backendType, parentSection.backend_type);
    acc.remoteStateBackendType = lastNonEmpty(acc.remoteStateBackendType, parentSection.remote_state_backend_type);
    acc.command = lastNonEmpty(acc.command, parentSection.command);
    acc.requiredVersion = lastNonEmpty(acc.requiredVersion, parentSection.required_version);
    const inheritable: PlainMap = {};
    for (const key of Object.keys(parentMetadata))
      if (!NOT_INHERITED_METADATA.has(key)) inheritable[key] = parentMetadata[key];
    acc.metadata = mergeLayers([acc.metadata, inheritable], strategy);
    const templated = parent.includes(this.#config.templates.delimiters[0]) || acc.order?.templated === true;
    acc.order = { name: parent, previous: acc.order, size: (acc.order?.size ?? 0) + 1, templated };
    if (!acc.folder) acc.folder = parent;
    return below + 1;
  }
}

const BASE_SECTIONS = [
  ...LAYERED_SECTIONS,
  'backend',
  'remote_state_backend',
  'dependencies',
  'source',
  'provision',
  'required_providers',
];

/** The base a component's chain merges first: its legacy `component:` when that is a stack component, else its first inherits. */
function firstBase(all: PlainMap, name: string): string {
  const section = asMap(all[name]);
  const grand = asText(section.component);
  if (grand && grand !== name && isPlainMap(all[grand])) return grand;
  const inherits = asMap(section.metadata).inherits;
  return Array.isArray(inherits) && inherits.length > 0 ? asText(inherits[0]) : '';
}

function emptyAccumulator(): BaseAccumulator {
  return {
    sections: {},
    backendType: '',
    remoteStateBackendType: '',
    command: '',
    requiredVersion: '',
    metadata: {},
    order: undefined,
    folder: '',
    branched: false,
  };
}

function copyAccumulator(from: BaseAccumulator, to: BaseAccumulator): void {
  Object.assign(to, from, { sections: { ...from.sections } });
}

/** A persistent list of merged bases: an accumulator extends its base's list without copying it. */
interface BaseOrder {
  name: string;
  previous: BaseOrder | undefined;
  size: number;
  /** Whether this base or one below it has the template delimiter in its name. */
  templated: boolean;
}

/** Chains at least this long list their bases on first read (every level of a 5,000-level chain lists them all). */
const LIST_LAZILY_FROM = 64;

/**
 * Sections whose `inheritance` is listed on first read, with whether the list holds a template delimiter (so the
 * engine knows without listing it).
 */
const lazyInheritance = new WeakMap<PlainMap, boolean>();

const NO_BASES: string[] = [];

/**
 * Sets `inheritance` on the component and its section: the bases, most derived first (a single line of bases names
 * each once, branches may name one twice). A long chain's list is made on first read.
 */
function listInheritance(acc: BaseAccumulator, raw: RawComponent): void {
  const list = () => (acc.branched ? [...new Set(listOrder(acc.order))] : listOrder(acc.order));
  if ((acc.order?.size ?? 0) < LIST_LAZILY_FROM) {
    const listed = list();
    raw.inheritance = listed;
    raw.section.inheritance = listed;
    return;
  }
  let listed: string[] | undefined;
  const get = () => {
    listed ??= list();
    return listed;
  };
  for (const target of [raw, raw.section])
    Object.defineProperty(target, 'inheritance', { get, enumerable: true, configurable: true });
  lazyInheritance.set(raw.section, acc.order?.templated === true);
}

/**
 * Copies `inheritance` from a builder's section to another without listing it when it is listed lazily; returns
 * whether the list holds the template delimiter (undefined when the list is plain data, to be looked at).
 */
export function copyInheritance(from: PlainMap, to: PlainMap): boolean | undefined {
  const templated = lazyInheritance.get(from);
  if (templated === undefined) {
    to.inheritance = from.inheritance;
    return undefined;
  }
  Object.defineProperty(to, 'inheritance', Object.getOwnPropertyDescriptor(from, 'inheritance') as PropertyDescriptor);
  lazyInheritance.set(to, templated);
  return templated;
}

/** Whether a section's `inheritance` is listed lazily, and if so whether it holds the template delimiter. */
export function lazyInheritanceTemplated(section: PlainMap): boolean | undefined {
  return lazyInheritance.get(section);
}

/** The bases of a list, the last merged (most derived) first. */
function listOrder(order: BaseOrder | undefined): string[] {
  const out: string[] = [];
  for (let node = order; node; node = node.previous) out.push(node.name);
  return out;
}

/** Backend keys Atmos fills in when absent: the state key prefix comes from the component (with / as -). */
function applyBackendDefaults(type: string, backend: PlainMap, metadata: PlainMap, folder: string, name: string): void {
  const prefix = (asText(metadata.name) || folder || name).replaceAll('/', '-');
  if (type === 's3' && backend.workspace_key_prefix === undefined) backend.workspace_key_prefix = prefix;
  if (type === 'gcs' && backend.prefix === undefined) backend.prefix = prefix;
  if (type === 'azurerm' && backend.key === undefined) backend.key = `${prefix}.terraform.tfstate`;
}
