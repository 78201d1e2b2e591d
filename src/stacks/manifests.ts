/**
 * Reading stack manifests and assembling each top-level manifest with its imports (Atmos's
 * processYAMLConfigFileWithContext): imports in order, each import merged first, the importing file last;
 * `overrides` scoped to the file that declares them and the files it imports.
 */
import type { BigIntStats } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { globSync } from 'tinyglobby';
import type { StrataConfig } from '../config/types.ts';
import { DEFAULT_LIMITS, type EngineLimits, LimitError, readFileBounded } from '../data/limits.ts';
import { isPlainMap, type ListMergeStrategy, mergeLayers, type PlainMap } from '../data/merge.ts';
import { FUNCTION_TAGS, parseYaml, YamlSyntaxError } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { type FuncMap, hasTemplate, renderTemplate } from '../template/index.ts';
import { closestNames } from '../util/suggest.ts';
import { fileStamp, statStamp } from './file-stamp.ts';
import { IncludeResolver, withLocation } from './includes.ts';
import { applyLocals, type FileLocals, mayDeclareLocals } from './locals.ts';
import {
  FileLookup,
  GLOB_CHARS,
  hasStackExtension,
  isRemote,
  lineOf,
  resolveExtension,
  STACK_EXTENSIONS,
  stripStackExtension,
} from './manifest-paths.ts';
import {
  applyOverrides,
  isEmptyOverrides,
  mergeOverrides,
  type OverridesByKind,
  ownOverrides,
  withoutImport,
} from './overrides.ts';
import { type ParseCache, parseCounters } from './parse-cache.ts';

// Their home before manifests.ts was split; gitops, services and tests import them from here.
export {
  findStackManifests,
  lineOf,
  listStackManifests,
  STACK_EXTENSIONS,
  splitIncludeArgs,
  stripStackExtension,
} from './manifest-paths.ts';

const FUNCTION_TAG_PATTERN = new RegExp(`!(${FUNCTION_TAGS.map((t) => t.replaceAll('.', '\\.')).join('|')})\\b`);

export interface ParsedManifest {
  path: string;
  data: PlainMap;
}

export interface ImportSpec {
  path: string;
  context: PlainMap;
  skipTemplatesProcessing: boolean;
  ignoreMissingTemplateValues: boolean;
  skipIfMissing: boolean;
}

interface ProcessContext {
  context: PlainMap;
  inline: OverridesByKind;
  imported: OverridesByKind;
  chain: string[];
  ignoreMissing: boolean;
  skipTemplates: boolean;
}

/** A file in merge order (lowest precedence first) with its import depth (0 = the manifest itself). */
export interface MergedFile {
  path: string;
  depth: number;
}

export interface AssembledManifest {
  /** The top-level manifest, merged with all its imports. */
  data: PlainMap;
  /** Every file that contributed, in merge order: imports before importers (for provenance). */
  files: MergedFile[];
  /** Every file imported (directly or not), as paths relative to the stacks folder without extension. */
  imports: string[];
  /**
   * Whether the result depends only on the texts of `files` and on how `targets` resolve (see result-cache.ts): no
   * template delimiter, YAML function, `!include`, `!unset`/`!append`, glob import or missing optional import.
   */
  pure: boolean;
  /** Each plain import path (absolute, as written, before an extension is chosen) with the file it resolved to. */
  targets: [string, string][];
}

/** A processed file: its merged result and the processed imports it merged (a tree, flattened per manifest). */
interface ProcessedFile {
  path: string;
  merged: PlainMap;
  exported: OverridesByKind;
  children: ProcessedFile[];
  /** This file and everything it imports are pure (see AssembledManifest.pure). */
  pure: boolean;
  /** This file's own plain imports: target -> file. */
  targets: [string, string][];
}

/** Import chains at least this deep are prepared from the bottom up (see #prepareDeepChains). */
const DEEP_CHAIN = 64;

function rootContext(chain: string[]): ProcessContext {
  return { context: {}, inline: {}, imported: {}, chain, ignoreMissing: false, skipTemplates: false };
}

/** What the reader may read and spend (the engine derives it from its context and the config's `limits:`). */
export interface ReaderOptions {
  limits?: EngineLimits;
  /** `!include` targets must be inside the repository (base_path or the stacks folder). */
  confineIncludes?: boolean;
  /** Imported manifests must be inside the repository too (the controller). */
  confineImports?: boolean;
  /** Template functions over the builtins (the controller's refusal of `env`). */
  templateFuncs?: FuncMap;
  /** Parsed manifests from earlier runs (see parse-cache.ts). */
  cache?: ParseCache;
  /**
   * Texts read instead of these files (absolute paths). Such a reader only reads the parse cache: what it parses is
   * not the stacks folder's, and must not take the place of the folder's pack.
   */
  sources?: ReadonlyMap<string, string>;
}

export class ManifestReader {
  readonly #config: StrataConfig;
  readonly #options: ReaderOptions;
  readonly limits: EngineLimits;
  readonly #includes: IncludeResolver;
  readonly #strategy: ListMergeStrategy;
  readonly #sources = new Map<string, string>();
  /** Each file's stamp (file-stamp.ts), taken before its text was read. */
  readonly #stamps = new Map<string, string | undefined>();
  /** The stat taken before each file was read, made into a stamp only if asked for (most runs never ask). */
  readonly #readStats = new Map<string, { stat: BigIntStats; at: number }>();
  readonly #parsed = new Map<string, PlainMap>();
  readonly #processed = new Map<string, ProcessedFile>();
  readonly #locals = new Map<string, FileLocals>();
  /** Files whose text the result cache may rely on (see AssembledManifest.pure), by path. */
  readonly #pureTexts = new Map<string, boolean>();
  #allFiles: string[] | undefined;
  /** Whether any file read so far holds `!unset`/`!append` or a YAML function: lets the engine skip whole walks. */
  sawMarkers = false;
  sawFunctions = false;

  constructor(config: StrataConfig, options: ReaderOptions = {}) {
    this.#config = config;
    this.#options = options;
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.#strategy = config.listMergeStrategy;
    this.#includes = new IncludeResolver({
      config,
      limits: this.limits,
      stacksBase: config.stacks.basePath,
      confine: options.confineIncludes === true,
      confineImports: options.confineImports === true,
      display: (path) => this.display(path),
      source: (path) => this.source(path),
    });
  }

  get stacksBase(): string {
    return this.#config.stacks.basePath;
  }

  readonly #keys = new Map<string, string>();
  readonly #resolved = new Map<string, string | undefined>();
  readonly #files = new FileLookup();

  /** The manifest key Atmos uses: path relative to the stacks folder, without extension, with forward slashes. */
  key(path: string): string {
    let key = this.#keys.get(path);
    if (key === undefined) {
      key = stripStackExtension(relative(this.stacksBase, path)).split(sep).join('/');
      this.#keys.set(path, key);
    }
    return key;
  }

  source(path: string): string {
    let text = this.#sources.get(path) ?? this.#options.sources?.get(path);
    if (text === undefined) {
      const at = Date.now();
      try {
        text = readFileBounded(path, this.limits.maxFileBytes, `stack manifest ${this.display(path)}`, (stat) =>
          this.#readStats.set(path, { stat, at }),
        );
      } catch (error) {
        if (error instanceof LimitError) throw withLocation(error, { file: path });
        throw new StrataError(
          `cannot read stack manifest ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
      this.#sources.set(path, text);
    }
    return text;
  }

  /** The file's stamp (file-stamp.ts) from before `source` read it, or from one stat if it was not read yet. */
  stamp(path: string): string | undefined {
    if (this.#options.sources?.has(path)) return undefined;
    if (!this.#stamps.has(path)) {
      const read = this.#readStats.get(path);
      this.#stamps.set(path, read ? fileStamp(read.stat, read.at) : statStamp(path));
    }
    return this.#stamps.get(path);
  }

  /** Parses a manifest once (by path) unless its text is rendered with a context first. */
  parse(path: string, rendered?: string): PlainMap {
    if (rendered === undefined) {
      const cached = this.#parsed.get(path);
      if (cached) return cached;
    }
    const text = rendered ?? this.source(path);
    if (rendered === undefined) this.#pureTexts.set(path, this.#isPureText(text));
    if (!this.sawMarkers && /!(unset|append)\b/.test(text)) this.sawMarkers = true;
    if (!this.sawFunctions && FUNCTION_TAG_PATTERN.test(text)) this.sawFunctions = true;
    const parsed = this.#parseText(text, path) ?? {};
    if (!isPlainMap(parsed)) {
      throw new StrataError(`stack manifest ${this.display(path)} must be a YAML map at the top level`, {
        location: { file: path, line: 1 },
      });
    }
    let data = text.includes('!include') ? (this.#includes.resolveIncludes(parsed, path) as PlainMap) : parsed;
    if (mayDeclareLocals(text)) {
      const applied = applyLocals(data, this.display(path), this.#config.templates.delimiters);
      data = applied.data;
      this.#locals.set(path, applied.locals);
    }
    if (rendered === undefined) this.#parsed.set(path, data);
    return data;
  }

  /** A text that reads the same in any context: nothing a template, function, include or marker could change. */
  #isPureText(text: string): boolean {
    return (
      !text.includes(this.#config.templates.delimiters[0]) &&
      !FUNCTION_TAG_PATTERN.test(text) &&
      !text.includes('!include') &&
      !/!(unset|append)\b/.test(text)
    );
  }

  /** The parsed YAML of a text: from the cache when a run parsed the same text before. */
  #parseText(text: string, path: string): unknown {
    const cache = this.#options.cache;
    const cached = cache?.get(text, path);
    if (cached !== undefined) return cached;
    parseCounters.parsed++;
    const parsed = parseYaml(text, path, this.limits);
    if (!this.#options.sources) cache?.set(text, parsed);
    return parsed;
  }

  /** Writes what this reader parsed into the persistent cache (when it has one). */
  flushCache(): void {
    if (!this.#options.sources) this.#options.cache?.flush();
  }

  /** A manifest's own resolved locals (file-scoped: its imports' locals are not included). */
  localsOf(path: string): FileLocals {
    this.parse(path);
    return this.#locals.get(path) ?? { locals: {}, kinds: {} };
  }

  display(path: string): string {
    return relative(this.#config.basePath, path) || path;
  }

  /** Assembles a top-level manifest with all its imports. */
  assemble(path: string): AssembledManifest {
    let result: ProcessedFile;
    try {
      this.#prepareDeepChains(path);
      result = this.#process(path, rootContext([]));
    } catch (error) {
      // A chain within limits.max_chain_depth whose files are themselves deep can still exhaust the stack.
      if (error instanceof RangeError) throw this.#chainTooLong([path], error.message);
      throw error;
    }
    return { data: result.merged, ...this.#flatten(result), pure: result.pure };
  }

  /** The contributing files in merge order (with their depth) and the imported keys, walked without recursion. */
  #flatten(root: ProcessedFile): { files: MergedFile[]; imports: string[]; targets: [string, string][] } {
    const files: MergedFile[] = [];
    const imports = new Set<string>();
    const targets = new Map<string, string>();
    const stack: { node: ProcessedFile; depth: number; next: number }[] = [{ node: root, depth: 0, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.children.length) {
        const child = top.node.children[top.next++];
        imports.add(this.key(child.path));
        stack.push({ node: child, depth: top.depth + 1, next: 0 });
      } else {
        files.push({ path: top.node.path, depth: top.depth });
        for (const [target, file] of top.node.targets) targets.set(target, file);
        stack.pop();
      }
    }
    return { files, imports: [...imports].sort(), targets: [...targets] };
  }

  /**
   * Deep chains of plain imports (no context, no template or glob in the path) are processed from the deepest file
   * up, each with an empty context, so that #process finds every import already cached and never recurses deeper
   * than one level: a 5,000-file chain costs 5,000 merges and no deep stack. Repositories with shallow imports
   * (the usual case) only walk their imports. An error found on the way is the real pass's error, with the same chain.
   */
  #prepareDeepChains(top: string): void {
    const order: string[] = [];
    const seen = new Set<string>([top]);
    const stack: { path: string; imports: string[] }[] = [];
    try {
      stack.push({ path: top, imports: this.#plainImports(top) });
      while (stack.length > 0) {
        const current = stack[stack.length - 1];
        const next = current.imports.shift();
        if (next === undefined) {
          order.push((stack.pop() as { path: string }).path);
          continue;
        }
        if (seen.has(next)) continue;
        seen.add(next);
        // Past the limit the real pass reports the chain.
        if (stack.length + 1 >= this.limits.maxChainDepth) return;
        stack.push({ path: next, imports: this.#plainImports(next) });
      }
      if (order.length < DEEP_CHAIN) return;
      // Every file here is within the limit with all it imports; cycles and missing files fail in the real pass.
      for (const path of order.slice(0, -1)) this.#process(path, rootContext([]));
    } catch (error) {
      // A file that cannot be read or parsed fails the same way in the real pass: report it now, parsed once.
      if (error instanceof LimitError || error instanceof YamlSyntaxError) throw error;
    }
  }

  /** Imports of a file that an empty context reads as they are: plain paths, no template, glob or context. */
  #plainImports(path: string): string[] {
    // Every manifest's walk meets the shared catalogs again: each file's plain imports are resolved once.
    let known = this.#plainImportsOf.get(path);
    if (!known) {
      known = this.#resolvePlainImports(path);
      this.#plainImportsOf.set(path, known);
    }
    return known.slice();
  }

  readonly #plainImportsOf = new Map<string, string[]>();

  #resolvePlainImports(path: string): string[] {
    if (path.endsWith('.tmpl')) return [];
    const data = this.parse(path);
    const out: string[] = [];
    for (const spec of this.#importSpecs(data, path)) {
      const plain =
        Object.keys(spec.context).length === 0 &&
        !spec.skipTemplatesProcessing &&
        !spec.ignoreMissingTemplateValues &&
        !GLOB_CHARS.test(spec.path) &&
        !hasTemplate(spec.path, this.#config.templates.delimiters);
      if (plain) out.push(...this.#resolveImport(spec, path, [path]));
    }
    return out;
  }

  #process(path: string, ctx: ProcessContext): ProcessedFile {
    const cacheable =
      Object.keys(ctx.context).length === 0 && isEmptyOverrides(ctx.inline) && isEmptyOverrides(ctx.imported);
    // The import's flags change how a .tmpl file (and, for ignoreMissing, its imports) is read: part of the key.
    const cacheKey = `${ctx.skipTemplates ? 1 : 0}${ctx.ignoreMissing ? 1 : 0}${path}`;
    if (cacheable) {
      const cached = this.#processed.get(cacheKey);
      if (cached) return cached;
    }
    const chain = [...ctx.chain, path];
    if (chain.length > this.limits.maxChainDepth) throw this.#chainTooLong(chain);
    const data = this.#load(path, ctx);
    const own = ownOverrides(data);
    const inlineForChildren = mergeOverrides(own, ctx.inline);
    let accumulated = ctx.imported;
    const layers: PlainMap[] = [];
    const children: ProcessedFile[] = [];
    const targets: [string, string][] = [];
    let pure = this.#pureTexts.get(path) === true;
    for (const spec of this.#importSpecs(data, path)) {
      const resolvedSpec = this.#renderImportPath(spec, path, layers, data);
      const files = this.#resolveImport(resolvedSpec, path, chain);
      // A glob or a missing optional import can match other files tomorrow without any file read today changing.
      if (GLOB_CHARS.test(resolvedSpec.path) || files.length === 0) pure = false;
      else targets.push([this.#importTarget(resolvedSpec.path, path), files[0]]);
      for (const file of files) {
        const context = { ...resolvedSpec.context, ...ctx.context };
        const child = this.#process(file, {
          context,
          inline: inlineForChildren,
          imported: accumulated,
          chain,
          ignoreMissing: resolvedSpec.ignoreMissingTemplateValues || ctx.ignoreMissing,
          skipTemplates: resolvedSpec.skipTemplatesProcessing,
        });
        layers.push(child.merged);
        children.push(child);
        pure &&= child.pure;
        accumulated = mergeOverrides(accumulated, child.exported);
      }
    }
    const finalOverrides = mergeOverrides(accumulated, inlineForChildren);
    const result: ProcessedFile = {
      path,
      merged: mergeLayers([...layers, applyOverrides(withoutImport(data), finalOverrides)], this.#strategy),
      exported: mergeOverrides(accumulated, own),
      children,
      pure,
      targets,
    };
    if (cacheable) this.#processed.set(cacheKey, result);
    return result;
  }

  #chainTooLong(chain: string[], reason?: string): LimitError {
    const names = chain.map((f) => this.display(f));
    const shown = names.length > 6 ? [...names.slice(0, 3), `… ${names.length - 6} more …`, ...names.slice(-3)] : names;
    const what = reason
      ? `imports of ${names[0]} nest too deeply to assemble (${reason})`
      : `import chain longer than ${this.limits.maxChainDepth} files (limits.max_chain_depth)`;
    return new LimitError(what, {
      location: { file: chain[chain.length - 2] ?? chain[0] },
      details: `Import chain: ${shown.join(' -> ')}`,
      hint: 'import the shared files from fewer levels, or raise limits.max_chain_depth in atmos.yaml / strata.yaml',
    });
  }

  /** Reads a manifest, rendering it first when Atmos would: a `.tmpl` file or an import with a context. */
  #load(path: string, ctx: ProcessContext): PlainMap {
    const templated = (path.endsWith('.tmpl') || Object.keys(ctx.context).length > 0) && !ctx.skipTemplates;
    if (!templated) return this.parse(path);
    const text = this.source(path);
    if (!hasTemplate(text, this.#config.templates.delimiters)) return this.parse(path);
    const rendered = renderTemplate(text, ctx.context, {
      name: this.display(path),
      delimiters: this.#config.templates.delimiters,
      missingkey: ctx.ignoreMissing || this.#config.templates.ignoreMissingTemplateValues ? 'default' : 'error',
      limits: this.limits,
      funcs: this.#options.templateFuncs,
    });
    return this.parse(path, rendered);
  }

  #importSpecs(data: PlainMap, path: string): ImportSpec[] {
    const raw = data.import;
    if (raw === undefined || raw === null) return [];
    const entries = Array.isArray(raw) ? raw : [raw];
    return entries.map((entry, index) => {
      if (typeof entry === 'string') {
        return {
          path: entry,
          context: {},
          skipTemplatesProcessing: false,
          ignoreMissingTemplateValues: false,
          skipIfMissing: false,
        };
      }
      if (isPlainMap(entry) && typeof entry.path === 'string') {
        return {
          path: entry.path,
          context: isPlainMap(entry.context) ? entry.context : {},
          skipTemplatesProcessing: entry.skip_templates_processing === true,
          ignoreMissingTemplateValues: entry.ignore_missing_template_values === true,
          skipIfMissing: entry.skip_if_missing === true,
        };
      }
      throw new StrataError(
        `invalid import #${index + 1} in ${this.display(path)}: expected a path or {path, context}`,
        {
          location: { file: path },
          hint: 'write `- catalog/x` or `- path: catalog/x` with optional context, skip_if_missing, skip_templates_processing',
        },
      );
    });
  }

  /** Import paths may be templates over the context and the settings/vars/env of earlier imports (templates enabled). */
  #renderImportPath(spec: ImportSpec, path: string, earlier: PlainMap[], data: PlainMap): ImportSpec {
    const delimiters = this.#config.templates.delimiters;
    if (!this.#config.templates.enabled || !hasTemplate(spec.path, delimiters)) return spec;
    const scope = mergeLayers(
      [...earlier, { settings: data.settings, vars: data.vars, env: data.env }],
      this.#strategy,
    );
    const values = { settings: scope.settings ?? {}, vars: scope.vars ?? {}, env: scope.env ?? {}, ...spec.context };
    const ignoreMissing = spec.ignoreMissingTemplateValues || this.#config.templates.ignoreMissingTemplateValues;
    const rendered = renderTemplate(spec.path, values, {
      name: `import path in ${this.display(path)}`,
      delimiters,
      missingkey: ignoreMissing ? 'default' : 'error',
      limits: this.limits,
      funcs: this.#options.templateFuncs,
    });
    return { ...spec, path: rendered };
  }

  #resolveImport(spec: ImportSpec, importer: string, chain: string[]): string[] {
    if (isRemote(spec.path)) {
      throw new StrataError(
        `import '${spec.path}' in ${this.display(importer)}: remote imports are not supported by strata`,
        {
          location: { file: importer, line: lineOf(this.source(importer), spec.path) },
          hint: 'download the file into the stacks folder (or vendor it) and import it by its path',
        },
      );
    }
    const base = this.#importBase(spec.path, importer);
    const target = resolve(base, spec.path);
    let files: string[];
    if (GLOB_CHARS.test(spec.path)) {
      const rel = relative(base, target).split(sep).join('/');
      const patterns = hasStackExtension(rel) ? [rel] : [rel, ...STACK_EXTENSIONS.map((ext) => `${rel}${ext}`)];
      files = globSync(patterns, { cwd: base, absolute: true, onlyFiles: true })
        .filter((f) => STACK_EXTENSIONS.some((ext) => f.endsWith(ext)))
        .sort();
    } else {
      const file = this.resolveTarget(target);
      files = file ? [file] : [];
    }
    if (files.length === 0) {
      if (spec.skipIfMissing) return [];
      throw this.#missingImport(spec.path, importer, chain);
    }
    for (const file of files) {
      if (this.#options.confineImports)
        this.#includes.confine(file, `import '${spec.path}' in ${this.display(importer)}`, {
          file: importer,
        });
      if (file === importer) {
        throw new StrataError(`${this.display(importer)} imports itself (import '${spec.path}')`, {
          location: { file: importer },
          hint: 'remove the import, or point it at another file',
        });
      }
      if (chain.includes(file)) {
        const cycle = [...chain.slice(chain.indexOf(file)), file].map((f) => this.display(f));
        const full = [...chain, file].map((f) => this.display(f));
        throw new StrataError(`import cycle: ${cycle.join(' -> ')}`, {
          location: { file: importer },
          details: `Import chain from the stack manifest:\n${full.map((f, n) => `${'  '.repeat(n)}${n === 0 ? '' : '└─ '}${f}`).join('\n')}`,
          hint: 'break the cycle by moving the shared settings into a file both can import',
        });
      }
    }
    return files;
  }

  /** The file a plain import path resolves to (the extension chosen on disk); each path is looked up once. */
  resolveTarget(target: string): string | undefined {
    // Hundreds of stacks import the same catalogs: look each path up on disk once.
    let file = this.#resolved.get(target);
    if (file === undefined && !this.#resolved.has(target)) {
      file = resolveExtension(target, this.#files.isFile);
      this.#resolved.set(target, file);
    }
    return file;
  }

  #importBase(importPath: string, importer: string): string {
    const relativeToFile = importPath.startsWith('./') || importPath.startsWith('../');
    return relativeToFile ? dirname(importer) : this.stacksBase;
  }

  #importTarget(importPath: string, importer: string): string {
    return resolve(this.#importBase(importPath, importer), importPath);
  }

  #missingImport(importPath: string, importer: string, chain: string[]): StrataError {
    this.#allFiles ??= globSync(
      STACK_EXTENSIONS.map((e) => `**/*${e}`),
      { cwd: this.stacksBase, onlyFiles: true },
    ).map(stripStackExtension);
    const wanted = stripStackExtension(importPath.replace(/^\.\//, ''));
    const near = closestNames(wanted, this.#allFiles, 3);
    const via = chain.length > 1 ? `\nImported via: ${chain.map((f) => this.display(f)).join(' -> ')}` : '';
    return new StrataError(`import '${importPath}' in ${this.display(importer)} not found`, {
      location: { file: importer, line: lineOf(this.source(importer), importPath) },
      details: `Looked for ${importPath} with extensions ${STACK_EXTENSIONS.join(', ')} under ${relativeToBase(importPath, importer, this)}${via}`,
      hint:
        near.length > 0
          ? `Did you mean ${near.map((n) => `'${n}'`).join(', ')}? (or add skip_if_missing: true)`
          : 'check the path, or add skip_if_missing: true',
    });
  }
}

function relativeToBase(importPath: string, importer: string, reader: ManifestReader): string {
  return importPath.startsWith('./') || importPath.startsWith('../')
    ? `${reader.display(dirname(importer))}/`
    : 'the stacks folder';
}
