/**
 * `--simulator`: an in-process PVE simulator seeded from the stack itself (its node, its storage, one template per
 * image), handed to the operator as its Proxmox connection, so the same manifest and stack work without a host.
 * The simulator lives here, in the CLI: the operator and the services only see the connection.
 */
import {
  imagesOf,
  type ProxmoxConnection,
  proxmoxEndpoint,
  proxmoxSettings,
  type StackContext,
  simulatorLocator,
} from '../operator/index.ts';
import { defaultSeed, type SimSeed, startSimulator } from '../proxmox/simulator/index.ts';

/**
 * The default lab plus what the stack names: its node, its storage, a template for every image. Given a `seed` (of
 * another stack), adds to it: a node, storage, volume or template already there stays as it is.
 */
export function seedFor(context: StackContext, nodeName?: string, into?: SimSeed): SimSeed {
  const proxmox = proxmoxSettings(context);
  const node = nodeName ?? (typeof proxmox.node === 'string' ? proxmox.node : 'pve');
  const seed = into ?? defaultSeed(node);
  if (!seed.nodes?.some((n) => n.node === node)) seed.nodes?.push({ ...(seed.nodes?.[0] ?? {}), node });
  const storages = seed.storages ?? [];
  const lvm = storages.find((s) => s.storage === 'local-lvm');
  const local = storages.find((s) => s.storage === 'local');
  if (typeof proxmox.storage === 'string' && !storages.some((s) => s.storage === proxmox.storage)) {
    storages.push({ storage: proxmox.storage, type: 'lvmthin', content: ['images', 'rootdir'], items: [] });
  }
  const base = seed.vms?.[0];
  let vmid = 9001;
  for (const [image, ref] of Object.entries(imagesOf(context))) {
    if (ref.volume && local) {
      const [storage, path] = ref.volume.split(':');
      const target = storages.find((s) => s.storage === storage) ?? local;
      if (!target.items?.some((item) => item.volid === ref.volume))
        target.items?.push({
          volid: ref.volume,
          content: path.split('/')[0] || 'iso',
          format: 'raw',
          size: 2 * 1024 ** 3,
        });
    }
    const name = ref.template ?? image;
    if (!base || seed.vms?.some((v) => v.name === name)) continue;
    while (seed.vms?.some((v) => v.vmid === vmid)) vmid++;
    const id = ref.templateVmid ?? vmid++;
    lvm?.items?.push({ volid: `local-lvm:base-${id}-disk-0`, content: 'images', format: 'raw', size: 3 * 1024 ** 3 });
    seed.vms?.push({
      ...base,
      vmid: id,
      name,
      config: {
        ...base.config,
        scsi0: `local-lvm:base-${id}-disk-0,size=3G`,
        ide2: `local-lvm:vm-${id}-cloudinit,media=cdrom`,
        net0: `virtio=BC:24:11:00:${(id % 256).toString(16).padStart(2, '0').toUpperCase()}:00,bridge=vmbr0`,
      },
    });
  }
  return seed;
}

/** One seed for every stack of a project (`strata pve-sim --seed <project>`): their nodes, storages and templates. */
export function projectSeed(contexts: StackContext[], nodeName?: string): SimSeed {
  let seed: SimSeed | undefined;
  for (const context of contexts) seed = seedFor(context, nodeName, seed);
  return seed ?? defaultSeed(nodeName);
}

/** The simulator's guests have no network stack: verify cannot reach their ports. */
const NO_GUEST_NETWORK = 'simulator: no TCP to guests';

/** Set by the exports of `strata pve-sim`: the endpoint in PROXMOX_VE_* is a simulator running on its own. */
export const SIMULATOR_ENV = 'STRATA_PVE_SIMULATOR';

/** The nested host's node name, as the simulator names it: the VM's name up to the first dot. */
function nestedNode(vm: { name: string; vmid: number }): string {
  return vm.name.split('.')[0].replace(/[^a-zA-Z0-9-]/g, '-') || `pve${vm.vmid}`;
}

/** Starts a simulator for the stack; the connection closes it. `url` is where it listens. */
export async function simulatedConnection(
  context: StackContext,
  latencyScale = 0.1,
): Promise<ProxmoxConnection & { url: string }> {
  // Nested hosts get the same templates, under their own node name (as the simulator names them: the VM name).
  const sim = await startSimulator({
    seed: seedFor(context),
    latencyScale,
    nestedSeed: (vm) => seedFor(context, nestedNode(vm)),
  });
  return {
    url: sim.url,
    endpoint: { url: sim.url, tokenId: sim.tokenId, tokenSecret: sim.tokenSecret, fingerprint: sim.fingerprint },
    // Poll often: simulated tasks take a tenth of real time.
    pollMs: Math.max(20, Math.round(1000 * latencyScale)),
    nestedLocator: simulatorLocator,
    portProbe: { unreachable: NO_GUEST_NETWORK },
    close: () => sim.close(),
  };
}

/** Starts a simulator seeded for all `contexts` (their nested hosts too), as `strata pve-sim --seed` serves it. */
export function startProjectSimulator(
  contexts: StackContext[],
  options: Omit<Parameters<typeof startSimulator>[0] & object, 'seed' | 'nestedSeed'>,
): ReturnType<typeof startSimulator> {
  return startSimulator({
    ...options,
    seed: projectSeed(contexts),
    nestedSeed: (vm) => projectSeed(contexts, nestedNode(vm)),
  });
}

/**
 * The stack's endpoint (PROXMOX_VE_* as `strata pve-sim` exports them) when it is a simulator running on its own
 * (the caller checks STRATA_PVE_SIMULATOR=1): its nested hosts are found through its control API and its guests have no network.
 */
export function runningSimulatorConnection(
  context: StackContext,
  env: NodeJS.ProcessEnv = process.env,
): ProxmoxConnection {
  return {
    endpoint: proxmoxEndpoint(context, env),
    pollMs: 100,
    nestedLocator: simulatorLocator,
    portProbe: { unreachable: NO_GUEST_NETWORK },
  };
}
