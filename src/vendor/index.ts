/**
 * Atmos vendoring: `vendor.yaml` (AtmosVendorConfig, with `imports`) and per-component `component.yaml`
 * (ComponentVendorConfig) copy component code from a source into the repository. Sources strata pulls: local
 * folders (a path or `file://`) and git repositories (`git::<url>`, with `//subdir` and `?ref=`), cloned with the
 * git on PATH. Other go-getter schemes (s3, gcs, oci, http archives) are errors naming the scheme.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { globSync } from 'tinyglobby';
import type { StrataConfig } from '../config/types.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { parseYaml } from '../data/yaml.ts';
import { StrataError, UsageError } from '../errors.ts';
import { run } from '../exec/index.ts';
import { renderTemplate } from '../template/index.ts';

export interface VendorSource {
  component: string;
  source: string;
  version?: string;
  targets: string[];
  includedPaths: string[];
  excludedPaths: string[];
  tags: string[];
  /** The file that declares it; relative sources and targets resolve against its folder. */
  file: string;
}

export interface VendorPullOptions {
  component?: string;
  tags?: string[];
}

export interface VendorPulled {
  component: string;
  source: string;
  version?: string;
  target: string;
  files: number;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];

function readManifest(path: string): PlainMap {
  const data = parseYaml(readFileSync(path, 'utf8'), path);
  if (!isPlainMap(data)) throw new StrataError(`${path} is not a vendor manifest`, { location: { file: path } });
  return data;
}

/** Sources of a vendor.yaml and the files it imports (relative to it), each file read once. */
function vendorSources(path: string, seen = new Set<string>()): VendorSource[] {
  if (seen.has(path)) return [];
  seen.add(path);
  const spec = readManifest(path).spec;
  if (!isPlainMap(spec)) throw new StrataError(`${path} has no spec:`, { hint: 'write spec: {sources: [...]}' });
  const imported = strings(spec.imports).flatMap((rel) => {
    const file = resolve(dirname(path), rel.endsWith('.yaml') || rel.endsWith('.yml') ? rel : `${rel}.yaml`);
    return vendorSources(file, seen);
  });
  const own = (Array.isArray(spec.sources) ? spec.sources : []).filter(isPlainMap).map((entry) => {
    if (typeof entry.source !== 'string') {
      throw new StrataError(`a source in ${path} has no source:`, { location: { file: path } });
    }
    return {
      component: String(entry.component ?? ''),
      source: entry.source,
      version: entry.version === undefined ? undefined : String(entry.version),
      targets: strings(entry.targets),
      includedPaths: strings(entry.included_paths),
      excludedPaths: strings(entry.excluded_paths),
      tags: strings(entry.tags),
      file: path,
    };
  });
  return [...imported, ...own];
}

/** A component's component.yaml: its spec.source, pulled into the component's own folder. */
function componentManifestSource(config: StrataConfig, component: string): VendorSource | undefined {
  const dir = join(
    config.components.terraform?.basePath ?? join(config.basePath, 'components', 'terraform'),
    component,
  );
  const path = join(dir, 'component.yaml');
  if (!existsSync(path)) return undefined;
  const source = readManifest(path).spec;
  const spec = isPlainMap(source) && isPlainMap(source.source) ? source.source : undefined;
  if (!spec || typeof spec.uri !== 'string') {
    throw new StrataError(`${path} has no spec.source.uri`, { location: { file: path } });
  }
  return {
    component,
    source: spec.uri,
    version: spec.version === undefined ? undefined : String(spec.version),
    targets: [dir],
    includedPaths: strings(spec.included_paths),
    excludedPaths: strings(spec.excluded_paths),
    tags: [],
    file: path,
  };
}

/** vendor.yaml's path: atmos.yaml `vendor.base_path`, else vendor.yaml in the base path. */
function vendorFile(config: StrataConfig): string {
  const vendor = isPlainMap(config.raw.vendor) ? config.raw.vendor : {};
  const configured = typeof vendor.base_path === 'string' ? vendor.base_path : 'vendor.yaml';
  return isAbsolute(configured) ? configured : join(config.basePath, configured);
}

/** The sources `vendor pull` would pull with these options. */
export function selectSources(config: StrataConfig, options: VendorPullOptions = {}): VendorSource[] {
  const file = vendorFile(config);
  const all = existsSync(file) ? vendorSources(file) : [];
  let selected = all;
  if (options.component) selected = selected.filter((s) => s.component === options.component);
  if (options.tags?.length) selected = selected.filter((s) => s.tags.some((t) => options.tags?.includes(t)));
  if (options.component && selected.length === 0) {
    const fromComponent = componentManifestSource(config, options.component);
    if (fromComponent) return [fromComponent];
    throw new StrataError(`no vendor source for component '${options.component}'`, {
      hint: `add it to ${file}, or write components/terraform/${options.component}/component.yaml`,
    });
  }
  if (all.length === 0) {
    throw new UsageError(`no vendor manifest at ${file}`, {
      hint: 'write vendor.yaml (or set vendor.base_path in atmos.yaml), or pass --component for a component.yaml',
    });
  }
  return selected;
}

/** Pulls every selected source into its targets; returns what was copied where. */
export async function vendorPull(config: StrataConfig, options: VendorPullOptions = {}): Promise<VendorPulled[]> {
  const pulled: VendorPulled[] = [];
  for (const source of selectSources(config, options)) pulled.push(...(await pullSource(config, source)));
  return pulled;
}

async function pullSource(config: StrataConfig, source: VendorSource): Promise<VendorPulled[]> {
  const data = { Component: source.component, Version: source.version ?? '' };
  const render = (text: string) => renderTemplate(text, data, { name: `vendor source ${source.component}` });
  const uri = render(source.source);
  const scratch = mkdtempSync(join(tmpdir(), 'strata-vendor-'));
  try {
    const root = await fetchSource(uri, dirname(source.file), scratch);
    const files = selectFiles(root, source);
    const targets = source.targets.length > 0 ? source.targets : [join('components', 'terraform', source.component)];
    return targets.map((rel) => {
      const target = resolve(config.basePath, render(rel));
      for (const file of files) {
        mkdirSync(dirname(join(target, file)), { recursive: true });
        copyFileSync(join(root, file), join(target, file));
      }
      return { component: source.component, source: uri, version: source.version, target, files: files.length };
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Files of the source to copy: included_paths (default everything) minus excluded_paths and .git. */
function selectFiles(root: string, source: VendorSource): string[] {
  const include = source.includedPaths.length > 0 ? source.includedPaths : ['**/*'];
  return globSync(include, {
    cwd: root,
    onlyFiles: true,
    dot: true,
    ignore: ['.git/**', ...source.excludedPaths],
  }).sort();
}

const UNSUPPORTED = /^(s3|gcs|oci|hg|http|https)(::|:\/\/)/;

/**
 * The folder holding the source: a local folder as it is, a git repository cloned into `scratch` (at `?ref=`),
 * with `//subdir` inside either.
 */
async function fetchSource(uri: string, base: string, scratch: string): Promise<string> {
  const scheme = UNSUPPORTED.exec(uri);
  if (scheme) {
    throw new StrataError(`vendor source '${uri}': the ${scheme[1]} scheme is not supported by strata`, {
      hint: 'strata pulls local folders (a path or file://) and git repositories (git::<url>?ref=<version>)',
    });
  }
  const git = uri.startsWith('git::') || /\.git(\/\/|\?|$)/.test(uri);
  const withoutScheme = uri.replace(/^git::/, '');
  const [location, query = ''] = withoutScheme.split('?', 2);
  const subdirAt = location.indexOf('//', location.indexOf('://') + 3);
  const repo = subdirAt > 0 ? location.slice(0, subdirAt) : location;
  const subdir = subdirAt > 0 ? location.slice(subdirAt + 2) : '';
  if (!git) {
    const folder = repo.startsWith('file://') ? fileURLToPath(repo) : resolve(base, repo);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new StrataError(`vendor source '${uri}': ${folder} is not a folder`);
    }
    return join(folder, subdir);
  }
  const ref = new URLSearchParams(query).get('ref');
  const url =
    repo.startsWith('file://') || /^[a-z]+:\/\//.test(repo) || repo.startsWith('/') ? repo : resolve(base, repo);
  const checkout = join(scratch, 'repo');
  await gitOrFail(['clone', '--quiet', url, checkout], uri);
  if (ref) await gitOrFail(['-c', 'advice.detachedHead=false', '-C', checkout, 'checkout', '--quiet', ref], uri);
  return join(checkout, subdir);
}

async function gitOrFail(args: string[], uri: string): Promise<void> {
  const result = await run('git', args, { stdio: 'capture' });
  if (result.exitCode !== 0) {
    throw new StrataError(`vendor source '${uri}': git ${args.includes('clone') ? 'clone' : 'checkout'} failed`, {
      details: result.stderr.trim(),
      hint: 'check the URL and the ref (a tag, branch or commit)',
    });
  }
}
