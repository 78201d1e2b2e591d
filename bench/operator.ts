/**
 * Operator benchmark: validate + order a 2,000-node manifest and a 10,000-deep chain (YAML text, as read from disk),
 * then create a 50-node nested manifest on the PVE simulator with zero latency and with simulated latency,
 * reporting wall time against the critical path (the longest parent chain of measured node durations).
 * STRATA_BENCH_OPERATOR_LATENCY sets the simulated latency scale (default 0.25; 1 = real PVE durations:
 * clone 3 s, start 1.5 s, boot to guest agent 8 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runOperator } from '../src/operator/engine.ts';
import { parseManifest, planManifest } from '../src/operator/manifest.ts';
import { startSimulator } from '../src/proxmox/simulator/index.ts';

function time<T>(fn: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = fn();
  return { value, ms: performance.now() - started };
}

/** 2,000 nodes: 200 PVE hosts, each with 9 VMs. */
function wideManifest(): string {
  const nodes: Array<Record<string, unknown>> = [];
  for (let h = 0; h < 200; h++) {
    nodes.push({ name: `pve${h}`, type: 'pve', preset: 'large', image: 'debian-12', vmid: 10_000 + h * 10 });
    for (let c = 1; c < 10; c++) {
      nodes.push({ name: `pve${h}-vm${c}`, type: 'vm', preset: 'small', image: 'debian-12', parent: `pve${h}` });
    }
  }
  return stringify({ schema_version: 2, name: 'wide', nodes });
}

/** 10,000 nested PVE hosts in one chain, listed child-first (the order that overflowed a recursive checker). */
function chainManifest(): string {
  const nodes = Array.from({ length: 10_000 }, (_, i) => {
    const n = 9_999 - i;
    return n === 0 ? { name: 'n0', type: 'pve' } : { name: `n${n}`, type: 'pve', parent: `n${n - 1}` };
  });
  return stringify({ schema_version: 2, name: 'chain', nodes });
}

/** 50 nodes: 8 VMs and 2 PVE hosts on the outer host, 20 VMs inside each host. */
function fiftyManifest(): string {
  const nodes: Array<Record<string, unknown>> = [];
  for (let h = 0; h < 2; h++) nodes.push({ name: `host${h}`, type: 'pve', preset: 'large', image: 'debian-12' });
  for (let v = 0; v < 8; v++) nodes.push({ name: `solo${v}`, type: 'vm', preset: 'small', image: 'debian-12' });
  for (let h = 0; h < 2; h++) {
    for (let c = 0; c < 20; c++) {
      nodes.push({ name: `host${h}-vm${c}`, type: 'vm', preset: 'small', image: 'debian-12', parent: `host${h}` });
    }
  }
  return stringify({ schema_version: 2, name: 'fifty', settings: { verify_ssh: false }, nodes });
}

async function createOnSimulator(latencyScale: number, maxConcurrency: number) {
  const manifest = parseManifest(fiftyManifest(), 'fifty.yaml');
  const sim = await startSimulator({ latencyScale });
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-operator-'));
  try {
    const context = {
      stack: 'bench',
      vars: {
        presets: { small: { cores: 1, memory: 1024 }, large: { cores: 4, memory: 8192 } },
        images: { 'debian-12': 'debian-12-cloud' },
      },
      settings: {
        proxmox: {
          endpoint: sim.url,
          node: 'pve',
          fingerprint: sim.fingerprint,
          poll_ms: Math.max(5, Math.round(500 * latencyScale)),
          nested: { locator: 'simulator' },
        },
      },
    };
    const runOptions = {
      manifest,
      context,
      env: { STRATA_PVE_TOKEN: `${sim.tokenId}=${sim.tokenSecret}` },
      stateDir: join(dir, 'state'),
      workDir: dir,
      maxConcurrency,
    };
    const started = performance.now();
    const result = await runOperator('create', runOptions);
    const wall = (performance.now() - started) / 1000;
    if (!result.success) throw new Error(`bench create failed: ${result.error}`);
    // Critical path: the longest root-to-leaf sum of measured node durations.
    const duration = new Map(result.nodes.map((n) => [n.name, n.duration ?? 0]));
    const parent = new Map(manifest.nodes.map((n) => [n.name, n.parent]));
    let critical = 0;
    for (const node of manifest.nodes) {
      let sum = 0;
      for (let at: string | undefined = node.name; at; at = parent.get(at)) sum += duration.get(at) ?? 0;
      critical = Math.max(critical, sum);
    }
    const destroyStarted = performance.now();
    const destroyed = await runOperator('destroy', runOptions);
    if (!destroyed.success) throw new Error(`bench destroy failed: ${destroyed.error}`);
    return { wall, critical, destroy: (performance.now() - destroyStarted) / 1000 };
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchOperator(): Promise<Record<string, unknown>> {
  const latency = Number(process.env.STRATA_BENCH_OPERATOR_LATENCY ?? '0.25');
  const wideText = wideManifest();
  const chainText = chainManifest();
  const wide = time(() => planManifest(parseManifest(wideText, 'wide.yaml')));
  const chain = time(() => planManifest(parseManifest(chainText, 'chain.yaml')));
  const rows: Array<[string, string, string, string]> = [];
  const out: Record<string, unknown> = {
    validate_order_2000_nodes_ms: Math.round(wide.ms),
    validate_order_10000_chain_ms: Math.round(chain.ms),
    chain_levels: chain.value.levels.length,
  };
  for (const [scale, concurrency] of [
    [0, 8],
    [latency, 8],
    [latency, 50],
  ] as Array<[number, number]>) {
    const run = await createOnSimulator(scale, concurrency);
    const key = `create_50_latency_${scale}_concurrency_${concurrency}`;
    out[`${key}_wall_s`] = Number(run.wall.toFixed(2));
    out[`${key}_critical_path_s`] = Number(run.critical.toFixed(2));
    out[`${key}_destroy_s`] = Number(run.destroy.toFixed(2));
    rows.push([
      `latency x${scale}, max-concurrency ${concurrency}`,
      run.wall.toFixed(2),
      run.critical.toFixed(2),
      (run.wall / Math.max(run.critical, 0.001)).toFixed(2),
    ]);
  }
  console.log('\noperator: 50-node create on the PVE simulator (2 nested hosts x 20 VMs + 10 root nodes)');
  console.log(
    `  ${'case'.padEnd(36)} ${'wall s'.padStart(8)} ${'crit. path s'.padStart(13)} ${'wall/crit'.padStart(10)}`,
  );
  for (const [name, wall, critical, ratio] of rows) {
    console.log(`  ${name.padEnd(36)} ${wall.padStart(8)} ${critical.padStart(13)} ${ratio.padStart(10)}`);
  }
  console.log(
    `  validate+order: 2,000 nodes ${Math.round(wide.ms)} ms, 10,000-deep chain ${Math.round(chain.ms)} ms (YAML parse included)`,
  );
  return out;
}
