/**
 * The node side of iac-driver's pull mode, and its token tool: `config fetch` (the node's spec from the server with
 * its provisioning token), `config apply` (spec → Ansible variables → the config-apply playbook on this machine, then
 * a completion marker) and `token inspect`. State lives where iac-driver keeps it: $HOMESTAK_ROOT/.state/config/.
 */

import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { isPlainMap } from '../data/merge.ts';
import { parseYaml } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { run } from '../exec/index.ts';
import { loadSiteConfig, siteConfigDir } from '../operator/siteconfig.ts';
import { decodeProvisioningClaims, signingKeyBytes, verifyProvisioningToken } from '../secrets/provisioning-token.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { globalMasker } from '../util/mask.ts';
import { yaml } from '../util/yaml-lib.ts';

type Doc = Record<string, unknown>;

/** $HOMESTAK_ROOT (default: the home folder) and the config state folder under it. */
export function homestakPaths(env: NodeJS.ProcessEnv = process.env): { root: string; state: string } {
  const root = env.HOMESTAK_ROOT || env.HOME || homedir();
  return { root, state: join(root, '.state', 'config') };
}

// ---------------------------------------------------------------------------------------------------------------
// config fetch

export interface FetchRequest {
  /** Server URL (default $HOMESTAK_SERVER). */
  server?: string;
  /** Provisioning token (default $HOMESTAK_TOKEN). */
  token?: string;
  /** The identity asked for (default: this machine's short host name). */
  identity?: string;
  /** Accept a self-signed certificate (also HOMESTAK_INSECURE=1). */
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** iac-driver's spec client exit codes: 1 client error, 2 server or network, 3 validation (422). */
export interface FetchResult {
  exitCode: 0 | 1 | 2 | 3;
  identity: string;
  path?: string;
  /** Why it failed: the server's `{"error":{code,message}}`, or the network error. */
  error?: { code?: string; message: string; status?: number };
}

export function httpGet(url: URL, token: string, insecure: boolean): Promise<{ status: number; text: string }> {
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        rejectUnauthorized: !insecure,
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', reject);
    req.end();
  });
}

function serverError(text: string, status: number): FetchResult['error'] {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return { code: body.error.code, message: body.error.message, status };
  } catch {
    // not JSON: report the status
  }
  return { message: `HTTP ${status}`, status };
}

/** Fetches the node's spec and writes it (atomically, the previous one kept as spec.yaml.prev). */
export async function fetchConfig(request: FetchRequest): Promise<FetchResult> {
  const env = request.env ?? process.env;
  const identity = request.identity ?? hostname().split('.')[0];
  const server = request.server ?? env.HOMESTAK_SERVER;
  const token = request.token ?? env.HOMESTAK_TOKEN;
  if (!server) return { exitCode: 1, identity, error: { message: 'HOMESTAK_SERVER is not set (or pass --server)' } };
  if (!token) return { exitCode: 1, identity, error: { message: 'HOMESTAK_TOKEN is not set' } };
  globalMasker.add(token);
  let answer: { status: number; text: string };
  try {
    const url = new URL(`spec/${encodeURIComponent(identity)}`, server.endsWith('/') ? server : `${server}/`);
    answer = await httpGet(url, token, request.insecure === true || env.HOMESTAK_INSECURE === '1');
  } catch (error) {
    return { exitCode: 2, identity, error: { message: globalMasker.mask((error as Error).message) } };
  }
  if (answer.status !== 200) {
    const exitCode = answer.status === 422 ? 3 : answer.status >= 500 ? 2 : 1;
    return { exitCode, identity, error: serverError(answer.text, answer.status) };
  }
  const spec: unknown = JSON.parse(answer.text);
  const { state } = homestakPaths(env);
  const path = join(state, 'spec.yaml');
  if (existsSync(path)) await copyFile(path, `${path}.prev`);
  await writeFileAtomic(path, yaml().stringify(spec), 0o600);
  return { exitCode: 0, identity, path };
}

// ---------------------------------------------------------------------------------------------------------------
// config apply

const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);

/** iac-driver's spec_to_ansible_vars: keys only where the spec has something. */
export function specToAnsibleVars(spec: Doc): Doc {
  const vars: Doc = {};
  const platform = isPlainMap(spec.platform) ? spec.platform : {};
  const config = isPlainMap(spec.config) ? spec.config : {};
  const access = isPlainMap(spec.access) ? spec.access : {};
  const posture = isPlainMap(access._posture) ? access._posture : {};
  const packages = list(platform.packages);
  if (packages.length > 0) vars.packages = packages;
  if (config.timezone !== undefined) vars.timezone = config.timezone;
  const users = Array.isArray(access.users) ? access.users.filter(isPlainMap) : [];
  if (users.length > 0) {
    vars.local_user = users[0].name ?? 'homestak';
    if (users[0].sudo) vars.user_sudo = true;
    const keys = users.flatMap((u) => list(u.ssh_keys));
    if (keys.length > 0) vars.ssh_authorized_keys = keys;
  }
  const ssh = isPlainMap(posture.ssh) ? posture.ssh : {};
  if (ssh.port !== undefined) vars.ssh_port = ssh.port;
  if (ssh.permit_root_login !== undefined) vars.ssh_permit_root_login = ssh.permit_root_login;
  if (ssh.password_authentication !== undefined) vars.ssh_password_authentication = ssh.password_authentication;
  if (isPlainMap(posture.sudo) && posture.sudo.nopasswd !== undefined) vars.sudo_nopasswd = posture.sudo.nopasswd;
  if (isPlainMap(posture.fail2ban) && posture.fail2ban.enabled !== undefined) {
    vars.fail2ban_enabled = posture.fail2ban.enabled;
  }
  const extra = list(posture.packages);
  if (extra.length > 0) vars.packages = [...new Set([...list(vars.packages), ...extra])];
  const services = isPlainMap(platform.services) ? platform.services : {};
  if (list(services.enable).length > 0) vars.services_enable = list(services.enable);
  if (list(services.disable).length > 0) vars.services_disable = list(services.disable);
  return vars;
}

export interface ApplyRequest {
  /** The spec file (default $HOMESTAK_ROOT/.state/config/spec.yaml). */
  spec?: string;
  /** The playbook (default $HOMESTAK_ROOT/iac/ansible/playbooks/config-apply.yml). */
  playbook?: string;
  dryRun?: boolean;
  env?: NodeJS.ProcessEnv;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface ApplyResult {
  exitCode: 0 | 1 | 2;
  spec: string;
  specPath: string;
  vars: Doc;
  durationSeconds: number;
  /** The spec's users, by name. */
  users: string[];
  marker?: string;
  error?: string;
}

/** The inventory next to the playbook (../inventory/local.yml), else this machine over a local connection. */
function inventoryArgs(playbook: string): string[] {
  const local = join(dirname(dirname(playbook)), 'inventory', 'local.yml');
  return existsSync(local) ? ['-i', local] : ['-i', 'localhost,', '-c', 'local'];
}

/** Applies the spec: variables file, the playbook on this machine, then the completion marker. */
export async function applyConfig(request: ApplyRequest): Promise<ApplyResult> {
  const env = request.env ?? process.env;
  const { root, state } = homestakPaths(env);
  const specPath = request.spec ?? join(state, 'spec.yaml');
  const started = Date.now();
  const base = { spec: '', specPath, vars: {}, durationSeconds: 0, users: [] as string[] };
  if (!existsSync(specPath))
    return { ...base, exitCode: 1, error: `Spec not found: ${specPath} (run config fetch first)` };
  const raw = parseYaml(await readFile(specPath, 'utf8'), specPath);
  const spec: Doc = isPlainMap(raw) ? raw : {};
  const identity = isPlainMap(spec.identity) ? spec.identity : {};
  const name = String(identity.hostname ?? '');
  const vars = specToAnsibleVars(spec);
  const users = (isPlainMap(spec.access) && Array.isArray(spec.access.users) ? spec.access.users : [])
    .filter(isPlainMap)
    .map((u) => String(u.name));
  base.users = users;
  if (request.dryRun) return { ...base, exitCode: 0, spec: name, vars };
  const playbook = request.playbook ?? join(root, 'iac', 'ansible', 'playbooks', 'config-apply.yml');
  if (!existsSync(playbook))
    return { ...base, spec: name, vars, exitCode: 1, error: `Playbook not found: ${playbook}` };
  const varsFile = join(state, 'config-vars.json');
  await writeFileAtomic(varsFile, `${JSON.stringify(vars, null, 2)}\n`, 0o600);
  const ansibleCfg = join(dirname(dirname(playbook)), 'ansible.cfg');
  const result = await run('ansible-playbook', [...inventoryArgs(playbook), playbook, '-e', `@${varsFile}`], {
    stdio: request.onLine ? 'stream' : 'capture',
    onLine: request.onLine,
    timeoutMs: 600_000,
    env: existsSync(ansibleCfg) ? { ANSIBLE_CONFIG: ansibleCfg } : {},
  });
  const durationSeconds = Math.round((Date.now() - started) / 100) / 10;
  if (result.exitCode !== 0) {
    const last = result.stderr.trim().split('\n').pop() || result.stdout.trim().split('\n').pop() || '';
    return {
      ...base,
      spec: name,
      vars,
      durationSeconds,
      exitCode: 2,
      error: `ansible-playbook failed (${result.exitCode}): ${last}`,
    };
  }
  const marker = join(state, 'complete.json');
  const done = {
    phase: 'config',
    status: 'complete',
    timestamp: new Date().toISOString(),
    spec: name,
    packages: list(vars.packages),
    services_enabled: list(vars.services_enable),
    services_disabled: list(vars.services_disable),
    users,
  };
  await writeFileAtomic(marker, `${JSON.stringify(done, null, 2)}\n`);
  return { ...base, exitCode: 0, spec: name, vars, durationSeconds, marker };
}

// ---------------------------------------------------------------------------------------------------------------
// token inspect

export interface TokenInspection {
  claims?: Record<string, unknown>;
  issued?: string;
  /** With verify: whether the signature holds under the site-config's signing key. */
  valid?: boolean;
  reason?: string;
}

/** The claims of a provisioning token; with `verify`, its signature against secrets.auth.signing_key. */
export async function inspectToken(
  token: string,
  options: { verify?: boolean; siteConfig?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<TokenInspection> {
  const claims = decodeProvisioningClaims(token);
  if (!claims) {
    throw new StrataError('Malformed token: expected <payload>.<signature> with a base64url JSON payload');
  }
  const out: TokenInspection = { claims };
  if (typeof claims.iat === 'number') out.issued = new Date(claims.iat * 1000).toISOString();
  if (options.verify) {
    const env = options.env ?? process.env;
    const site = await loadSiteConfig(siteConfigDir(options.siteConfig, env), env);
    const auth = isPlainMap(site.secrets.auth) ? site.secrets.auth : {};
    const check = verifyProvisioningToken(signingKeyBytes(auth.signing_key), token);
    out.valid = check.ok;
    if (!check.ok) out.reason = `${check.code}: ${check.message}`;
  }
  return out;
}
