/** The effective configuration: atmos.yaml / strata.yaml after discovery, defaults and ATMOS_* overrides. */
export type ListMergeStrategy = 'replace' | 'append' | 'merge';

export interface ComponentKindConfig {
  /** Absolute folder that holds this kind's components (base_path joined with components.<kind>.base_path). */
  basePath: string;
  /** base_path as written, joined with the kind's base_path: Atmos prints this in describe stacks' component_path. */
  relativeBasePath: string;
  /** Executable to run: `tofu`/`terraform`, `packer`, `kubectl`, `ansible-playbook`, ... */
  command: string;
  /** The kind's raw section from the config file (tool-specific settings such as auto_generate_backend_file). */
  raw: Record<string, unknown>;
}

export interface TemplatesConfig {
  enabled: boolean;
  evaluations: number;
  delimiters: [string, string];
  sprigEnabled: boolean;
  gomplateEnabled: boolean;
  ignoreMissingTemplateValues: boolean;
}

export interface StrataConfig {
  /** Files merged to make this configuration, lowest precedence first (empty when built-in defaults were used). */
  configFiles: string[];
  /** Folder of the highest-precedence config file (or the working directory). */
  configDir: string;
  /** Absolute base path. */
  basePath: string;
  /** base_path as written in the file or flag (Atmos prints paths relative to it). */
  basePathAsWritten: string;
  components: Record<string, ComponentKindConfig>;
  stacks: {
    basePath: string;
    includedPaths: string[];
    excludedPaths: string[];
    namePattern: string;
    nameTemplate: string;
    inheritMetadata: boolean;
  };
  workflows: { basePath: string };
  schemas: { jsonschemaBasePath: string; opaBasePath: string; manifest?: string };
  templates: TemplatesConfig;
  listMergeStrategy: ListMergeStrategy;
  /** The whole merged configuration object, as `describe config` prints it (with defaults filled in). */
  raw: Record<string, unknown>;
}

export interface LoadConfigOptions {
  /** Working directory for discovery (default: process.cwd()). */
  cwd?: string;
  /** `--config`: a config file, or a folder holding atmos.yaml / strata.yaml. */
  configPath?: string;
  /** `--base-path`: overrides base_path; relative to cwd. */
  basePath?: string;
  /** Environment for ATMOS_* overrides (default: process.env). */
  env?: NodeJS.ProcessEnv;
}
