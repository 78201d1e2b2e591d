/**
 * Atmos's `stores:` (atmos.yaml) read by `!store` and `!store.get`. strata reads two kinds of store that work
 * without a cloud account: `file` (a YAML or JSON file of keys and values) and `postgres` (a table of keys and
 * JSON values). Atmos's cloud and server stores (SSM, Key Vault, Secret Manager, Redis, Artifactory) are errors
 * naming the store and what strata supports.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { StrataConfig } from '../config/types.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { parseYaml } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { didYouMean } from '../util/suggest.ts';

/** Store types strata reads. */
export const STORE_TYPES = ['file', 'postgres'] as const;

/** Atmos's store types strata knows of but does not read. */
const ATMOS_ONLY_TYPES = [
  'aws-ssm-parameter-store',
  'azure-key-vault',
  'google-secret-manager',
  'gsm',
  'redis',
  'artifactory',
];

/** A value was found (`found: true`) or the key is absent. */
export type StoreRead = { found: true; value: unknown } | { found: false };

interface StoreSpec {
  name: string;
  type: string;
  options: PlainMap;
}

/** The configured store, or an error naming the stores there are. */
function storeSpec(config: StrataConfig, name: string): StoreSpec {
  const stores = isPlainMap(config.raw.stores) ? config.raw.stores : {};
  const entry = stores[name];
  if (!isPlainMap(entry)) {
    const names = Object.keys(stores);
    throw new StrataError(`no store '${name}' in the configuration`, {
      hint:
        didYouMean(name, names) ??
        (names.length ? `stores: ${names.join(', ')}` : 'declare it under stores: in atmos.yaml'),
    });
  }
  const type = String(entry.type ?? '');
  return { name, type, options: isPlainMap(entry.options) ? entry.options : {} };
}

/**
 * The key a component value is stored under: the store's `prefix`, the stack split at its `stack_delimiter`, the
 * component and the key, joined with `/` (Atmos's layout).
 */
export function componentKey(options: PlainMap, stack: string, component: string, key: string): string {
  const delimiter = typeof options.stack_delimiter === 'string' ? options.stack_delimiter : '';
  const stackParts = delimiter ? stack.split(delimiter) : [stack];
  const prefix = typeof options.prefix === 'string' && options.prefix !== '' ? [options.prefix] : [];
  return [...prefix, ...stackParts, component, key].join('/').replace(/\/{2,}/g, '/');
}

/** `!store <store> <stack> <component> <key>`: a value written for a component. */
export function readComponentValue(
  config: StrataConfig,
  store: string,
  stack: string,
  component: string,
  key: string,
): Promise<StoreRead> {
  const spec = storeSpec(config, store);
  return readKey(config, spec, componentKey(spec.options, stack, component, key));
}

/** `!store.get <store> <key>`: any key (the store's prefix applies). */
export function readStoreKey(config: StrataConfig, store: string, key: string): Promise<StoreRead> {
  const spec = storeSpec(config, store);
  const prefix = typeof spec.options.prefix === 'string' && spec.options.prefix ? `${spec.options.prefix}/` : '';
  return readKey(config, spec, `${prefix}${key}`);
}

function readKey(config: StrataConfig, spec: StoreSpec, key: string): Promise<StoreRead> {
  if (spec.type === 'file') return Promise.resolve(readFileStore(config, spec, key));
  if (spec.type === 'postgres') return readPostgresStore(spec, key);
  const known = ATMOS_ONLY_TYPES.includes(spec.type);
  throw new StrataError(
    `store '${spec.name}' has type '${spec.type || '(none)'}', which strata ${known ? 'does not read' : 'does not know'}`,
    {
      hint: `strata reads stores of type ${STORE_TYPES.join(' and ')} (docs/stacks.md, "Stores")${
        known ? '; read the value with !terraform.state, !secret or !env instead' : ''
      }`,
    },
  );
}

/** `type: file`, `options.path`: a YAML or JSON map of keys to values (relative to base_path). */
function readFileStore(config: StrataConfig, spec: StoreSpec, key: string): StoreRead {
  const path = typeof spec.options.path === 'string' ? spec.options.path : '';
  if (!path) throw new StrataError(`store '${spec.name}' (file) needs options.path`);
  const file = isAbsolute(path) ? path : join(config.basePath, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { found: false };
  }
  const data = parseYaml(text, file);
  if (!isPlainMap(data)) throw new StrataError(`store '${spec.name}': ${file} is not a map of keys to values`);
  return Object.hasOwn(data, key) ? { found: true, value: data[key] } : { found: false };
}

/**
 * `type: postgres`: `options.url` (or the variable `options.url_env` names, default STRATA_STORE_URL) and
 * `options.table` (default strata_store) with columns `key text primary key, value jsonb`.
 */
async function readPostgresStore(spec: StoreSpec, key: string): Promise<StoreRead> {
  const urlEnv = typeof spec.options.url_env === 'string' ? spec.options.url_env : 'STRATA_STORE_URL';
  const url = typeof spec.options.url === 'string' ? spec.options.url : process.env[urlEnv];
  if (!url) {
    throw new StrataError(`store '${spec.name}' (postgres) has no connection string`, {
      hint: `set options.url, or the environment variable ${urlEnv}`,
    });
  }
  const table = typeof spec.options.table === 'string' ? spec.options.table : 'strata_store';
  // pg loads only when a pg state or store is read: it costs ~0.1 s at start-up.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const result = await client.query<{ value: unknown }>(
      `SELECT value FROM ${table.split('.').map(pg.escapeIdentifier).join('.')} WHERE key = $1`,
      [key],
    );
    return result.rows.length === 0 ? { found: false } : { found: true, value: result.rows[0].value };
  } catch (error) {
    // 42P01 undefined_table: nothing was ever written.
    if ((error as { code?: string }).code === '42P01') return { found: false };
    throw new StrataError(`cannot read store '${spec.name}' (postgres)`, {
      details: (error as Error).message,
      hint: 'check options.url (add ?sslmode=disable for a server without TLS)',
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}
