import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StackContext } from '../../src/operator/context.ts';
import {
  type OperatorOptions,
  type ProgressEvent,
  type RunResult,
  runOperator,
  type Verb,
} from '../../src/operator/engine.ts';
import { type Manifest, parseManifest } from '../../src/operator/manifest.ts';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from '../../src/proxmox/simulator/index.ts';

export const PRESETS = {
  small: { cores: 1, memory: 1024, disk: 10 },
  large: { cores: 4, memory: 8192, disk: 40 },
};

/** A real simulator over HTTPS plus a stack context and token environment pointing at it. */
export interface Lab {
  sim: RunningSimulator;
  context: StackContext;
  env: NodeJS.ProcessEnv;
  dir: string;
  events: Array<ProgressEvent & { at: number }>;
  run(verb: Verb, manifest: Manifest, extra?: Partial<OperatorOptions>): Promise<RunResult>;
  /** Non-template VMs in the simulator (outer host), name -> count. */
  vms(): Map<string, number>;
  close(): Promise<void>;
}

export async function startLab(
  options: SimulatorOptions = {},
  proxmox: Record<string, unknown> = {},
  stack = 'lab',
): Promise<Lab> {
  const sim = await startSimulator({ latencyScale: 0, ...options });
  const dir = mkdtempSync(join(tmpdir(), 'strata-operator-'));
  const context: StackContext = {
    stack,
    vars: { presets: PRESETS, images: { 'debian-12': 'debian-12-cloud' } },
    settings: {
      proxmox: {
        endpoint: sim.url,
        node: 'pve',
        fingerprint: sim.fingerprint,
        poll_ms: 10,
        nested: { locator: 'simulator' },
        ...proxmox,
      },
    },
  };
  const env = { ...process.env, STRATA_PVE_TOKEN: `${sim.tokenId}=${sim.tokenSecret}` };
  const events: Lab['events'] = [];
  return {
    sim,
    context,
    env,
    dir,
    events,
    run: (verb, manifest, extra = {}) =>
      runOperator(verb, {
        manifest,
        context,
        env,
        stateDir: join(dir, 'state'),
        workDir: dir,
        onProgress: (event) => events.push({ ...event, at: performance.now() }),
        ...extra,
      }),
    vms: () => {
      const counts = new Map<string, number>();
      for (const vm of (sim.state as { vms: Array<{ name: string; template: boolean }> }).vms) {
        if (!vm.template) counts.set(vm.name, (counts.get(vm.name) ?? 0) + 1);
      }
      return counts;
    },
    close: async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function manifest(yaml: string): Manifest {
  return parseManifest(yaml, 'test.yaml');
}

/** A nested manifest: a PVE host with two children, and a sibling VM on the outer host. */
export const NESTED = `
schema_version: 2
name: lab
pattern: tiered
settings: { verify_ssh: false, on_error: stop }
nodes:
  - { name: host, type: pve, preset: large, image: debian-12 }
  - { name: web, type: vm, preset: small, image: debian-12, parent: host }
  - { name: db, type: vm, preset: small, image: debian-12, parent: host }
  - { name: util, type: vm, preset: small, image: debian-12 }
`;

/** A flat manifest of n independent VMs. */
export function flat(n: number, settings = '{ verify_ssh: false }'): Manifest {
  const nodes = Array.from({ length: n }, (_, i) => `  - { name: vm${i}, type: vm, preset: small, image: debian-12 }`);
  return manifest(`schema_version: 2\nname: flat\nsettings: ${settings}\nnodes:\n${nodes.join('\n')}\n`);
}
