/**
 * API delegation to nested PVE hosts: once a `pve` node runs, the operator reaches the inner host's API (through the
 * connection's nested locator) and creates a token there for this manifest; its children are created through it.
 * The token is kept in the execution state, so destroy and resume reconnect without a new one.
 */
import { StrataError } from '../errors.ts';
import { PveClient } from '../proxmox/client.ts';
import { sleep } from '../util/fs.ts';
import { proxmoxSettings, type StackContext } from './context.ts';
import { addressLocator, type NestedAccess, type NestedHost, type NestedLocator, simulatorLocator } from './nested.ts';
import type { Target } from './provisioners/proxmox-api.ts';
import { type HostOptions, message, type OperatorRun } from './run.ts';
import type { DelegationState } from './state.ts';

interface NestedSettings {
  locator?: string;
  port: number;
  scheme: string;
  bootstrapToken?: string;
  storage?: string;
  bridge?: string;
}

/** `settings.proxmox.nested`: how nested hosts are reached and where their VMs go. */
function nestedSettings(context: StackContext, env: NodeJS.ProcessEnv): NestedSettings {
  const proxmox = proxmoxSettings(context);
  const nested = (proxmox.nested ?? {}) as Record<string, unknown>;
  const tokenEnv = typeof nested.bootstrap_token_env === 'string' ? nested.bootstrap_token_env : undefined;
  return {
    locator: typeof nested.locator === 'string' ? nested.locator : undefined,
    port: typeof nested.port === 'number' ? nested.port : 8006,
    scheme: nested.scheme === 'http' ? 'http' : 'https',
    bootstrapToken: tokenEnv ? env[tokenEnv] : undefined,
    storage: typeof nested.storage === 'string' ? nested.storage : undefined,
    bridge: typeof nested.bridge === 'string' ? nested.bridge : undefined,
  };
}

/** The connection's locator, else the stack's choice: a simulator's directory or https://<ip>:<port>. */
function locatorOf(run: OperatorRun): NestedLocator {
  if (run.connection?.nestedLocator) return run.connection.nestedLocator;
  const nested = nestedSettings(run.o.context as StackContext, run.env);
  if (nested.locator === 'simulator') return simulatorLocator;
  return addressLocator({ port: nested.port, scheme: nested.scheme, bootstrapToken: nested.bootstrapToken });
}

/** Placement on nested hosts: settings.proxmox.nested's storage and bridge, the outer host's cloud-init defaults. */
export function innerOptions(run: OperatorRun): HostOptions {
  const nested = nestedSettings(run.o.context as StackContext, run.env);
  return {
    storage: nested.storage,
    bridge: nested.bridge ?? run.outer.bridge,
    ciuser: run.outer.ciuser,
    sshKeys: run.outer.sshKeys,
    nameserver: run.outer.nameserver,
  };
}

function savedTarget(run: OperatorRun, saved: DelegationState): Target {
  return run.makeTarget(
    { url: saved.url, tokenId: saved.token_id, tokenSecret: saved.token_secret, fingerprint: saved.fingerprint },
    saved.pve_node,
    innerOptions(run),
  );
}

/** Reconnects to the nested hosts recorded in the state (for destroy and resume). */
export async function reopenDelegations(run: OperatorRun): Promise<void> {
  for (const [name, saved] of Object.entries(run.store.state.delegations)) {
    if (!run.resolved.has(name)) continue;
    run.inner.set(name, savedTarget(run, saved));
  }
}

/** Asks the locator until the inner API answers, or the manifest's inner_api timeout passes. */
async function reachInnerApi(run: OperatorRun, host: NestedHost): Promise<{ access: NestedAccess; client: PveClient }> {
  const locate = locatorOf(run);
  const deadline = Date.now() + run.manifest.settings.timeouts.innerApi * 1000;
  let lastError: unknown;
  for (;;) {
    try {
      const access = await locate(host);
      const client = new PveClient({ ...access, timeoutMs: 10_000, retries: 0 });
      run.clients.push(client);
      await client.version();
      return { access, client };
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new StrataError(`Nested PVE '${host.name}': its API did not answer: ${message(lastError)}`, {
        hint: 'The image must start pveproxy on boot; raise settings.timeouts.inner_api, or check settings.proxmox.nested (port, bootstrap_token_env).',
      });
    }
    await sleep(run.waits.pollMs, run.o.signal);
  }
}

/** Makes the nested host `name` (VM `vmid` at `ip` on `outer`) a target for its children. */
export async function delegate(run: OperatorRun, name: string, ip: string, vmid: number, outer: Target): Promise<void> {
  const saved = run.store.state.delegations[name];
  if (saved) {
    const target = savedTarget(run, saved);
    try {
      await target.client.version();
      run.inner.set(name, target);
      return;
    } catch {
      // The saved token no longer works (host re-created): make a new one below.
    }
  }
  const { tokenId, tokenSecret } = outer.client.endpoint;
  const host: NestedHost = { name, vmid, ip, outerUrl: outer.url, outerToken: { tokenId, tokenSecret } };
  const { access, client } = await reachInnerApi(run, host);
  const pveNode = (await client.nodes())[0]?.node;
  if (!pveNode) throw new StrataError(`Nested PVE '${name}' at ${access.url} lists no node`);
  const userid = access.tokenId.split('!')[0];
  const token = await client.createApiToken(userid, `strata-${Date.now().toString(36)}`, {
    privsep: false,
    comment: `strata manifest ${run.manifest.name} stack ${run.stack}`,
  });
  run.store.state.delegations[name] = {
    url: access.url,
    token_id: token.fullTokenId,
    token_secret: token.value,
    fingerprint: access.fingerprint,
    pve_node: pveNode,
  };
  await run.store.save();
  const endpoint = {
    url: access.url,
    tokenId: token.fullTokenId,
    tokenSecret: token.value,
    fingerprint: access.fingerprint,
    ca: access.ca,
  };
  run.inner.set(name, run.makeTarget(endpoint, pveNode, innerOptions(run)));
}
