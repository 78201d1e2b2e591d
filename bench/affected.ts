/**
 * `npm run bench -- affected`: `strata describe affected --ref HEAD~1` on a generated 1,000-stack repository (16
 * components each), whole process (the built bundle), for two commits: one stack file changed, and a catalog file
 * that every stack imports changed. Each case runs cold (no index in the git directory) and warm (the index the
 * previous run left), `runs` times, interleaved; min and median, and the size of what was left in the git directory.
 * STRATA_BENCH_AFFECTED_BIN runs another build (e.g. an older checkout's dist/strata.mjs) for comparison.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRepo } from './generate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'b',
      GIT_AUTHOR_EMAIL: 'b@example.com',
      GIT_COMMITTER_NAME: 'b',
      GIT_COMMITTER_EMAIL: 'b@example.com',
    },
  });
}

function cacheBytes(dir: string): number {
  const folder = join(dir, '.git', 'strata');
  if (!existsSync(folder)) return 0;
  return readdirSync(folder).reduce((sum, f) => sum + statSync(join(folder, f)).size, 0);
}

/** One whole-process run under /usr/bin/time: wall seconds, CPU seconds (user + system) and peak RSS. */
export function timedProcess(
  args: string[],
  cwd: string,
): { seconds: number; cpu: number; rssMb: number; stdout: string } {
  const started = performance.now();
  const result = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed:\n${result.stderr}`);
  const [user, system, rss] = result.stderr.trim().split('\n').pop()?.split(' ').map(Number) ?? [];
  return { seconds, cpu: user + system, rssMb: rss / 1024, stdout: result.stdout };
}

function runAffected(bin: string, dir: string): { seconds: number; cpu: number; items: number } {
  const run = timedProcess([bin, 'describe', 'affected', '--ref', 'HEAD~1', '--format', 'json'], dir);
  return { seconds: run.seconds, cpu: run.cpu, items: (JSON.parse(run.stdout) as unknown[]).length };
}

const stat = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] };
};

export async function benchAffected(options: { runs?: number } = {}): Promise<Record<string, unknown>> {
  const runs = options.runs ?? Number(process.env.STRATA_BENCH_RUNS ?? '3');
  const bin = process.env.STRATA_BENCH_AFFECTED_BIN ?? join(root, 'dist', 'strata.mjs');
  if (!process.env.STRATA_BENCH_AFFECTED_BIN) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  const dir = resolve(root, 'bench', '.generated', 'affected');
  const repo = generateRepo({ dir, tenants: 10, regions: 10, stages: 10, components: 16 });
  gitIn(dir, 'init', '-q', '-b', 'main');
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-q', '-m', 'base');
  const out: Record<string, unknown> = { stacks: repo.stacks, instances: repo.instances, files: repo.files, runs };
  const cases: Array<[string, () => void]> = [
    [
      'one_file',
      () => {
        const file = join(dir, 'stacks/orgs/acme/t3/r4/s5.yaml');
        writeFileSync(file, readFileSync(file, 'utf8').replace(/replicas: (\d)/, 'replicas: 9$1'));
      },
    ],
    [
      'catalog',
      () => {
        const file = join(dir, 'stacks/catalog/svc-05.yaml');
        writeFileSync(file, readFileSync(file, 'utf8').replace('Team: platform', 'Team: infrastructure'));
      },
    ],
  ];
  const rows: string[][] = [];
  for (const [name, change] of cases) {
    change();
    gitIn(dir, 'commit', '-q', '-am', name);
    const cold: number[] = [];
    const warm: number[] = [];
    const coldCpu: number[] = [];
    const warmCpu: number[] = [];
    let items = 0;
    let warmCache = 0;
    for (let i = 0; i < runs; i++) {
      rmSync(join(dir, '.git', 'strata'), { recursive: true, force: true });
      const c = runAffected(bin, dir);
      cold.push(c.seconds);
      coldCpu.push(c.cpu);
      const w = runAffected(bin, dir);
      warm.push(w.seconds);
      warmCpu.push(w.cpu);
      items = w.items;
      warmCache = cacheBytes(dir);
    }
    const [c, w] = [stat(cold), stat(warm)];
    Object.assign(out, {
      [`${name}_items`]: items,
      [`${name}_cold_min_s`]: Number(c.min.toFixed(2)),
      [`${name}_cold_median_s`]: Number(c.median.toFixed(2)),
      [`${name}_warm_min_s`]: Number(w.min.toFixed(2)),
      [`${name}_warm_median_s`]: Number(w.median.toFixed(2)),
      [`${name}_cold_cpu_min_s`]: Number(stat(coldCpu).min.toFixed(2)),
      [`${name}_warm_cpu_min_s`]: Number(stat(warmCpu).min.toFixed(2)),
      [`${name}_cache_bytes`]: warmCache,
    });
    rows.push([
      name,
      String(items),
      `${c.min.toFixed(2)} / ${c.median.toFixed(2)}`,
      stat(coldCpu).min.toFixed(2),
      `${w.min.toFixed(2)} / ${w.median.toFixed(2)}`,
      stat(warmCpu).min.toFixed(2),
      `${(warmCache / 1e6).toFixed(2)} MB`,
    ]);
  }
  console.log(`\naffected: ${repo.stacks} stacks, ${repo.instances} instances, ${repo.files} files (${bin})`);
  const head = ['case', 'items', 'cold wall min/med s', 'cold cpu s', 'warm wall min/med s', 'warm cpu s', 'cache'];
  for (const r of [head, ...rows])
    console.log(`  ${r.map((c, i) => (i === 0 ? c.padEnd(9) : c.padStart(i === 6 ? 9 : 20))).join(' ')}`);
  return out;
}
