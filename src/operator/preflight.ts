/**
 * Preflight: what a manifest run needs from the Proxmox host, checked before anything is created, each failure
 * with the command or setting that fixes it.
 */
import { StrataError } from '../errors.ts';
import { PveApiError, PveClient, virtualizationFlag } from '../proxmox/client.ts';
import { didYouMean } from '../util/suggest.ts';
import type { ProxmoxConnection } from './connection.ts';
import { imagesOf, type ProxmoxTarget, proxmoxTarget, type StackContext } from './context.ts';
import type { Manifest } from './manifest.ts';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface PreflightCheck {
  name: string;
  status: CheckStatus;
  message: string;
  hint?: string;
}

export interface PreflightResult {
  stack: string;
  endpoint?: string;
  node?: string;
  success: boolean;
  checks: PreflightCheck[];
}

/** Privileges the operator's calls need (PVE 8 names), and what each is for. */
export const REQUIRED_PRIVILEGES: Record<string, string> = {
  'VM.Allocate': 'create and delete VMs',
  'VM.Clone': 'clone templates',
  'VM.Config.Disk': 'resize disks',
  'VM.Config.CPU': 'set cores and CPU type',
  'VM.Config.Memory': 'set memory',
  'VM.Config.Network': 'attach the bridge',
  'VM.Config.Cloudinit': 'set ciuser, sshkeys, ipconfig0',
  'VM.Config.Options': 'set tags and the agent flag',
  'VM.PowerMgmt': 'start and stop VMs',
  'VM.Monitor': 'talk to the guest agent',
  'VM.Audit': 'read VM status and config',
  'Datastore.AllocateSpace': 'allocate disks on the storage',
  'Datastore.Audit': 'list storage content',
  'Sys.Audit': 'read node status (nested virtualisation flags)',
};

/** What every check sees: the host's API, its target settings, the stack and, when given, the manifest. */
interface Probe {
  client: PveClient;
  target: ProxmoxTarget;
  context: StackContext;
  manifest?: Manifest;
  add(check: PreflightCheck): void;
}

type Storages = Awaited<ReturnType<PveClient['storages']>>;

/** API and token; false when the rest cannot be checked. */
async function checkApi(p: Probe): Promise<boolean> {
  const { url, tokenId } = p.target.endpoint;
  try {
    const version = await p.client.version();
    p.add({ name: 'api', status: 'ok', message: `Proxmox VE ${version.version} answers at ${url}` });
    p.add({ name: 'token', status: 'ok', message: `token ${tokenId} accepted` });
    return true;
  } catch (error) {
    if (error instanceof PveApiError && error.status === 401) {
      p.add({ name: 'api', status: 'ok', message: `${url} answers` });
      p.add({
        name: 'token',
        status: 'fail',
        message: `token ${tokenId} rejected (401)`,
        hint: `Create it on the host: pveum user token add ${tokenId.replace('!', ' ')} --privsep 0, then export PROXMOX_VE_API_TOKEN=${tokenId}=<secret>`,
      });
    } else {
      p.add({
        name: 'api',
        status: 'fail',
        message: error instanceof Error ? error.message : String(error),
        hint:
          error instanceof StrataError && error.hint
            ? error.hint
            : 'Check settings.proxmox.endpoint, that pveproxy runs (systemctl status pveproxy) and that port 8006 is reachable.',
      });
    }
    return false;
  }
}

function privilegesOn(perms: Record<string, Record<string, number>>, paths: string[]): Set<string> {
  const out = new Set<string>();
  for (const path of paths) for (const [priv, on] of Object.entries(perms[path] ?? {})) if (on) out.add(priv);
  return out;
}

async function checkPrivileges(p: Probe): Promise<void> {
  const perms = await p.client.permissions();
  const granted = privilegesOn(perms, ['/', '/vms', `/nodes/${p.target.node}`, '/storage']);
  const required = Object.keys(REQUIRED_PRIVILEGES);
  const missing = required.filter((priv) => !granted.has(priv));
  if (missing.length === 0) {
    p.add({ name: 'privileges', status: 'ok', message: `${required.length} required privileges granted` });
    return;
  }
  p.add({
    name: 'privileges',
    status: 'fail',
    message: `missing: ${missing.map((priv) => `${priv} (${REQUIRED_PRIVILEGES[priv]})`).join(', ')}`,
    hint: `pveum role add StrataOperator -privs "${required.join(',')}" && pveum acl modify / -token '${p.target.endpoint.tokenId}' -role StrataOperator`,
  });
}

/** The target node is in the cluster; false when the rest cannot be checked. */
async function checkNode(p: Probe): Promise<boolean> {
  const nodes = (await p.client.nodes()).map((n) => n.node);
  if (!nodes.includes(p.target.node)) {
    p.add({
      name: 'node',
      status: 'fail',
      message: `node '${p.target.node}' not in the cluster (nodes: ${nodes.join(', ')})`,
      hint: didYouMean(p.target.node, nodes) ?? 'Set settings.proxmox.node to one of the listed nodes.',
    });
    return false;
  }
  p.add({ name: 'node', status: 'ok', message: `node '${p.target.node}' is online` });
  return true;
}

function checkStorage(p: Probe, storages: Storages): void {
  const { storage: name, node } = p.target;
  if (!name) return;
  const storage = storages.find((s) => s.storage === name);
  if (!storage) {
    const names = storages.map((s) => s.storage);
    p.add({
      name: 'storage',
      status: 'fail',
      message: `storage '${name}' not on node ${node}`,
      hint: didYouMean(name, names) ?? `Storages there: ${names.join(', ')}`,
    });
  } else if (!storage.content.split(',').includes('images')) {
    p.add({
      name: 'storage',
      status: 'fail',
      message: `storage '${name}' does not hold VM disks (content: ${storage.content})`,
      hint: `pvesm set ${name} --content ${storage.content},images`,
    });
  } else p.add({ name: 'storage', status: 'ok', message: `storage '${name}' holds VM disks` });
}

/** Templates (and published image volumes) of the manifest's root images, or of every image of the stack. */
async function checkImages(p: Probe): Promise<void> {
  const images = imagesOf(p.context);
  const wanted = p.manifest
    ? [...new Set(p.manifest.nodes.filter((n) => n.parent === undefined && n.image).map((n) => n.image as string))]
    : Object.keys(images);
  const templates = (await p.client.listVms()).filter((v) => v.template);
  for (const image of wanted) {
    const ref = images[image] ?? { template: image };
    const found =
      ref.templateVmid !== undefined
        ? templates.find((t) => t.vmid === ref.templateVmid)
        : templates.find((t) => t.name === ref.template);
    if (found) {
      p.add({
        name: `image ${image}`,
        status: 'ok',
        message: `template '${found.name}' (${found.vmid}) on ${found.node}`,
      });
    } else {
      const names = templates.map((t) => t.name);
      p.add({
        name: `image ${image}`,
        status: 'fail',
        message: `no template ${ref.templateVmid ?? `'${ref.template}'`} for image '${image}'`,
        hint:
          (ref.template ? didYouMean(ref.template, names) : undefined) ??
          `Build or import it (qm importdisk + qm template), or map the image in vars.images. Templates: ${names.join(', ') || '(none)'}`,
      });
    }
    if (ref.volume) await checkVolume(p, image, ref.volume);
  }
}

async function checkVolume(p: Probe, image: string, volume: string): Promise<void> {
  const [storage] = volume.split(':');
  let ok = false;
  try {
    ok = (await p.client.storageContent(p.target.node, storage)).some((c) => c.volid === volume);
  } catch (error) {
    if (!(error instanceof PveApiError)) throw error;
  }
  p.add(
    ok
      ? { name: `volume ${image}`, status: 'ok', message: `${volume} present` }
      : {
          name: `volume ${image}`,
          status: 'warn',
          message: `${volume} not found on node ${p.target.node}`,
          hint: `Upload it: pvesm upload or download-url to storage '${storage}'.`,
        },
  );
}

function checkSnippets(p: Probe, storages: Storages): void {
  const name = p.target.snippetsStorage;
  if (!name) {
    p.add({
      name: 'snippets',
      status: 'skip',
      message: 'no settings.proxmox.snippets_storage: cicustom snippets not used',
    });
    return;
  }
  const storage = storages.find((s) => s.storage === name);
  const content = storage?.content.split(',') ?? [];
  if (content.includes('snippets')) {
    p.add({ name: 'snippets', status: 'ok', message: `storage '${name}' accepts snippets` });
    return;
  }
  p.add({
    name: 'snippets',
    status: 'fail',
    message: storage
      ? `storage '${name}' does not accept snippets (content: ${storage.content})`
      : `snippets storage '${name}' not on node ${p.target.node}`,
    hint: `pvesm set ${name} --content ${[...content, 'snippets'].join(',')} (fresh installs leave snippets off; cloud-init user-data then hangs)`,
  });
}

/** vmx/svm on the host: required when the manifest nests PVE, a warning without a manifest. */
async function checkNestedVirtualization(p: Probe): Promise<void> {
  const tiered = p.manifest ? p.manifest.nodes.some((n) => n.parent !== undefined) : true;
  if (!tiered) {
    p.add({ name: 'nested-virtualization', status: 'skip', message: 'manifest has no nested nodes' });
    return;
  }
  const { node } = p.target;
  const flag = virtualizationFlag((await p.client.nodeStatus(node)).cpuinfo.flags);
  if (flag) {
    p.add({ name: 'nested-virtualization', status: 'ok', message: `CPU exposes ${flag} on ${node}` });
    return;
  }
  p.add({
    name: 'nested-virtualization',
    status: p.manifest ? 'fail' : 'warn',
    message: `the CPU of ${node} exposes neither vmx nor svm: nested PVE guests cannot run VMs`,
    hint: "Enable it on the host: echo 'options kvm_intel nested=1' > /etc/modprobe.d/kvm-intel.conf (kvm_amd for AMD), reload the module, and give pve nodes cpu type host.",
  });
}

/** The checks after configuration, in order; API and node failures end the run early. */
async function checkHost(p: Probe): Promise<void> {
  if (!(await checkApi(p))) return;
  await checkPrivileges(p);
  if (!(await checkNode(p))) return;
  const storages = await p.client.storages(p.target.node);
  checkStorage(p, storages);
  await checkImages(p);
  checkSnippets(p, storages);
  await checkNestedVirtualization(p);
}

/** Runs every check; never throws for a failed check (the result lists them), only for a missing configuration. */
export async function runPreflight(
  context: StackContext,
  options: { manifest?: Manifest; env?: NodeJS.ProcessEnv; connection?: ProxmoxConnection } = {},
): Promise<PreflightResult> {
  const checks: PreflightCheck[] = [];
  const add = (check: PreflightCheck) => checks.push(check);
  let target: ProxmoxTarget;
  try {
    target = proxmoxTarget(context, options.env, options.connection?.endpoint);
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    add({ name: 'configuration', status: 'fail', message: error.message, hint: error.hint });
    return { stack: context.stack, success: false, checks };
  }
  add({ name: 'configuration', status: 'ok', message: `endpoint ${target.endpoint.url}, node ${target.node}` });
  const client = new PveClient({ ...target.endpoint, retries: 1, timeoutMs: target.endpoint.timeoutMs ?? 10_000 });
  try {
    await checkHost({ client, target, context, manifest: options.manifest, add });
  } catch (error) {
    add({
      name: 'api',
      status: 'fail',
      message: error instanceof Error ? error.message : String(error),
      hint: error instanceof StrataError ? error.hint : undefined,
    });
  } finally {
    await client.close();
  }
  return {
    stack: context.stack,
    endpoint: target.endpoint.url,
    node: target.node,
    success: !checks.some((c) => c.status === 'fail'),
    checks,
  };
}
