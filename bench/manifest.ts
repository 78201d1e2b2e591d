/**
 * `npm run bench -- manifest`: operator manifests of 100 to 20,000 nodes (a shuffled tree: nested PVE hosts up to 4
 * deep, VMs and containers, listed in random order so children often come before their parents).
 * - whole process: `strata manifest plan --manifest-file <f> --format json` (the built bundle) against a floor that
 *   starts node, reads the same file, parses it with js-yaml and prints the same JSON (min of `runs`);
 * - in process: parseManifest + planManifest per node, after a warm-up (min of `runs`);
 * - peak RSS of the whole-process run; `cpu`: user + system seconds of each process (what a shared machine changes least).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseManifest, planManifest } from '../src/operator/manifest.ts';
import { timedProcess } from './affected.ts';
import { prng } from './generate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A shuffled tree of `count` nodes: about one in ten a PVE host, hosts nested up to 4 deep. */
export function shuffledTree(count: number, seed = 7): string {
  const random = prng(seed);
  const nodes: Array<Record<string, unknown>> = [];
  const hosts: Array<{ name: string; depth: number }> = [];
  for (let i = 0; i < count; i++) {
    const host = i === 0 || random() < 0.1;
    const candidates = hosts.filter((h) => h.depth < 4);
    const parent =
      candidates.length > 0 && random() < 0.9 ? candidates[Math.floor(random() * candidates.length)] : undefined;
    const name = `${host ? 'pve' : 'vm'}-${i}`;
    const node: Record<string, unknown> = {
      name,
      type: host ? 'pve' : random() < 0.7 ? 'vm' : 'ct',
      preset: ['small', 'medium', 'large'][Math.floor(random() * 3)],
      image: 'debian-12',
      vmid: 100 + i,
    };
    if (parent) node.parent = parent.name;
    if (host) hosts.push({ name, depth: (parent?.depth ?? -1) + 1 });
    nodes.push(node);
  }
  for (let i = nodes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [nodes[i], nodes[j]] = [nodes[j], nodes[i]];
  }
  return stringify({ schema_version: 2, name: `tree-${count}`, nodes });
}

function best<T>(runs: number, fn: () => T): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    min = Math.min(min, performance.now() - started);
  }
  return min;
}

export async function benchManifest(options: { runs?: number } = {}): Promise<Record<string, unknown>> {
  const runs = options.runs ?? Number(process.env.STRATA_BENCH_RUNS ?? '3');
  const bin = process.env.STRATA_BENCH_MANIFEST_BIN ?? join(root, 'dist', 'strata.mjs');
  if (!process.env.STRATA_BENCH_MANIFEST_BIN) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  const dir = resolve(root, 'bench', '.generated', 'manifest');
  mkdirSync(dir, { recursive: true });
  const floor = join(dir, 'floor.mjs');
  // The floor prints the plan strata prints (read from a file), so both write the same bytes.
  writeFileSync(
    floor,
    "import { readFileSync } from 'node:fs';\nimport jsyaml from 'js-yaml';\njsyaml.load(readFileSync(process.argv[2], 'utf8'));\nprocess.stdout.write(readFileSync(process.argv[3]));\n",
  );
  const out: Record<string, unknown> = { runs };
  const rows: string[][] = [];
  for (const count of [100, 1_000, 5_000, 20_000]) {
    const file = join(dir, `tree-${count}.yaml`);
    const expected = join(dir, `tree-${count}.plan.json`);
    const text = shuffledTree(count);
    writeFileSync(file, text);
    const plan = planManifest(parseManifest(text, file));
    writeFileSync(expected, `${JSON.stringify(plan, null, 2)}\n`);
    const inProcessMs = best(runs + 1, () => planManifest(parseManifest(text, file)));
    let strata = { seconds: Number.POSITIVE_INFINITY, rssMb: 0 };
    let floorSeconds = Number.POSITIVE_INFINITY;
    let strataCpu = Number.POSITIVE_INFINITY;
    let floorCpu = Number.POSITIVE_INFINITY;
    for (let i = 0; i < runs; i++) {
      const s = timedProcess([bin, 'manifest', 'plan', '--manifest-file', file, '--format', 'json'], dir);
      if (s.stdout !== `${JSON.stringify(plan, null, 2)}\n`) throw new Error(`strata printed another plan for ${file}`);
      if (s.seconds < strata.seconds) strata = s;
      strataCpu = Math.min(strataCpu, s.cpu);
      const f = timedProcess([floor, file, expected], dir);
      floorSeconds = Math.min(floorSeconds, f.seconds);
      floorCpu = Math.min(floorCpu, f.cpu);
    }
    const usPerNode = (inProcessMs * 1000) / count;
    Object.assign(out, {
      [`n${count}_process_s`]: Number(strata.seconds.toFixed(3)),
      [`n${count}_floor_s`]: Number(floorSeconds.toFixed(3)),
      [`n${count}_ratio`]: Number((strata.seconds / floorSeconds).toFixed(2)),
      [`n${count}_process_cpu_s`]: Number(strataCpu.toFixed(2)),
      [`n${count}_floor_cpu_s`]: Number(floorCpu.toFixed(2)),
      [`n${count}_cpu_ratio`]: Number((strataCpu / floorCpu).toFixed(2)),
      [`n${count}_in_process_ms`]: Number(inProcessMs.toFixed(1)),
      [`n${count}_us_per_node`]: Number(usPerNode.toFixed(1)),
      [`n${count}_peak_rss_mb`]: Math.round(strata.rssMb),
    });
    rows.push([
      count.toLocaleString('en-US'),
      `${(strata.seconds * 1000).toFixed(0)} ms`,
      `${(floorSeconds * 1000).toFixed(0)} ms`,
      `${(strata.seconds / floorSeconds).toFixed(2)}x`,
      `${strataCpu.toFixed(2)} / ${floorCpu.toFixed(2)} s`,
      `${inProcessMs.toFixed(1)} ms`,
      `${usPerNode.toFixed(1)} µs`,
      `${Math.round(strata.rssMb)} MB`,
    ]);
  }
  console.log(`\nmanifest plan --format json (${bin})`);
  const head = ['nodes', 'whole process', 'floor', 'ratio', 'cpu (vs floor)', 'in process', 'per node', 'peak RSS'];
  for (const r of [head, ...rows]) console.log(`  ${r.map((c) => c.padStart(14)).join(' ')}`);
  return out;
}
