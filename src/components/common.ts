/** Pieces every toolchain runner shares: Atmos file names, the subprocess environment, restrictions, file writes. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { StrataConfig } from '../config/types.ts';
import { parseHcl } from '../data/hcl.ts';
import type { ComponentInstance, Section } from '../data/instance.ts';
import { StrataError } from '../errors.ts';
import { SecretRef } from '../secrets/values.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { acquireFileLock } from '../util/lock.ts';
import { globalMasker, type Masker } from '../util/mask.ts';

/**
 * Atmos's file prefix: `<stack>-<component>` with `/` as `-`, e.g. stack `tenant1-ue2-dev` and component
 * `test/test-component-override` give `tenant1-ue2-dev-test-test-component-override`.
 */
export function contextPrefix(instance: Pick<ComponentInstance, 'name' | 'stack'>): string {
  return `${instance.stack}-${instance.name}`.replace(/\//g, '-');
}

export function terraformVarfileName(instance: Pick<ComponentInstance, 'name' | 'stack'>): string {
  return `${contextPrefix(instance)}.terraform.tfvars.json`;
}

export function terraformPlanfileName(instance: Pick<ComponentInstance, 'name' | 'stack'>): string {
  return `${contextPrefix(instance)}.planfile`;
}

export function packerVarfileName(instance: Pick<ComponentInstance, 'name' | 'stack'>): string {
  return `${contextPrefix(instance)}.packer.vars.json`;
}

/** The executable: the stack's `command:` > `components.<kind>.command` > the kind's usual tool. */
export function toolCommand(config: StrataConfig, instance: ComponentInstance, fallback: string): string {
  const fromStack = instance.description.command;
  if (typeof fromStack === 'string' && fromStack !== '') return fromStack;
  const fromConfig = config.components[instance.kind]?.command;
  return fromConfig && fromConfig !== '' ? fromConfig : fallback;
}

/** Environment values as Atmos exports them: scalars as text, maps and lists as JSON; null unsets. */
export function envValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  // Unresolved (a dry run): its masked form. Runs resolve secrets first (handover.ts).
  if (value instanceof SecretRef) return value.describe();
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/**
 * What strata adds to the inherited environment for a component's tool: the stack's `env:` section plus
 * ATMOS_BASE_PATH / ATMOS_CLI_CONFIG_PATH (scripts written for Atmos read them).
 */
export function componentEnv(config: StrataConfig, instance: ComponentInstance): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ATMOS_BASE_PATH: config.basePath,
    ATMOS_CLI_CONFIG_PATH: config.configDir,
  };
  for (const [key, value] of Object.entries(instance.description.env ?? {})) env[key] = envValue(value);
  return env;
}

/**
 * Terraform's environment. The machines this runs on export TF_CLI_CONFIG_FILE pointing at a missing file, which
 * makes every terraform command warn; a missing file is replaced by "" (no CLI config), an existing one is kept.
 */
export function terraformEnv(
  config: StrataConfig,
  instance: ComponentInstance,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { TF_IN_AUTOMATION: 'true' };
  if (base.CHECKPOINT_DISABLE === undefined) env.CHECKPOINT_DISABLE = '1';
  const cliConfig = base.TF_CLI_CONFIG_FILE;
  if (cliConfig !== undefined && cliConfig !== '' && !existsSync(expandHome(cliConfig))) env.TF_CLI_CONFIG_FILE = '';
  return { ...env, ...componentEnv(config, instance) };
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

export function section(value: unknown): Section {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Section) : {};
}

/** A nested settings value: `setting(instance, 'packer', 'template')` reads settings.packer.template. */
export function setting(instance: ComponentInstance, ...path: string[]): unknown {
  let current: unknown = instance.description.settings;
  for (const key of path) current = section(current)[key];
  return current;
}

// ---------------------------------------------------------------------------------------------------------------
// Restrictions (Atmos `checkComponentRestrictions`), checked before any file is written or process started.

const ABSTRACT_BLOCKED: Record<string, string[]> = {
  terraform: ['plan', 'apply', 'deploy', 'workspace'],
  packer: ['build'],
  kubernetes: ['apply', 'delete', 'diff', 'wait'],
  ansible: ['playbook'],
};
const LOCKED_BLOCKED: Record<string, string[]> = {
  terraform: ['apply', 'deploy', 'destroy', 'import', 'state', 'taint', 'untaint'],
  packer: ['build'],
  kubernetes: ['apply', 'delete'],
  ansible: ['playbook'],
};

export function checkRestrictions(instance: ComponentInstance, verb: string): void {
  if (instance.abstract && ABSTRACT_BLOCKED[instance.kind]?.includes(verb)) {
    throw new StrataError('abstract component cannot be provisioned', {
      details: `component '${instance.name}' cannot be provisioned because it's marked as abstract (metadata.type: abstract)`,
      hint: `abstract components are bases for others to inherit (metadata.inherits); run '${verb}' on a real component`,
    });
  }
  if (instance.locked && LOCKED_BLOCKED[instance.kind]?.includes(verb)) {
    throw new StrataError('locked component cannot be provisioned', {
      details: `component '${instance.name}' cannot be modified (metadata.locked: true)`,
      hint: `remove metadata.locked from '${instance.name}' in stack '${instance.stack}' to change it`,
    });
  }
}

/** Atmos skips disabled components with a notice and exit code 0. */
export function disabledNotice(instance: ComponentInstance): string {
  return `Component '${instance.name}' in stack '${instance.stack}' is not enabled and skipped (metadata.enabled: false)`;
}

export function requireComponentDir(instance: ComponentInstance): void {
  if (!existsSync(instance.componentDir)) {
    const folder = instance.description.component || instance.name;
    throw new StrataError(`the folder of ${instance.kind} component '${instance.name}' does not exist`, {
      details: `expected ${instance.componentDir}`,
      hint: `create it, or point metadata.component at an existing folder (now '${folder}')`,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Files

const folderQueues = new Map<string, Promise<unknown>>();

/** Where the cross-process lock of a component folder lives: outside it, so locking never changes its files. */
function folderLockPath(dir: string): string {
  const key = createHash('sha1').update(resolve(dir)).digest('hex').slice(0, 20);
  return join(tmpdir(), 'strata-locks', `folder-${key}.lock`);
}

/**
 * Runs `task` when no other task holds `dir`: runs in one Terraform component folder share `.terraform/`
 * (selected workspace, backend settings) and backend.tf.json, so they must not overlap. Tasks of this process
 * queue; another strata process holding the folder (util/lock) is an error naming it.
 */
export async function withFolderLock<T>(dir: string, task: () => Promise<T>): Promise<T> {
  const previous = folderQueues.get(dir) ?? Promise.resolve();
  const current = previous
    .catch(() => undefined)
    .then(async () => {
      const release = await acquireFileLock(folderLockPath(dir), { command: `strata (component folder ${dir})` });
      try {
        return await task();
      } finally {
        await release();
      }
    });
  const settled = current.catch(() => undefined);
  folderQueues.set(dir, settled);
  try {
    return await current;
  } finally {
    if (folderQueues.get(dir) === settled) folderQueues.delete(dir);
  }
}

/** Writes a file of a component run atomically (util/fs); a failure says what to fix. */
export async function writeComponentFile(path: string, content: string, mode = 0o644): Promise<void> {
  try {
    await writeFileAtomic(path, content, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StrataError(`cannot write ${path}${code ? ` (${code})` : ''}`, {
      hint:
        code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'the component folder must be writable by strata (var files are written next to the code)'
          : 'check that the folder exists and that the disk is not full',
      cause: error,
    });
  }
}

export function json(data: unknown): string {
  return `${JSON.stringify(data, null, 2)}\n`;
}

export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Sensitive variables: values of variables declared `sensitive = true` are registered with the masker.

const declarationCache = new Map<string, Promise<Set<string>>>();

/** Names of variables declared sensitive in a folder's HCL files (`.tf`, `.pkr.hcl`) and their JSON forms. */
export function sensitiveVariables(dir: string, suffixes: string[]): Promise<Set<string>> {
  const key = `${dir}\u0000${suffixes.join(',')}`;
  let cached = declarationCache.get(key);
  if (!cached) {
    cached = readSensitive(dir, suffixes);
    declarationCache.set(key, cached);
  }
  return cached;
}

async function readSensitive(dir: string, suffixes: string[]): Promise<Set<string>> {
  const names = new Set<string>();
  const files = await readdir(dir).catch(() => [] as string[]);
  for (const file of files.filter((f) => suffixes.some((s) => f.endsWith(s))).sort()) {
    const text = await readFile(join(dir, file), 'utf8').catch(() => '');
    // Most files declare nothing sensitive: skip them without the HCL parser (a wasm module, slow to start).
    if (!text.includes('sensitive')) continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = file.endsWith('.json') ? (JSON.parse(text) as Record<string, unknown>) : await parseHcl(text, file);
    } catch {
      // The tool itself reports syntax errors with better positions; masking what parses is still worthwhile.
      continue;
    }
    for (const [name, blocks] of Object.entries(section(parsed.variable))) {
      const list = Array.isArray(blocks) ? blocks : [blocks];
      if (list.some((b) => section(b).sensitive === true)) names.add(name);
    }
  }
  return names;
}

/** Registers every leaf of a value (and the value as JSON) so no form of it is printed. */
export function maskValue(value: unknown, masker: Masker = globalMasker): void {
  // A SecretRef registers its plaintext itself, when it is read.
  if (value === null || value === undefined || value instanceof SecretRef) return;
  if (typeof value === 'object') {
    masker.add(JSON.stringify(value));
    for (const item of Array.isArray(value) ? value : Object.values(value)) maskValue(item, masker);
    return;
  }
  masker.add(String(value));
}

export async function maskSensitiveVars(
  dir: string,
  vars: Section,
  suffixes: string[],
  masker: Masker = globalMasker,
): Promise<void> {
  for (const name of await sensitiveVariables(dir, suffixes)) maskValue(vars[name], masker);
}
