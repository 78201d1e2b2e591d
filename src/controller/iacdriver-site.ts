/**
 * An iac-driver site-config as the controller's source, resolved like iac-driver's SpecResolver: specs/<name>.yaml
 * with site defaults (identity.domain, config.timezone) filled in, identity.hostname defaulting to the name, the
 * posture postures/<access.posture or dev>.yaml, and each user's ssh_keys resolved from secrets.ssh_keys by name
 * (all keys when a user names none). Resolution errors keep iac-driver's codes: E200 spec, E201 posture, E202 key.
 * Everything is read into one snapshot, swapped whole on reload (SIGHUP).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPlainMap } from '../data/merge.ts';
import { parseYaml } from '../data/yaml.ts';
import { loadSiteConfig, type SiteConfig } from '../operator/siteconfig.ts';
import { parseAuthMethod } from './source.ts';
import type { NodeEntry, SpecSource } from './types.ts';

type Doc = Record<string, unknown>;

export type ResolveError = { code: 'E200' | 'E201' | 'E202'; status: 404; message: string };
export type Resolved = { ok: true; spec: Doc; posture: Doc } | ({ ok: false } & ResolveError);

interface Snapshot {
  site: SiteConfig;
  resolved: Map<string, Resolved>;
}

const notFound = (code: ResolveError['code'], message: string): Resolved => ({ ok: false, code, status: 404, message });

/** One spec resolved against the site-config (pure: the folder was read into `site`). */
export function resolveSpec(site: SiteConfig, name: string): Resolved {
  const file = join(site.dir, 'specs', `${name}.yaml`);
  if (!site.specs.includes(name) || !existsSync(file)) return notFound('E200', `Spec not found: ${name}`);
  const raw = parseYaml(readFileSync(file, 'utf8'), file);
  const spec: Doc = isPlainMap(raw) ? structuredClone(raw) : {};
  const identity: Doc = isPlainMap(spec.identity) ? { ...spec.identity } : {};
  if (identity.domain === undefined && site.defaults.domain !== undefined) identity.domain = site.defaults.domain;
  identity.hostname ??= name;
  spec.identity = identity;
  const config: Doc = isPlainMap(spec.config) ? { ...spec.config } : {};
  if (config.timezone === undefined && site.defaults.timezone !== undefined) {
    config.timezone = site.defaults.timezone;
    spec.config = config;
  }
  const access: Doc = isPlainMap(spec.access) ? { ...spec.access } : {};
  const postureName = typeof access.posture === 'string' ? access.posture : 'dev';
  const posture = site.postures[postureName];
  if (!posture) return notFound('E201', `Posture not found: ${postureName}`);
  const keys = isPlainMap(site.secrets.ssh_keys) ? (site.secrets.ssh_keys as Record<string, unknown>) : {};
  const users = Array.isArray(access.users) ? access.users : [];
  const resolvedUsers: Doc[] = [];
  for (const user of users) {
    const entry: Doc = isPlainMap(user) ? { ...user } : {};
    if (Array.isArray(entry.ssh_keys)) {
      const named: string[] = [];
      for (const key of entry.ssh_keys.map(String)) {
        if (typeof keys[key] !== 'string') return notFound('E202', `SSH key not found: ${key}`);
        named.push(keys[key] as string);
      }
      entry.ssh_keys = named;
    } else entry.ssh_keys = Object.values(keys).map(String);
    resolvedUsers.push(entry);
  }
  if (users.length > 0) access.users = resolvedUsers;
  spec.access = access;
  return { ok: true, spec, posture };
}

/** The posture's auth.method (default node_token: the safe choice when a posture names none). */
export function authMethodOf(posture: Doc, origin: string): NodeEntry['auth'] {
  const auth = isPlainMap(posture.auth) ? posture.auth.method : undefined;
  return parseAuthMethod(auth ?? 'node_token', origin);
}

export class IacDriverSite implements SpecSource {
  readonly dir: string;
  readonly #env: NodeJS.ProcessEnv;
  #snapshot: Snapshot | undefined;

  private constructor(dir: string, env: NodeJS.ProcessEnv) {
    this.dir = dir;
    this.#env = env;
  }

  static async open(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<IacDriverSite> {
    const site = new IacDriverSite(dir, env);
    await site.reload();
    return site;
  }

  get site(): SiteConfig {
    return (this.#snapshot as Snapshot).site;
  }

  /** The spec as iac-driver serves it, or the reason it cannot be. */
  resolved(name: string): Resolved {
    return this.#snapshot?.resolved.get(name) ?? notFound('E200', `Spec not found: ${name}`);
  }

  identities(): string[] {
    return [...(this.#snapshot?.site.specs ?? [])];
  }

  node(identity: string): NodeEntry | undefined {
    const resolved = this.resolved(identity);
    if (!resolved.ok) return undefined;
    const origin = join(this.dir, 'postures');
    return { identity, auth: authMethodOf(resolved.posture, origin), spec: resolved.spec, origin };
  }

  spec(identity: string): unknown | undefined {
    return this.node(identity)?.spec;
  }

  async reload(): Promise<void> {
    const site = await loadSiteConfig(this.dir, this.#env);
    const resolved = new Map<string, Resolved>();
    for (const name of site.specs) resolved.set(name, resolveSpec(site, name));
    this.#snapshot = { site, resolved };
  }
}
