/**
 * An iac-driver site-config folder (seed 001) as the operator's configuration, read the way iac-driver's
 * ConfigResolver reads it: site.yaml `defaults`, secrets.yaml (or SOPS-encrypted secrets.yaml.enc), presets/,
 * postures/, specs/ and manifests/ (non-recursive `*.yaml`), and the target host from nodes/<host>.yaml (a PVE node)
 * or hosts/<host>.yaml (SSH only). A host's node file becomes the StackContext the operator runs against, so no
 * atmos.yaml is needed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { isPlainMap } from '../data/merge.ts';
import { parseYaml } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { decryptSops } from '../secrets/sops.ts';
import { globalMasker } from '../util/mask.ts';
import { didYouMean } from '../util/suggest.ts';
import type { StackContext } from './context.ts';
import type { Manifest } from './manifest.ts';

type Doc = Record<string, unknown>;

export interface SiteConfig {
  dir: string;
  defaults: Doc;
  /** Decrypted secrets (api_tokens, passwords, ssh_keys, auth); `{}` when there are none. */
  secrets: Doc;
  presets: Record<string, Doc>;
  postures: Record<string, Doc>;
  /** Spec names (stems of specs/*.yaml), sorted. */
  specs: string[];
  manifestsDir: string;
}

/** Where the target host came from: nodes/ (a PVE node with an API) or hosts/ (SSH only, before PVE). */
export interface SiteHost {
  name: string;
  kind: 'node' | 'host';
  file: string;
  /** PVE node name (`node:` key, default the file name). */
  node: string;
  apiEndpoint?: string;
  datastore?: string;
  sshHost?: string;
  hostUser?: string;
  data: Doc;
}

/**
 * The site-config folder: --site-config, else $HOMESTAK_SITE_CONFIG, else $HOMESTAK_ROOT/config (HOMESTAK_ROOT
 * defaults to the home folder), as iac-driver finds it.
 */
export function siteConfigDir(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.HOMESTAK_ROOT || env.HOME || homedir();
  const dir = resolve(explicit ?? (env.HOMESTAK_SITE_CONFIG || join(root, 'config')));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new StrataError(`config not found at ${dir}`, {
      hint: 'pass --site-config <dir>, or set HOMESTAK_ROOT (the site-config is $HOMESTAK_ROOT/config)',
    });
  }
  return dir;
}

function readYamlFile(file: string): Doc {
  const value = parseYaml(readFileSync(file, 'utf8'), file);
  if (value === null || value === undefined) return {};
  if (!isPlainMap(value)) throw new StrataError(`${file} must hold a mapping`, { location: { file } });
  return value;
}

/** `*.yaml` files of a folder (not `.yml`, not recursive), by stem. */
function yamlFolder(dir: string): Record<string, Doc> {
  if (!existsSync(dir)) return {};
  const out: Record<string, Doc> = {};
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.yaml')) out[basename(name, '.yaml')] = readYamlFile(join(dir, name));
  }
  return out;
}

function stems(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.yaml'))
    .map((n) => basename(n, '.yaml'))
    .sort();
}

/** secrets.yaml, else secrets.yaml.enc decrypted with strata's SOPS reader (age keys as `strata secrets` finds them). */
async function readSecrets(dir: string, env: NodeJS.ProcessEnv): Promise<Doc> {
  const plain = join(dir, 'secrets.yaml');
  const encrypted = join(dir, 'secrets.yaml.enc');
  let secrets: Doc = {};
  if (existsSync(plain)) {
    const text = readFileSync(plain, 'utf8');
    if (/^sops:/m.test(text) && /^\s+mac:/m.test(text)) {
      secrets = (await decryptSops(text, { file: plain, format: 'yaml', env })).data as Doc;
    } else secrets = readYamlFile(plain);
  } else if (existsSync(encrypted)) {
    const text = readFileSync(encrypted, 'utf8');
    secrets = ((await decryptSops(text, { file: encrypted, format: 'yaml', env })).data ?? {}) as Doc;
  }
  registerSecrets(secrets);
  return isPlainMap(secrets) ? secrets : {};
}

/** Every secret value (all but the public ssh_keys) is masked wherever strata prints. */
function registerSecrets(secrets: unknown): void {
  const walk = (value: unknown): void => {
    if (typeof value === 'string' && value.length >= 6) globalMasker.add(value);
    else if (isPlainMap(value)) for (const v of Object.values(value)) walk(v);
  };
  if (isPlainMap(secrets))
    for (const [section, value] of Object.entries(secrets)) if (section !== 'ssh_keys') walk(value);
}

/** Loads a site-config in the current layout; the legacy envs/ + vms/ layout is refused with the way forward. */
export async function loadSiteConfig(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<SiteConfig> {
  if ((existsSync(join(dir, 'envs')) || existsSync(join(dir, 'vms'))) && !existsSync(join(dir, 'presets'))) {
    throw new StrataError(`${dir} uses the legacy site-config layout (envs/, vms/), which strata does not read`, {
      hint: 'move to the current layout (presets/, specs/, postures/, manifests/ with schema_version 2), as iac-driver v0.50+ did',
    });
  }
  const site = existsSync(join(dir, 'site.yaml')) ? readYamlFile(join(dir, 'site.yaml')) : {};
  return {
    dir,
    defaults: isPlainMap(site.defaults) ? site.defaults : {},
    secrets: await readSecrets(dir, env),
    presets: yamlFolder(join(dir, 'presets')),
    postures: yamlFolder(join(dir, 'postures')),
    specs: stems(join(dir, 'specs')),
    manifestsDir: join(dir, 'manifests'),
  };
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Host names iac-driver accepts for -H: stems of nodes/ and hosts/, sorted. */
export function listHosts(site: SiteConfig): string[] {
  return [...new Set([...stems(join(site.dir, 'nodes')), ...stems(join(site.dir, 'hosts'))])].sort();
}

/** `-H [user@]host`: nodes/<host>.yaml first, else hosts/<host>.yaml; `user@` overrides the host user. */
export function siteHost(site: SiteConfig, spec: string): SiteHost {
  const at = spec.lastIndexOf('@');
  const name = at >= 0 ? spec.slice(at + 1) : spec;
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  const nodeFile = join(site.dir, 'nodes', `${name}.yaml`);
  const hostFile = join(site.dir, 'hosts', `${name}.yaml`);
  if (existsSync(nodeFile)) {
    const data = readYamlFile(nodeFile);
    const apiEndpoint = str(data.api_endpoint);
    return {
      name,
      kind: 'node',
      file: nodeFile,
      node: str(data.node) ?? name,
      apiEndpoint,
      datastore: str(data.datastore),
      sshHost: apiEndpoint ? new URL(apiEndpoint).hostname : undefined,
      hostUser: user ?? str(data.host_user) ?? str(site.defaults.host_user),
      data,
    };
  }
  if (existsSync(hostFile)) {
    const data = readYamlFile(hostFile);
    const access = isPlainMap(data.access) ? data.access : {};
    const network = isPlainMap(data.network) ? data.network : {};
    const bridge = isPlainMap(network.interfaces) ? (network.interfaces as Doc).vmbr0 : undefined;
    const address = isPlainMap(bridge) ? str(bridge.address) : undefined;
    return {
      name,
      kind: 'host',
      file: hostFile,
      node: name,
      sshHost: str(data.ip) ?? address?.split('/')[0],
      hostUser: user ?? str(access.host_user),
      data,
    };
  }
  const hosts = listHosts(site);
  throw new StrataError(`Host '${name}' not found: neither ${nodeFile} nor ${hostFile} exists`, {
    hint: didYouMean(name, hosts) ?? `Available hosts: ${hosts.join(', ') || '(none)'}`,
  });
}

/** The PVE API token of a node: secrets.api_tokens[node.api_token or the node file's name]. */
export function apiTokenOf(site: SiteConfig, host: SiteHost): string | undefined {
  const tokens = isPlainMap(site.secrets.api_tokens) ? site.secrets.api_tokens : {};
  return str(tokens[str(host.data.api_token) ?? host.name]);
}

/**
 * The operator's view of a PVE node of the site-config: its endpoint, node name, datastore and bridge
 * (settings.proxmox), the presets (vars.presets) and the cloud-init user and keys from site.yaml and secrets.yaml.
 * iac-driver does not verify the PVE API's certificate; neither does this context.
 */
export function siteStackContext(site: SiteConfig, host: SiteHost, manifest?: Manifest): StackContext {
  if (host.kind !== 'node') {
    throw new StrataError(`Host '${host.name}' is in hosts/ (SSH only, no PVE yet): manifests need a PVE node`, {
      location: { file: host.file },
      hint: `install PVE on it first; then nodes/${host.name}.yaml holds its api_endpoint and datastore`,
    });
  }
  if (!host.datastore) {
    throw new StrataError(
      `Node '${host.name}' missing required 'datastore' in nodes/${host.name}.yaml. Run 'make node-config FORCE=1' in config to regenerate.`,
      { location: { file: host.file } },
    );
  }
  const sshKeys = isPlainMap(site.secrets.ssh_keys) ? Object.values(site.secrets.ssh_keys).map(String) : [];
  const dns = Array.isArray(site.defaults.dns_servers) ? site.defaults.dns_servers.map(String) : [];
  const proxmox: Doc = {
    endpoint: host.apiEndpoint,
    node: host.node,
    storage: host.datastore,
    bridge: str(site.defaults.bridge) ?? 'vmbr0',
    ciuser: str(site.defaults.vm_user) ?? 'homestak',
    ssh_keys: sshKeys,
    insecure: true,
  };
  if (dns[0]) proxmox.nameserver = dns[0];
  // strata clones a template VM per image (iac-driver imports local:iso/<image>.img): the template is named the image.
  const images = Object.fromEntries((manifest?.nodes ?? []).filter((n) => n.image).map((n) => [n.image, n.image]));
  return { stack: host.name, vars: { presets: site.presets, images }, settings: { proxmox } };
}

/** The line of `key: value` in a manifest file, for errors that point at the node that names a missing file. */
function lineOf(file: string | undefined, key: string, value: string): number | undefined {
  if (!file || !existsSync(file)) return undefined;
  const pattern = new RegExp(`\\b${key}:\\s*["']?${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*[,}\\n]`);
  const lines = readFileSync(file, 'utf8').split('\n');
  const index = lines.findIndex((line) => pattern.test(`${line}\n`));
  return index >= 0 ? index + 1 : undefined;
}

/**
 * Foreign keys of a manifest against the site-config, with iac-driver's wording: every node's preset in presets/,
 * every spec in specs/, and each spec's access.posture in postures/.
 */
export function checkSiteReferences(site: SiteConfig, manifest: Manifest): void {
  for (const node of manifest.nodes) {
    if (node.preset && !site.presets[node.preset]) {
      throw new StrataError(`Preset not found: presets/${node.preset}.yaml`, {
        location: manifest.file
          ? { file: manifest.file, line: lineOf(manifest.file, 'preset', node.preset) }
          : undefined,
        hint:
          didYouMean(node.preset, Object.keys(site.presets)) ??
          `Presets: ${Object.keys(site.presets).join(', ') || '(none)'}`,
      });
    }
    if (node.spec) checkSpec(site, manifest, node.spec);
  }
}

function checkSpec(site: SiteConfig, manifest: Manifest, spec: string): void {
  if (!site.specs.includes(spec)) {
    throw new StrataError(`Spec not found: ${spec}`, {
      location: manifest.file ? { file: manifest.file, line: lineOf(manifest.file, 'spec', spec) } : undefined,
      hint: didYouMean(spec, site.specs) ?? `Specs: ${site.specs.join(', ') || '(none)'}`,
    });
  }
  const file = join(site.dir, 'specs', `${spec}.yaml`);
  const data = readYamlFile(file);
  const access = isPlainMap(data.access) ? data.access : {};
  const posture = str(access.posture) ?? 'dev';
  if (!site.postures[posture]) {
    throw new StrataError(`Posture not found: ${posture}`, {
      location: { file, line: lineOf(file, 'posture', posture) },
      hint:
        didYouMean(posture, Object.keys(site.postures)) ??
        `Postures: ${Object.keys(site.postures).join(', ') || '(none)'}`,
    });
  }
}
