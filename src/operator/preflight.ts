/**
 * Preflight: what a manifest run needs from the Proxmox host, checked before anything is created, each failure
 * with the command or setting that fixes it.
 */
import { StrataError } from '../errors.ts';
import { PveApiError, PveClient, virtualizationFlag } from '../proxmox/client.ts';
import { didYouMean } from '../util/suggest.ts';
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

function privilegesOn(perms: Record<string, Record<string, number>>, paths: string[]): Set<string> {
  const out = new Set<string>();
  for (const path of paths) for (const [priv, on] of Object.entries(perms[path] ?? {})) if (on) out.add(priv);
  return out;
}

/** Runs every check; never throws for a failed check (the result lists them), only for a missing configuration. */
export async function runPreflight(
  context: StackContext,
  options: { manifest?: Manifest; env?: NodeJS.ProcessEnv } = {},
): Promise<PreflightResult> {
  const checks: PreflightCheck[] = [];
  const add = (check: PreflightCheck) => checks.push(check);
  let target: ProxmoxTarget;
  try {
    target = proxmoxTarget(context, options.env);
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    add({ name: 'configuration', status: 'fail', message: error.message, hint: error.hint });
    return { stack: context.stack, success: false, checks };
  }
  add({ name: 'configuration', status: 'ok', message: `endpoint ${target.endpoint.url}, node ${target.node}` });
  const client = new PveClient({ ...target.endpoint, retries: 1, timeoutMs: target.endpoint.timeoutMs ?? 10_000 });
  const result = (): PreflightResult => ({
    stack: context.stack,
    endpoint: target.endpoint.url,
    node: target.node,
    success: !checks.some((c) => c.status === 'fail'),
    checks,
  });
  try {
    try {
      const version = await client.version();
      add({ name: 'api', status: 'ok', message: `Proxmox VE ${version.version} answers at ${target.endpoint.url}` });
      add({ name: 'token', status: 'ok', message: `token ${target.endpoint.tokenId} accepted` });
    } catch (error) {
      if (error instanceof PveApiError && error.status === 401) {
        add({ name: 'api', status: 'ok', message: `${target.endpoint.url} answers` });
        add({
          name: 'token',
          status: 'fail',
          message: `token ${target.endpoint.tokenId} rejected (401)`,
          hint: `Create it on the host: pveum user token add ${target.endpoint.tokenId.replace('!', ' ')} --privsep 0, then export PROXMOX_VE_API_TOKEN=${target.endpoint.tokenId}=<secret>`,
        });
      } else {
        add({
          name: 'api',
          status: 'fail',
          message: error instanceof Error ? error.message : String(error),
          hint:
            error instanceof StrataError && error.hint
              ? error.hint
              : 'Check settings.proxmox.endpoint, that pveproxy runs (systemctl status pveproxy) and that port 8006 is reachable.',
        });
      }
      return result();
    }

    const perms = await client.permissions();
    const granted = privilegesOn(perms, ['/', '/vms', `/nodes/${target.node}`, '/storage']);
    const missing = Object.keys(REQUIRED_PRIVILEGES).filter((p) => !granted.has(p));
    add(
      missing.length === 0
        ? {
            name: 'privileges',
            status: 'ok',
            message: `${Object.keys(REQUIRED_PRIVILEGES).length} required privileges granted`,
          }
        : {
            name: 'privileges',
            status: 'fail',
            message: `missing: ${missing.map((p) => `${p} (${REQUIRED_PRIVILEGES[p]})`).join(', ')}`,
            hint: `pveum role add StrataOperator -privs "${Object.keys(REQUIRED_PRIVILEGES).join(',')}" && pveum acl modify / -token '${target.endpoint.tokenId}' -role StrataOperator`,
          },
    );

    const nodes = (await client.nodes()).map((n) => n.node);
    if (!nodes.includes(target.node)) {
      add({
        name: 'node',
        status: 'fail',
        message: `node '${target.node}' not in the cluster (nodes: ${nodes.join(', ')})`,
        hint: didYouMean(target.node, nodes) ?? 'Set settings.proxmox.node to one of the listed nodes.',
      });
      return result();
    }
    add({ name: 'node', status: 'ok', message: `node '${target.node}' is online` });

    const storages = await client.storages(target.node);
    const storageNames = storages.map((s) => s.storage);
    if (target.storage) {
      const storage = storages.find((s) => s.storage === target.storage);
      if (!storage) {
        add({
          name: 'storage',
          status: 'fail',
          message: `storage '${target.storage}' not on node ${target.node}`,
          hint: didYouMean(target.storage, storageNames) ?? `Storages there: ${storageNames.join(', ')}`,
        });
      } else if (!storage.content.split(',').includes('images')) {
        add({
          name: 'storage',
          status: 'fail',
          message: `storage '${target.storage}' does not hold VM disks (content: ${storage.content})`,
          hint: `pvesm set ${target.storage} --content ${storage.content},images`,
        });
      } else add({ name: 'storage', status: 'ok', message: `storage '${target.storage}' holds VM disks` });
    }

    // Templates (and published image volumes) the manifest's images need.
    const images = imagesOf(context);
    const wanted = options.manifest
      ? [
          ...new Set(
            options.manifest.nodes.filter((n) => n.parent === undefined && n.image).map((n) => n.image as string),
          ),
        ]
      : Object.keys(images);
    const vms = await client.listVms();
    const templates = vms.filter((v) => v.template);
    for (const image of wanted) {
      const ref = images[image] ?? { template: image };
      const found =
        ref.templateVmid !== undefined
          ? templates.find((t) => t.vmid === ref.templateVmid)
          : templates.find((t) => t.name === ref.template);
      if (found) {
        add({
          name: `image ${image}`,
          status: 'ok',
          message: `template '${found.name}' (${found.vmid}) on ${found.node}`,
        });
      } else {
        add({
          name: `image ${image}`,
          status: 'fail',
          message: `no template ${ref.templateVmid ?? `'${ref.template}'`} for image '${image}'`,
          hint:
            (ref.template
              ? didYouMean(
                  ref.template,
                  templates.map((t) => t.name),
                )
              : undefined) ??
            `Build or import it (qm importdisk + qm template), or map the image in vars.images. Templates: ${templates.map((t) => t.name).join(', ') || '(none)'}`,
        });
      }
      if (ref.volume) {
        const [storage] = ref.volume.split(':');
        let ok = false;
        try {
          ok = (await client.storageContent(target.node, storage)).some((c) => c.volid === ref.volume);
        } catch (error) {
          if (!(error instanceof PveApiError)) throw error;
        }
        add(
          ok
            ? { name: `volume ${image}`, status: 'ok', message: `${ref.volume} present` }
            : {
                name: `volume ${image}`,
                status: 'warn',
                message: `${ref.volume} not found on node ${target.node}`,
                hint: `Upload it: pvesm upload or download-url to storage '${storage}'.`,
              },
        );
      }
    }

    if (target.snippetsStorage) {
      const storage = storages.find((s) => s.storage === target.snippetsStorage);
      const content = storage?.content.split(',') ?? [];
      add(
        content.includes('snippets')
          ? { name: 'snippets', status: 'ok', message: `storage '${target.snippetsStorage}' accepts snippets` }
          : {
              name: 'snippets',
              status: 'fail',
              message: storage
                ? `storage '${target.snippetsStorage}' does not accept snippets (content: ${storage.content})`
                : `snippets storage '${target.snippetsStorage}' not on node ${target.node}`,
              hint: `pvesm set ${target.snippetsStorage} --content ${[...content, 'snippets'].join(',')} (fresh installs leave snippets off; cloud-init user-data then hangs)`,
            },
      );
    } else {
      add({
        name: 'snippets',
        status: 'skip',
        message: 'no settings.proxmox.snippets_storage: cicustom snippets not used',
      });
    }

    const tiered = options.manifest ? options.manifest.nodes.some((n) => n.parent !== undefined) : true;
    if (tiered) {
      const status = await client.nodeStatus(target.node);
      const flag = virtualizationFlag(status.cpuinfo.flags);
      add(
        flag
          ? { name: 'nested-virtualization', status: 'ok', message: `CPU exposes ${flag} on ${target.node}` }
          : {
              name: 'nested-virtualization',
              status: options.manifest ? 'fail' : 'warn',
              message: `the CPU of ${target.node} exposes neither vmx nor svm: nested PVE guests cannot run VMs`,
              hint: "Enable it on the host: echo 'options kvm_intel nested=1' > /etc/modprobe.d/kvm-intel.conf (kvm_amd for AMD), reload the module, and give pve nodes cpu type host.",
            },
      );
    } else {
      add({ name: 'nested-virtualization', status: 'skip', message: 'manifest has no nested nodes' });
    }
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
  return result();
}
