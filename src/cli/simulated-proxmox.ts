/**
 * `--simulator`: an in-process PVE simulator seeded from the stack itself (its node, its storage, one template per
 * image), handed to the operator as its Proxmox connection, so the same manifest and stack work without a host.
 * The simulator lives here, in the CLI: the operator and the services only see the connection.
 */
import {
  imagesOf,
  type ProxmoxConnection,
  proxmoxSettings,
  type StackContext,
  simulatorLocator,
} from '../operator/index.ts';
import { defaultSeed, type SimSeed, startSimulator } from '../proxmox/simulator/index.ts';

/** The default lab plus what the stack names: its node, its storage, a template for every image. */
export function seedFor(context: StackContext, nodeName?: string): SimSeed {
  const proxmox = proxmoxSettings(context);
  const node = nodeName ?? (typeof proxmox.node === 'string' ? proxmox.node : 'pve');
  const seed = defaultSeed(node);
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
      target.items?.push({
        volid: ref.volume,
        content: path.split('/')[0] || 'iso',
        format: 'raw',
        size: 2 * 1024 ** 3,
      });
    }
    const name = ref.template ?? image;
    if (!base || seed.vms?.some((v) => v.name === name)) continue;
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

/** The simulator's guests have no network stack: verify cannot reach their ports. */
const NO_GUEST_NETWORK = 'simulator: no TCP to guests';

/** Starts a simulator for the stack; the connection closes it. `url` is where it listens. */
export async function simulatedConnection(
  context: StackContext,
  latencyScale = 0.1,
): Promise<ProxmoxConnection & { url: string }> {
  // Nested hosts get the same templates, under their own node name (as the simulator names them: the VM name).
  const sim = await startSimulator({
    seed: seedFor(context),
    latencyScale,
    nestedSeed: (vm) => seedFor(context, vm.name.split('.')[0].replace(/[^a-zA-Z0-9-]/g, '-') || `pve${vm.vmid}`),
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
