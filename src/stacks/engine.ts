/**
 * The stack engine: configuration -> manifests -> imports -> merge -> inheritance -> evaluation -> component instances.
 * Each manifest is assembled once per engine; parsed files are shared by every manifest that imports them.
 */
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import type { LoadConfigOptions, StrataConfig } from '../config/types.ts';
import type { ComponentDescription, ComponentInstance } from '../data/instance.ts';
import { type EngineLimits, limitsFrom } from '../data/limits.ts';
import { finalizeMarkers, hasDeferred, isPlainMap, type PlainMap, resolveDeferred } from '../data/merge.ts';
import { StrataError } from '../errors.ts';
import { lockedVersions } from '../functions/extra.ts';
import {
  CallMemo,
  containsFunction,
  evaluateFunctions,
  type FunctionAccess,
  type FunctionResolvers,
  type TerraformOutputRef,
} from '../functions/index.ts';
import { type FuncMap, renderTemplate } from '../template/index.ts';
import { cacheDisabled } from '../util/cache-dir.ts';
import { allInOrder } from '../util/in-order.ts';
import { closestNames, didYouMean } from '../util/suggest.ts';
import { ComponentBuilder, type RawComponent } from './components.ts';
import { contextStack, dependenciesOf } from './dependencies.ts';
import { lineOf, listStackManifests, ManifestReader, type MergedFile } from './manifests.ts';
import { ParseCache } from './parse-cache.ts';
import { ResultCache, type ResultEntry, type ResultInputs } from './result-cache.ts';
import {
  describedSection,
  type Locate,
  patternName,
  renderDeep,
  sectionHasTemplates,
  versionTrack,
  workspaceName,
} from './sections.ts';
import { stackTemplateFunctions } from './template-functions.ts';

export interface EngineOptions extends LoadConfigOptions {
  /** Evaluate Go templates in component sections (default: as templates.settings.enabled says). */
  processTemplates?: boolean;
  /** Evaluate YAML functions (default true). */
  processFunctions?: boolean;
  /** YAML functions to leave unevaluated (`terraform.output`, `!store`, ...), as Atmos's `--skip`. */
  skipFunctions?: string[];
  /** Outside data for YAML functions; services/engine.ts's openEngine passes strata's own. */
  resolvers?: EngineResolvers;
  /**
   * Who evaluates (docs/stacks.md, "Limits and sandboxing"). `run` (default): toolchains, as Atmos. `inspect`:
   * describe/list/validate, where `!exec` is left unevaluated unless `limits.exec_in_describe`. `controller`:
   * `strata serve`, where the environment (`env`, `!env`), commands (`!exec`) and files outside the repository are
   * refused with an error.
   */
  context?: EngineContext;
  /**
   * Keep parsed manifests in the persistent cache (default: on, unless `STRATA_NO_CACHE=1`; docs/stacks.md, "The
   * parse cache").
   */
  cache?: boolean;
  /**
   * Only components passing this test are built and evaluated (the others are left out as if undefined): for a
   * caller that knows which ones it needs (describe affected's base side, gitops/affected-narrow.ts).
   */
  onlyComponents?: (kind: string, name: string) => boolean;
  /**
   * Texts read instead of these files (absolute paths), and a parse cache shared with another engine over the same
   * stacks folder: describe affected's base side reads the HEAD tree with the base commit's changed files.
   */
  sources?: ReadonlyMap<string, string>;
  parseCache?: ParseCache;
}

export type EngineContext = 'run' | 'inspect' | 'controller';

/**
 * Outside data for YAML functions, given the engine that evaluates (a resolver describes the components it
 * reads through it). The engine never imports the toolchains that answer these: they come from its caller.
 */
export interface EngineResolvers {
  terraformOutput?(engine: StackEngine, ref: TerraformOutputRef, mode: 'output' | 'state'): Promise<unknown>;
}

export interface InstanceFilter {
  stack?: string;
  kind?: string;
  component?: string;
  /** Only instances whose merged section, before templates and functions are evaluated, passes this test. */
  where?: (section: PlainMap) => boolean;
}

/** One top-level manifest, assembled. */
export interface StackManifest {
  path: string;
  /** Contributing files in merge order, for provenance. */
  files: MergedFile[];
  key: string;
  doc: PlainMap;
  imports: string[];
  raw: RawComponent[];
  /** Canonical stack name when the manifest has no components (from its own vars). */
  fallbackName: string;
}

/** A component in a manifest before evaluation: enough to answer name lookups without evaluating anything. */
interface Candidate {
  manifest: StackManifest;
  raw: RawComponent;
  section: PlainMap;
  stack: string;
}

export class StackEngine {
  readonly config: StrataConfig;
  readonly #options: EngineOptions;
  readonly #reader: ManifestReader;
  /** Built components of unchanged pure manifests from earlier runs (result-cache.ts); undefined when off. */
  readonly #results: ResultCache | undefined;
  /** Manifests taken from the result cache, with their components; and built ones the cache may keep. */
  readonly #fromResults = new Map<StackManifest, ResultEntry>();
  readonly #toResults = new Map<StackManifest, [string, string][]>();
  #manifests: StackManifest[] | undefined;
  #candidates: Candidate[] | undefined;
  readonly #evaluated = new Map<Candidate, ComponentInstance | Promise<ComponentInstance>>();
  readonly #templateFunctions: FuncMap = stackTemplateFunctions((component, stack) =>
    this.#componentForTemplate(component, stack),
  );
  readonly #renderingForTemplate = new Set<string>();
  readonly #resolvers: FunctionResolvers;
  readonly #skip: ReadonlySet<string>;
  readonly limits: EngineLimits;
  /** Calls with outside effects (YAML functions, atmos.Component), each evaluated once by this engine. */
  readonly calls = new CallMemo();
  /** The persistent cache of parsed manifests this engine reads and writes (none when turned off). */
  readonly parseCache: ParseCache | undefined;

  constructor(config: StrataConfig, options: EngineOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#skip = new Set((options.skipFunctions ?? []).map((name) => name.replace(/^!/, '')));
    this.limits = limitsFrom(config.raw.limits, config.configFiles[config.configFiles.length - 1]);
    const controller = options.context === 'controller';
    if (controller) Object.assign(this.#templateFunctions, CONTROLLER_REFUSALS);
    const cacheOn =
      options.cache !== false && !cacheDisabled() && !(options.env !== undefined && cacheDisabled(options.env));
    this.parseCache = cacheOn ? (options.parseCache ?? new ParseCache(config.stacks.basePath, this.limits)) : undefined;
    this.#reader = new ManifestReader(config, {
      limits: this.limits,
      confineIncludes: controller || !this.limits.includeOutsideRepository,
      confineImports: controller,
      templateFuncs: controller ? CONTROLLER_REFUSALS : undefined,
      cache: this.parseCache,
      sources: options.sources,
    });
    // A name_template may read anything (env, files): stack names are then computed on every run. An engine that
    // builds only some components or reads texts other than the files builds results no other run may reuse.
    this.#results =
      cacheOn && !config.stacks.nameTemplate && !options.onlyComponents && !options.sources
        ? new ResultCache(config.stacks.basePath, {
            config,
            limits: this.limits,
            options: [options.processTemplates, options.processFunctions, options.skipFunctions, options.context],
          })
        : undefined;
    const terraformOutput = options.resolvers?.terraformOutput;
    this.#resolvers = terraformOutput ? { terraformOutput: (ref, mode) => terraformOutput(this, ref, mode) } : {};
  }

  /** Why there are no stacks at all, when that is so (no stacks folder, no included_paths). */
  stacksNotice: string | undefined;

  get reader(): ManifestReader {
    return this.#reader;
  }

  /** Every top-level manifest, assembled with its imports (cached). */
  manifests(): StackManifest[] {
    if (this.#manifests) return this.#manifests;
    const base = this.config.stacks.basePath;
    const found = listStackManifests(this.config);
    this.stacksNotice = found.notice;
    this.#manifests = found.files.map((rel) => {
      const path = join(base, rel);
      const key = this.#reader.key(path);
      const cached = this.#results?.get(path, this.#resultInputs);
      if (cached) return this.#cachedManifest(path, key, cached);
      const assembled = this.#reader.assemble(path);
      const raw = new ComponentBuilder(this.config, assembled.data, path, this.limits.maxChainDepth).build(
        this.#options.onlyComponents,
      );
      const manifest: StackManifest = {
        path,
        key,
        doc: assembled.data,
        files: assembled.files,
        imports: assembled.imports,
        raw,
        fallbackName: '',
      };
      if (this.#results && assembled.pure) this.#toResults.set(manifest, assembled.targets);
      return manifest;
    });
    this.#reader.flushCache();
    for (const manifest of this.#manifests) {
      if (!this.#fromResults.has(manifest))
        manifest.fallbackName = this.#stackName(manifest, { vars: manifest.doc.vars ?? {} }, true);
    }
    return this.#manifests;
  }

  /** What a result cache entry must still match: the files as they are now, the imports as they resolve now. */
  readonly #resultInputs: ResultInputs = {
    text: (path) => {
      try {
        return this.#reader.source(path);
      } catch {
        return undefined;
      }
    },
    stamp: (path) => this.#reader.stamp(path),
    resolve: (target) => this.#reader.resolveTarget(target),
  };

  /** A manifest from the result cache: its merged document is assembled only if something asks for it. */
  #cachedManifest(path: string, key: string, entry: ResultEntry): StackManifest {
    const reader = this.#reader;
    let doc: PlainMap | undefined;
    const manifest: StackManifest = {
      path,
      key,
      files: entry.files,
      imports: entry.imports,
      raw: entry.candidates.map((c) => c.raw),
      fallbackName: entry.fallbackName,
      get doc() {
        doc ??= reader.assemble(path).data;
        return doc;
      },
    };
    this.#fromResults.set(manifest, entry);
    return manifest;
  }

  #candidatesList(): Candidate[] {
    if (this.#candidates) return this.#candidates;
    this.#candidates = [];
    for (const manifest of this.manifests()) {
      const cached = this.#fromResults.get(manifest);
      if (cached) {
        for (const { raw, stack } of cached.candidates)
          this.#candidates.push({ manifest, raw, section: raw.section, stack });
        continue;
      }
      const built: Candidate[] = [];
      for (const raw of manifest.raw) {
        const section = this.#baseSection(manifest, raw);
        const stack = this.#stackName(manifest, section, true);
        built.push({ manifest, raw, section, stack });
      }
      this.#candidates.push(...built);
      const targets = this.#toResults.get(manifest);
      if (targets) this.#keepResult(manifest, built, targets);
    }
    this.#results?.flush();
    return this.#candidates;
  }

  #keepResult(manifest: StackManifest, built: Candidate[], targets: [string, string][]): void {
    const entry: ResultEntry = {
      files: manifest.files,
      imports: manifest.imports,
      fallbackName: manifest.fallbackName,
      candidates: built.map((c) => ({ raw: c.raw, stack: c.stack })),
    };
    this.#results?.set(manifest.path, entry, targets, this.#resultInputs);
  }

  /** The manifest and raw component an evaluated instance came from (for provenance). */
  origin(instance: ComponentInstance): { manifest: StackManifest; raw: RawComponent } | undefined {
    const found = this.#candidatesList().find(
      (c) => c.stack === instance.stack && c.raw.name === instance.name && c.raw.kind === instance.kind,
    );
    return found ? { manifest: found.manifest, raw: found.raw } : undefined;
  }

  /** Canonical stack names (sorted): stacks with at least one component. */
  async stackNames(): Promise<string[]> {
    return [...new Set(this.#candidatesList().map((c) => c.stack))].sort();
  }

  /** Global vars of a stack (from its manifest): presets, images and other stack-wide values. */
  async stackVars(stack: string): Promise<PlainMap> {
    const manifest =
      this.manifests().find((m) => m.fallbackName === stack) ??
      this.#candidatesList().find((c) => c.stack === stack)?.manifest;
    if (!manifest) throw await this.#unknownStack(stack);
    return finalizeMarkers(isPlainMap(manifest.doc.vars) ? manifest.doc.vars : {}) as PlainMap;
  }

  /** Evaluated component instances, optionally filtered by stack (name or manifest key), kind and component. */
  async instances(filter: InstanceFilter = {}): Promise<ComponentInstance[]> {
    const selected = this.#candidatesList().filter(
      (c) =>
        (!filter.stack || c.stack === filter.stack || c.manifest.key === filter.stack) &&
        (!filter.kind || c.raw.kind === filter.kind) &&
        (!filter.component || c.raw.name === filter.component) &&
        (!filter.where || filter.where(c.section)),
    );
    const results = selected.map((c) => this.#evaluate(c));
    // Most sections hold no template and no function: evaluated synchronously, they need no promise each.
    return results.some((r) => r instanceof Promise) ? allInOrder(results) : (results as ComponentInstance[]);
  }

  /** One component in one stack, with Atmos's single-identity rule and did-you-mean errors. */
  async describeComponent(
    component: string,
    stack: string,
    options: { kind?: string } = {},
  ): Promise<ComponentInstance> {
    const all = this.#candidatesList();
    const inStack = all.filter((c) => c.stack === stack);
    if (inStack.length === 0) throw await this.#unknownStack(stack);
    const matches = inStack.filter((c) => c.raw.name === component && (!options.kind || c.raw.kind === options.kind));
    if (matches.length === 0) {
      const names = [
        ...new Set(inStack.filter((c) => !options.kind || c.raw.kind === options.kind).map((c) => c.raw.name)),
      ];
      throw new StrataError(`component '${component}' not found in stack '${stack}'`, {
        hint: didYouMean(component, names) ?? `components in '${stack}': ${names.sort().join(', ') || '(none)'}`,
        details: 'Run `strata list components -s ' + stack + '` to see them.',
      });
    }
    const distinctManifests = new Set(matches.map((m) => m.manifest.path));
    if (distinctManifests.size > 1) {
      const first = JSON.stringify(matches[0].section);
      const conflicting = matches.filter((m) => JSON.stringify(m.section) !== first);
      if (conflicting.length > 0) {
        throw new StrataError(
          `found duplicate config for the component '${component}' in the stack '${stack}' in the manifests: ${[...distinctManifests].map((p) => this.#reader.display(p)).join(', ')}`,
          {
            hint: 'a component may be defined differently in only one top-level manifest per stack; move the difference into one of them',
          },
        );
      }
    }
    return this.#evaluate(matches[0]);
  }

  async #unknownStack(stack: string): Promise<StrataError> {
    const candidates = this.#candidatesList();
    const names = [...new Set(candidates.map((c) => c.stack))];
    const byKey = candidates.find((c) => c.manifest.key === stack);
    const suggestion = byKey ? `Did you mean '${byKey.stack}'?` : didYouMean(stack, names);
    return new StrataError(`stack '${stack}' not found`, {
      details: byKey
        ? `'${stack}' is the file name of the manifest; the stack's name is '${byKey.stack}' (a stack has a single identity).`
        : undefined,
      hint: `${suggestion ? `${suggestion} ` : ''}Run \`strata list stacks\` to see all available stacks.`,
    });
  }

  /** The computed section before templates and functions: what name_template and lookups see. */
  #baseSection(manifest: StackManifest, raw: RawComponent): PlainMap {
    // The builder made raw.section for this component alone: completing it in place saves a copy per instance.
    const section = raw.section;
    section.atmos_component = raw.name;
    section.atmos_manifest = manifest.key;
    section.atmos_stack_file = manifest.key;
    section.component_info = { component_path: this.#componentPath(raw), component_type: raw.kind };
    return section;
  }

  readonly #componentPaths = new Map<string, string>();

  /** component_info.component_path as Atmos prints it (base path as written + kind folder + component folder). */
  #componentPath(raw: RawComponent): string {
    const key = `${raw.kind}\u0000${raw.folder}`;
    let path = this.#componentPaths.get(key);
    if (path === undefined) {
      path = join(this.config.components[raw.kind]?.relativeBasePath ?? join('components', raw.kind), raw.folder);
      this.#componentPaths.set(key, path);
    }
    return path;
  }

  /**
   * Stack name precedence: `name:` in the manifest > stacks.name_template > stacks.name_pattern > manifest path.
   * `lenient`: a template or pattern that cannot be resolved falls back to the manifest path (as describe stacks does).
   */
  #stackName(manifest: StackManifest, section: PlainMap, lenient: boolean): string {
    const explicit = manifest.doc.name;
    if (typeof explicit === 'string' && explicit !== '') return explicit;
    const { nameTemplate, namePattern } = this.config.stacks;
    try {
      if (nameTemplate) {
        const name = renderTemplate(nameTemplate, section, { name: 'stacks.name_template', missingkey: 'error' });
        if (name && !name.includes('<no value>')) return name;
        throw new StrataError(`stacks.name_template rendered '${name}' for ${manifest.key}`);
      }
      // A pattern without any of the four tokens names nothing: Atmos then uses the file name.
      if (namePattern) {
        const name = patternName(namePattern, isPlainMap(section.vars) ? section.vars : {}, manifest.key);
        if (name) return name;
      }
    } catch (error) {
      if (!lenient) throw error;
    }
    return manifest.key;
  }

  readonly #componentDirs = new Map<string, string>();

  /** Absolute component folder, memoised: thousands of instances share a handful of folders. */
  #componentDir(raw: RawComponent): string {
    const key = `${raw.kind}\u0000${raw.folder}`;
    let dir = this.#componentDirs.get(key);
    if (dir === undefined) {
      const kindConfig = this.config.components[raw.kind];
      dir = join(kindConfig?.basePath ?? join(this.config.basePath, 'components', raw.kind), raw.folder);
      this.#componentDirs.set(key, dir);
    }
    return dir;
  }

  #evaluate(candidate: Candidate): ComponentInstance | Promise<ComponentInstance> {
    let evaluated = this.#evaluated.get(candidate);
    if (!evaluated) {
      evaluated = this.#evaluateUncached(candidate);
      this.#evaluated.set(candidate, evaluated);
    }
    return evaluated;
  }

  #evaluateUncached(candidate: Candidate): ComponentInstance | Promise<ComponentInstance> {
    const { raw, section: base, stack } = candidate;
    // Only Terraform components have a workspace (Atmos builds none for Packer, Helmfile or Ansible).
    const workspace = raw.kind === 'terraform' ? workspaceName(this.config, base, raw, stack) : undefined;
    let section = describedSection(base, stack, workspace);
    if (this.#reader.sawMarkers) section = finalizeMarkers(section) as PlainMap;
    const templates = this.config.templates;
    const templated =
      (this.#options.processTemplates ?? templates.enabled) && sectionHasTemplates(section, templates.delimiters[0]);
    const functions = this.#options.processFunctions !== false && this.#reader.sawFunctions;
    if (!templated && !functions) return this.#instance(raw, stack, section);
    return this.#evaluateAsync(candidate, section, templated);
  }

  async #evaluateAsync(
    { manifest, raw, stack }: Candidate,
    described: PlainMap,
    templated: boolean,
  ): Promise<ComponentInstance> {
    let section = described;
    const templates = this.config.templates;
    if (templated) {
      // Integration names Atmos computes are visible to templates (not printed unless an integration is configured).
      const slug = `${stack}-${raw.name.replaceAll('/', '-')}`;
      for (let pass = 0; pass < templates.evaluations; pass++) {
        const data: PlainMap = { spacelift_stack: slug, atlantis_project: slug, ...section };
        // `{{ .version.<name> }}`: Atmos's managed versions, when the repository has a versions.lock.yaml.
        const versions = lockedVersions(this.config, versionTrack(manifest.doc));
        if (versions) data.version = versions;
        section = (await this.#withTemplateOutputs(() =>
          renderDeep(
            section,
            data,
            `${stack}/${raw.name}`,
            templates.delimiters,
            this.#locate(manifest),
            this.#templateFunctions,
            this.limits,
          ),
        )) as PlainMap;
      }
    }
    if (this.#options.processFunctions !== false && this.#reader.sawFunctions) {
      const context = {
        config: this.config,
        resolvers: this.#resolvers,
        section,
        stack,
        component: raw.name,
        kind: raw.kind,
        versionTrack: versionTrack(manifest.doc),
        skip: this.#skip,
        memo: this.calls,
        access: this.#functionAccess(),
        templateFuncs: this.#templateFunctions,
        limits: this.limits,
      };
      // A function deep-merged with maps of other layers (Atmos's deferred merge) is evaluated before the merge.
      if (hasDeferred(section))
        section = (await resolveDeferred(section, (layer) => evaluateFunctions(layer, context))) as PlainMap;
      if (containsFunction(section)) section = (await evaluateFunctions(section, context)) as PlainMap;
    }
    return this.#instance(raw, stack, section);
  }

  #instance(raw: RawComponent, stack: string, section: PlainMap): ComponentInstance {
    return {
      kind: raw.kind,
      name: raw.name,
      stack,
      componentDir: this.#componentDir(raw),
      abstract: raw.abstract,
      enabled: raw.enabled,
      locked: raw.locked,
      description: section as ComponentDescription,
    };
  }

  /** What YAML functions may do in this engine's context. */
  #functionAccess(): FunctionAccess {
    const context = this.#options.context ?? 'run';
    if (context === 'controller') return 'controller';
    return context === 'inspect' && !this.limits.execInDescribe ? 'no-exec' : 'all';
  }

  /**
   * Where a template text of this manifest was written: the highest-precedence contributing file whose source holds
   * its first line (templates are rendered after merging, when the origin is no longer known).
   */
  #locate(manifest: StackManifest): Locate {
    return (text) => {
      const firstLine = text.split('\n', 1)[0];
      for (let i = manifest.files.length - 1; i >= 0; i--) {
        const path = manifest.files[i].path;
        const line = lineOf(this.#reader.source(path), firstLine);
        if (line !== undefined) return { file: path, line };
      }
      return { file: manifest.path };
    };
  }

  /**
   * `atmos.Component` in templates: another component's section with its templates rendered (its YAML functions are
   * not evaluated here) and `outputs`, read on first use the way !terraform.output reads them.
   */
  #componentForTemplate(component: string, stack: string): PlainMap {
    return this.calls.call(CallMemo.key('atmos.Component', [component], stack), () =>
      this.#renderComponentForTemplate(component, stack),
    );
  }

  #renderComponentForTemplate(component: string, stack: string): PlainMap {
    const key = `${component}@${stack}`;
    if (this.#renderingForTemplate.has(key)) {
      throw new StrataError(`atmos.Component: circular reference to '${component}' in stack '${stack}'`, {
        hint: [...this.#renderingForTemplate, key].join(' -> '),
      });
    }
    const candidate = this.#candidatesList().find((c) => c.raw.name === component && c.stack === stack);
    if (!candidate) throw new StrataError(`atmos.Component: component '${component}' not found in stack '${stack}'`);
    this.#renderingForTemplate.add(key);
    try {
      let section: PlainMap = { ...candidate.section, atmos_stack: stack, stack };
      if (candidate.raw.kind === 'terraform')
        section.workspace = workspaceName(this.config, section, candidate.raw, stack);
      section = finalizeMarkers(section) as PlainMap;
      const { delimiters } = this.config.templates;
      section = renderDeep(
        section,
        section,
        key,
        delimiters,
        this.#locate(candidate.manifest),
        this.#templateFunctions,
        this.limits,
      ) as PlainMap;
      return this.#withOutputs({ ...section }, component, stack);
    } finally {
      this.#renderingForTemplate.delete(key);
    }
  }

  readonly #templateOutputs = new Map<string, unknown>();
  readonly #missingOutputs = new Map<string, TerraformOutputRef>();

  /**
   * `.outputs` of an atmos.Component result, read when a template reads it (templates render synchronously, so a
   * read of outputs not fetched yet records them and fails the render, which #withTemplateOutputs then repeats).
   */
  #withOutputs(section: PlainMap, component: string, stack: string): PlainMap {
    const key = `${component}@${stack}`;
    Object.defineProperty(section, 'outputs', {
      enumerable: true,
      get: () => {
        if (this.#templateOutputs.has(key)) return this.#templateOutputs.get(key);
        this.#missingOutputs.set(key, { component, stack, expression: '.' });
        throw new StrataError(`atmos.Component: the outputs of '${component}' in stack '${stack}' are not read yet`);
      },
    });
    return section;
  }

  /** Renders, fetching the outputs atmos.Component reads (as !terraform.output does) and rendering again. */
  async #withTemplateOutputs<T>(render: () => T): Promise<T> {
    for (;;) {
      try {
        return render();
      } catch (error) {
        if (this.#missingOutputs.size === 0) throw error;
        const missing = [...this.#missingOutputs];
        this.#missingOutputs.clear();
        for (const [key, ref] of missing) this.#templateOutputs.set(key, await this.#readOutputs(ref));
      }
    }
  }

  async #readOutputs(ref: TerraformOutputRef): Promise<unknown> {
    if (!this.#resolvers.terraformOutput) {
      throw new StrataError(
        `atmos.Component "${ref.component}" "${ref.stack}": .outputs needs Terraform outputs, and nothing here reads them`,
        {
          hint: "open the engine with strata's openEngine (src/services/engine.ts), or pass resolvers.terraformOutput",
        },
      );
    }
    try {
      return await this.#resolvers.terraformOutput(ref, 'output');
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      throw new StrataError(`atmos.Component "${ref.component}" "${ref.stack}": .outputs: ${error.message}`, {
        hint: error.hint,
        details: error.details,
        cause: error,
      });
    }
  }

  /** Components whose settings.depends_on / dependencies.components name the given component (describe dependents). */
  async dependents(component: string, stack: string): Promise<ComponentInstance[]> {
    const target = await this.describeComponent(component, stack);
    const out: ComponentInstance[] = [];
    for (const instance of await this.instances()) {
      if (instance.abstract) continue;
      for (const dep of dependenciesOf(instance)) {
        const depStack = dep.stack ?? contextStack(dep, target, instance);
        if (dep.component === target.name && depStack === target.stack) {
          out.push(instance);
          break;
        }
      }
    }
    return out;
  }

  /**
   * `describe locals`: each top-level manifest's own resolved locals by stack name, `{locals, <kind>: {locals}}`
   * (locals are file-scoped, so an import's locals are not part of its importer's).
   */
  async locals(stack?: string): Promise<Record<string, PlainMap>> {
    const out: Record<string, PlainMap> = {};
    const candidates = this.#candidatesList();
    for (const manifest of this.manifests()) {
      const name = candidates.find((c) => c.manifest === manifest)?.stack ?? manifest.fallbackName;
      if (stack && stack !== name && stack !== manifest.key) continue;
      const { locals, kinds } = this.#reader.localsOf(manifest.path);
      const entry: PlainMap = {};
      if (Object.keys(locals).length > 0) entry.locals = locals;
      for (const [kind, kindLocals] of Object.entries(kinds)) entry[kind] = { locals: kindLocals };
      if (Object.keys(entry).length > 0) out[name] = entry;
    }
    if (stack && Object.keys(out).length === 0 && !this.manifests().some((m) => m.key === stack)) {
      if (!candidates.some((c) => c.stack === stack)) throw await this.#unknownStack(stack);
    }
    return out;
  }

  /** Names of stacks close to `name`, for error messages elsewhere. */
  async closestStacks(name: string): Promise<string[]> {
    return closestNames(name, await this.stackNames());
  }
}

/** Template functions that read the environment, refused when the controller renders specs. */
const CONTROLLER_REFUSALS: FuncMap = Object.fromEntries(
  ['env', 'expandenv'].map((name) => [
    name,
    () => {
      throw new StrataError(`${name} is not available in specs the controller serves (strata serve)`, {
        hint: 'the controller never reads its own environment into a spec: write the value into the stack, or use !secret',
      });
    },
  ]),
);

/**
 * An engine over the configuration the options find, with only the resolvers they carry. Programs and commands
 * use services/engine.ts's openEngine, which adds strata's own resolvers (Terraform outputs and state).
 */
export async function loadEngine(options: EngineOptions = {}): Promise<StackEngine> {
  return new StackEngine(loadConfig(options), options);
}
