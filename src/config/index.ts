/**
 * atmos.yaml / strata.yaml: discovery, defaults, ATMOS_* environment overrides and path resolution, following Atmos
 * (notes/atmos-reference.md 1.1): --config replaces discovery; ATMOS_CLI_CONFIG_PATH disables the parent and git-root
 * search; otherwise the working directory, then its parents, then the git root.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { DEFAULT_LIMITS, LimitError, readFileBounded } from '../data/limits.ts';
import { type ListMergeStrategy, mergeLayers } from '../data/merge.ts';
import { parseYaml } from '../data/yaml.ts';
import { StrataError, UsageError } from '../errors.ts';
import type { ComponentKindConfig, LoadConfigOptions, StrataConfig, TemplatesConfig } from './types.ts';

export type { LoadConfigOptions, StrataConfig } from './types.ts';

export const CONFIG_FILE_NAMES = ['atmos.yaml', 'strata.yaml', '.atmos.yaml', 'atmos.yml', 'strata.yml'];
export const COMPONENT_KINDS = ['terraform', 'helmfile', 'packer', 'ansible', 'kubernetes'] as const;

const DEFAULT_COMMANDS: Record<string, string> = {
  terraform: 'terraform',
  helmfile: 'helmfile',
  packer: 'packer',
  ansible: 'ansible-playbook',
  kubernetes: 'kubectl',
};

/** Atmos's built-in configuration when no file is found (pkg/config/default.go). */
const FALLBACK_CONFIG = {
  base_path: '.',
  components: {
    terraform: {
      base_path: 'components/terraform',
      apply_auto_approve: false,
      deploy_run_init: true,
      init_run_reconfigure: true,
      auto_generate_backend_file: true,
    },
    helmfile: { base_path: 'components/helmfile' },
    packer: { base_path: 'components/packer' },
    ansible: { base_path: 'components/ansible' },
    kubernetes: { base_path: 'components/kubernetes' },
  },
  stacks: {
    base_path: 'stacks',
    included_paths: ['orgs/**/*'],
    excluded_paths: ['**/_defaults.yaml'],
    name_pattern: '{tenant}-{environment}-{stage}',
  },
  workflows: { base_path: 'stacks/workflows' },
  templates: { settings: { enabled: true, sprig: { enabled: true }, gomplate: { enabled: true } } },
};

/** Keys every configuration has, so `describe config` always shows them. */
const DEFAULTS = {
  base_path: '',
  components: {
    terraform: {
      base_path: '',
      apply_auto_approve: false,
      auto_generate_backend_file: false,
      command: 'terraform',
      init: { pass_vars: false },
      plan: { skip_planfile: false },
      workspaces_enabled: true,
    },
    helmfile: { base_path: '', command: '' },
    packer: { base_path: '', command: '' },
    ansible: { base_path: '', command: '' },
    kubernetes: { base_path: '', command: '' },
  },
  stacks: {
    base_path: '',
    included_paths: [],
    excluded_paths: [],
    name_pattern: '',
    name_template: '',
    inherit: { metadata: true },
  },
  workflows: { base_path: '' },
  logs: { file: '/dev/stderr', level: 'Warning' },
  settings: { list_merge_strategy: '' },
  schemas: {},
  templates: {
    settings: {
      enabled: false,
      evaluations: 1,
      delimiters: ['{{', '}}'],
      sprig: { enabled: true },
      gomplate: { enabled: true },
    },
  },
  describe: { component: { filter: 'full' }, provenance: false },
};

function findConfigFile(dir: string): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * The top of the git work tree holding `cwd`: the nearest folder (physical path, as `git rev-parse --show-toplevel`
 * prints it) with a `.git` entry, a folder or a worktree's file. Atmos finds it the same way (go-git's DetectDotGit);
 * walking up costs a few stat calls where running git cost a process on every command.
 */
function gitRoot(cwd: string): string | undefined {
  let dir: string;
  try {
    dir = realpathSync(cwd);
  } catch {
    return undefined;
  }
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isFalse(value: string | undefined): boolean {
  return value !== undefined && /^(false|0|no|off)$/i.test(value.trim());
}

/** The config files to merge, lowest precedence first. */
export function discoverConfigFiles(options: LoadConfigOptions = {}): string[] {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const explicit = options.configPath ?? env.ATMOS_CONFIG ?? undefined;
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) {
      throw new UsageError(`config file or folder '${explicit}' does not exist`, { hint: `looked for ${path}` });
    }
    if (statSync(path).isDirectory()) {
      const file = findConfigFile(path);
      if (!file) throw new UsageError(`no ${CONFIG_FILE_NAMES.slice(0, 2).join(' or ')} in '${explicit}'`);
      return [file];
    }
    return [path];
  }
  const files: string[] = [];
  const local = findConfigFile(cwd);
  const cliConfigPath = env.ATMOS_CLI_CONFIG_PATH;
  if (cliConfigPath) {
    if (local) files.push(local);
    const dir = resolve(cwd, cliConfigPath);
    const file = statSync(dir, { throwIfNoEntry: false })?.isFile() ? dir : findConfigFile(dir);
    if (!file) throw new UsageError(`ATMOS_CLI_CONFIG_PATH='${cliConfigPath}' holds no atmos.yaml or strata.yaml`);
    if (file !== local) files.push(file);
    return files;
  }
  if (local) return [local];
  for (let dir = dirname(cwd); ; dir = dirname(dir)) {
    const file = findConfigFile(dir);
    if (file) return [file];
    if (dirname(dir) === dir) break;
  }
  if (!isFalse(env.ATMOS_GIT_ROOT_BASEPATH)) {
    const root = gitRoot(cwd);
    const file = root ? findConfigFile(root) : undefined;
    if (file) return [file];
  }
  return [];
}

function readConfigFile(path: string): Record<string, unknown> {
  let source: string;
  try {
    source = readFileBounded(path, DEFAULT_LIMITS.maxFileBytes, `config file ${path}`);
  } catch (error) {
    if (error instanceof LimitError) throw error;
    throw new StrataError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  const data = parseYaml(source, path);
  if (data === undefined || data === null) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new StrataError(`config file ${path} must be a YAML map`, { location: { file: path, line: 1 } });
  }
  return data as Record<string, unknown>;
}

type Raw = Record<string, unknown>;
const section = (value: unknown): Raw =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : {};
const text = (value: unknown): string => (value === undefined || value === null ? '' : String(value));
const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value ? [String(value)] : []);
const csv = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** ATMOS_* variables that override keys of the file (Atmos's processEnvVars). */
function environmentOverrides(env: NodeJS.ProcessEnv): Raw {
  const overrides: Raw = {};
  const set = (path: string[], value: unknown) => {
    let node = overrides;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Raw;
    node[path[path.length - 1]] = value;
  };
  const pairs: Array<[string, string[], (v: string) => unknown]> = [
    ['ATMOS_BASE_PATH', ['base_path'], String],
    ['ATMOS_STACKS_BASE_PATH', ['stacks', 'base_path'], String],
    ['ATMOS_STACKS_INCLUDED_PATHS', ['stacks', 'included_paths'], csv],
    ['ATMOS_STACKS_EXCLUDED_PATHS', ['stacks', 'excluded_paths'], csv],
    ['ATMOS_STACKS_NAME_PATTERN', ['stacks', 'name_pattern'], String],
    ['ATMOS_STACKS_NAME_TEMPLATE', ['stacks', 'name_template'], String],
    ['ATMOS_WORKFLOWS_BASE_PATH', ['workflows', 'base_path'], String],
    ['ATMOS_SETTINGS_LIST_MERGE_STRATEGY', ['settings', 'list_merge_strategy'], String],
    ['ATMOS_SCHEMAS_JSONSCHEMA_BASE_PATH', ['schemas', 'jsonschema', 'base_path'], String],
    ['ATMOS_SCHEMAS_OPA_BASE_PATH', ['schemas', 'opa', 'base_path'], String],
    ['ATMOS_LOGS_LEVEL', ['logs', 'level'], String],
    ['ATMOS_LOGS_FILE', ['logs', 'file'], String],
    ['ATMOS_TEMPLATES_SETTINGS_ENABLED', ['templates', 'settings', 'enabled'], (v) => !isFalse(v)],
    ['ATMOS_DESCRIBE_COMPONENT_FILTER', ['describe', 'component', 'filter'], String],
    ['ATMOS_DESCRIBE_PROVENANCE', ['describe', 'provenance'], (v) => !isFalse(v)],
  ];
  for (const kind of COMPONENT_KINDS) {
    const upper = kind.toUpperCase();
    pairs.push(
      [`ATMOS_COMPONENTS_${upper}_BASE_PATH`, ['components', kind, 'base_path'], String],
      [`ATMOS_COMPONENTS_${upper}_COMMAND`, ['components', kind, 'command'], String],
    );
  }
  pairs.push(
    [
      'ATMOS_COMPONENTS_TERRAFORM_APPLY_AUTO_APPROVE',
      ['components', 'terraform', 'apply_auto_approve'],
      (v) => !isFalse(v),
    ],
    ['ATMOS_COMPONENTS_TERRAFORM_DEPLOY_RUN_INIT', ['components', 'terraform', 'deploy_run_init'], (v) => !isFalse(v)],
    [
      'ATMOS_COMPONENTS_TERRAFORM_INIT_RUN_RECONFIGURE',
      ['components', 'terraform', 'init_run_reconfigure'],
      (v) => !isFalse(v),
    ],
    [
      'ATMOS_COMPONENTS_TERRAFORM_AUTO_GENERATE_BACKEND_FILE',
      ['components', 'terraform', 'auto_generate_backend_file'],
      (v) => !isFalse(v),
    ],
  );
  for (const [name, path, convert] of pairs) {
    const value = env[name];
    if (value !== undefined && value !== '') set(path, convert(value));
  }
  return overrides;
}

/**
 * base_path rules (Atmos >= 1.210): absolute as is; `.`/`./x`/`..` relative to the config file's folder when written
 * in the file, to the working directory when given by flag or environment; a bare `x` or empty value is taken from
 * the git root when there is one (unless ATMOS_GIT_ROOT_BASEPATH=false), else from the config folder.
 */
function resolveBasePath(
  written: string,
  fromRuntime: boolean,
  configDir: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): string {
  if (isAbsolute(written)) return resolve(written);
  const relativeMarker = written === '.' || written === '..' || written.startsWith('./') || written.startsWith('../');
  if (relativeMarker) return resolve(fromRuntime ? cwd : configDir, written);
  if (fromRuntime) return resolve(cwd, written);
  if (!isFalse(env.ATMOS_GIT_ROOT_BASEPATH)) {
    const root = gitRoot(configDir);
    if (root && existsSync(join(root, written))) return resolve(root, written);
  }
  return resolve(configDir, written);
}

function joinPath(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

function templatesConfig(raw: Raw): TemplatesConfig {
  const settings = section(section(raw.templates).settings);
  const delimiters = list(settings.delimiters);
  const evaluations = Number(settings.evaluations ?? 1);
  return {
    enabled: settings.enabled === true,
    evaluations: Number.isInteger(evaluations) && evaluations > 0 ? evaluations : 1,
    delimiters: delimiters.length === 2 ? [delimiters[0], delimiters[1]] : ['{{', '}}'],
    sprigEnabled: section(settings.sprig).enabled !== false,
    gomplateEnabled: section(settings.gomplate).enabled !== false,
    ignoreMissingTemplateValues: settings.ignore_missing_template_values === true,
  };
}

function listMergeStrategy(value: unknown, file: string): ListMergeStrategy {
  const strategy = text(value) || 'replace';
  if (strategy === 'replace' || strategy === 'append' || strategy === 'merge') return strategy;
  throw new StrataError(`invalid settings.list_merge_strategy '${strategy}' in ${file}`, {
    hint: 'use one of: replace, append, merge',
  });
}

/** Atmos's limit on nested atmos.yaml imports (MaximumImportLvL). */
const MAX_CONFIG_IMPORT_DEPTH = 10;

/**
 * A config file with what it pulls in, lowest precedence first: every YAML file under `atmos.d/` and `.atmos.d/` next
 * to it (by depth, then name), then its `import:` entries in order (paths and globs relative to its folder, each with
 * its own imports), then the file itself, which wins over everything it imports (Atmos re-applies it last).
 */
function expandConfigFile(path: string, depth = 0, seen: string[] = []): Array<{ path: string; data: Raw }> {
  if (seen.includes(path)) {
    throw new StrataError(`atmos.yaml import cycle: ${[...seen, path].join(' -> ')}`, {
      location: { file: path },
    });
  }
  const data = readConfigFile(path);
  const dir = dirname(path);
  const out: Array<{ path: string; data: Raw }> = [];
  if (depth === 0) for (const file of configFolderFiles(dir)) out.push(...expandConfigFile(file, 1, [path]));
  const imports = data.import === undefined || data.import === null ? [] : list(data.import);
  if (imports.length > 0 && depth >= MAX_CONFIG_IMPORT_DEPTH) {
    throw new StrataError(`atmos.yaml imports nest deeper than ${MAX_CONFIG_IMPORT_DEPTH} levels at ${path}`, {
      location: { file: path },
    });
  }
  for (const entry of imports) {
    for (const file of resolveConfigImport(entry, path))
      out.push(...expandConfigFile(file, depth + 1, [...seen, path]));
  }
  const { import: _imports, ...own } = data;
  out.push({ path, data: own });
  return out;
}

/** `atmos.d/**` and `.atmos.d/**` YAML files beside a config file, shallow ones first, then by name. */
function configFolderFiles(dir: string): string[] {
  const files: string[] = [];
  for (const folder of ['atmos.d', '.atmos.d']) {
    const root = join(dir, folder);
    if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) continue;
    const found = globSync(['**/*.yaml', '**/*.yml'], { cwd: root, onlyFiles: true, dot: false });
    found.sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
    files.push(...found.map((f) => join(root, f)));
  }
  return files;
}

function resolveConfigImport(entry: string, importer: string): string[] {
  const where = { location: { file: importer } };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || /^[a-z0-9]+::/i.test(entry)) {
    throw new StrataError(`atmos.yaml import '${entry}' in ${importer}: remote imports are not supported by strata`, {
      ...where,
      hint: 'download the file next to atmos.yaml and import it by its path',
    });
  }
  const dir = dirname(importer);
  if (/[*?[{]/.test(entry)) {
    return globSync([entry], { cwd: dir, absolute: true, onlyFiles: true })
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  }
  const path = resolve(dir, entry);
  for (const candidate of [path, `${path}.yaml`, `${path}.yml`])
    if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return [candidate];
  throw new StrataError(`atmos.yaml import '${entry}' in ${importer} not found`, {
    ...where,
    hint: `looked for ${path} (paths are relative to the importing file's folder)`,
  });
}

export function loadConfig(options: LoadConfigOptions = {}): StrataConfig {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const discovered = discoverConfigFiles(options);
  const expanded = discovered.flatMap((file) => expandConfigFile(file));
  const configFiles = expanded.map((layer) => layer.path);
  const fileLayers = expanded.map((layer) => layer.data);
  const fromFiles = configFiles.length > 0 ? mergeLayers(fileLayers) : FALLBACK_CONFIG;
  const envOverrides = environmentOverrides(env);
  const raw = mergeLayers([DEFAULTS, fromFiles, envOverrides]) as Raw;
  const configDir = configFiles.length > 0 ? dirname(configFiles[configFiles.length - 1]) : cwd;

  const flagBasePath = options.basePath;
  const runtimeBasePath = flagBasePath ?? (envOverrides.base_path as string | undefined);
  const basePathAsWritten = runtimeBasePath ?? text(raw.base_path);
  const basePath = resolveBasePath(basePathAsWritten, runtimeBasePath !== undefined, configDir, cwd, env);
  if (flagBasePath !== undefined) raw.base_path = flagBasePath;

  const componentsRaw = section(raw.components);
  const components: Record<string, ComponentKindConfig> = {};
  for (const kind of new Set([...COMPONENT_KINDS, ...Object.keys(componentsRaw)])) {
    const kindRaw = section(componentsRaw[kind]);
    const kindBase = text(kindRaw.base_path);
    components[kind] = {
      basePath: joinPath(basePath, kindBase),
      relativeBasePath: join(basePathAsWritten || '.', kindBase),
      command: text(kindRaw.command) || DEFAULT_COMMANDS[kind] || kind,
      raw: kindRaw,
    };
  }

  const stacksRaw = section(raw.stacks);
  const stacksBase = joinPath(basePath, text(stacksRaw.base_path));
  const schemasRaw = section(raw.schemas);
  const label = configFiles[configFiles.length - 1] ?? 'the built-in configuration';

  return {
    configFiles,
    configDir,
    basePath,
    basePathAsWritten,
    components,
    stacks: {
      basePath: stacksBase,
      includedPaths: list(stacksRaw.included_paths),
      excludedPaths: list(stacksRaw.excluded_paths),
      namePattern: text(stacksRaw.name_pattern),
      nameTemplate: text(stacksRaw.name_template),
      inheritMetadata: section(stacksRaw.inherit).metadata !== false,
    },
    workflows: { basePath: joinPath(basePath, text(section(raw.workflows).base_path)) },
    schemas: {
      jsonschemaBasePath: joinPath(basePath, text(section(schemasRaw.jsonschema).base_path)),
      opaBasePath: joinPath(basePath, text(section(schemasRaw.opa).base_path)),
      manifest: text(section(schemasRaw.atmos).manifest) || undefined,
    },
    templates: templatesConfig(raw),
    listMergeStrategy: listMergeStrategy(
      section(raw.settings).list_merge_strategy,
      // The environment wins over the file: name the source the bad value came from.
      env.ATMOS_SETTINGS_LIST_MERGE_STRATEGY ? 'ATMOS_SETTINGS_LIST_MERGE_STRATEGY' : label,
    ),
    raw,
  };
}

/** `describe config`: the merged configuration plus the absolute paths strata computed from it. */
export function describeConfig(config: StrataConfig): Record<string, unknown> {
  const paths: Record<string, unknown> = {
    basePathAbsolute: config.basePath,
    stacksBaseAbsolutePath: config.stacks.basePath,
    includeStackAbsolutePaths: config.stacks.includedPaths.map((p) => joinPath(config.stacks.basePath, p)),
    excludeStackAbsolutePaths: config.stacks.excludedPaths.map((p) => joinPath(config.stacks.basePath, p)),
  };
  for (const [kind, kindConfig] of Object.entries(config.components))
    paths[`${kind}DirAbsolutePath`] = kindConfig.basePath;
  paths.workflowsDirAbsolutePath = config.workflows.basePath;
  paths.cli_config_path = config.configDir;
  paths.config_files = config.configFiles;
  return withAtmosZeroValues({ ...config.raw, ...paths });
}

/**
 * Atmos prints false for `deploy_run_init` and `init_run_reconfigure` when the configuration omits them (its zero
 * values). strata shows the same, while its runner keeps initialising before deploy and reconfiguring unless the
 * file sets them to false (docs/configuration.md).
 */
function withAtmosZeroValues(described: Record<string, unknown>): Record<string, unknown> {
  const components = section(described.components);
  const terraform = section(components.terraform);
  const shown = (key: string) => (key in terraform ? terraform[key] : false);
  return {
    ...described,
    components: {
      ...components,
      terraform: {
        ...terraform,
        deploy_run_init: shown('deploy_run_init'),
        init_run_reconfigure: shown('init_run_reconfigure'),
      },
    },
  };
}

/** Where operator manifests live: `operator.manifests_path` in atmos.yaml/strata.yaml, default <stacks base>/manifests. */
export function manifestsDir(config: StrataConfig): string {
  const operator = (config.raw.operator ?? {}) as Record<string, unknown>;
  const configured = typeof operator.manifests_path === 'string' ? operator.manifests_path : undefined;
  if (configured) return isAbsolute(configured) ? configured : resolve(config.basePath, configured);
  return join(config.stacks.basePath, 'manifests');
}
