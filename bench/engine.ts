/**
 * Engine benchmark: `describe stacks` on a generated repository against the parse floor (reading and parsing the
 * same files once with the fastest YAML parser), both measured in fresh child processes in the same run; then the
 * CLI as a whole process against a whole-process floor, and a warm run (the parse and result caches filled, one
 * stack file changed) against a cold one (both caches empty).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsyaml from 'js-yaml';
import { parse as parseWithYaml } from 'yaml';
import { generateRepo } from './generate.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/** Child-process modes, so each measurement has its own heap and peak RSS. */
export async function measureInChild(mode: string, dir: string): Promise<void> {
  // Modules load before the clock starts: both sides measure work, not TypeScript compilation or start-up.
  const { openEngine } = await import('../src/services/engine.ts');
  const { describeStacks } = await import('../src/services/describe.ts');
  const start = performance.now();
  const cpu = process.cpuUsage();
  if (mode === 'floor-js-yaml' || mode === 'floor-yaml') {
    const parse = mode === 'floor-js-yaml' ? (t: string) => jsyaml.load(t) : (t: string) => parseWithYaml(t);
    for (const file of yamlFiles(join(dir, 'stacks'))) parse(readFileSync(file, 'utf8'));
  } else {
    const engine = await openEngine({ cwd: dir, env: {} });
    const result = await describeStacks(engine);
    JSON.stringify(result);
  }
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const cpu_seconds = (used.user + used.system) / 1e6;
  process.stdout.write(JSON.stringify({ seconds, cpu_seconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
}

type Sample = { seconds: number; peak_rss_mb: number; cpu_seconds?: number };

const RSS_ON_EXIT =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nstrata-bench-rss "+process.resourceUsage().maxRSS+"\\n"))';

/** A whole process (start-up included): the bundled CLI or the floor script, with its wall time and peak RSS. */
function wholeProcess(args: string[], dir: string, env: NodeJS.ProcessEnv, stdoutFile?: string): Sample {
  const start = performance.now();
  const result = spawnSync(process.execPath, ['--import', RSS_ON_EXIT, ...args], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed:\n${result.stderr}`);
  if (stdoutFile) writeFileSync(stdoutFile, result.stdout);
  const rss = Number(/strata-bench-rss (\d+)/.exec(result.stderr)?.[1] ?? 0);
  return { seconds, peak_rss_mb: rss / 1024 };
}

function best(samples: Sample[]): Sample {
  return samples.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
}

/** The CLI's `describe stacks --format json` against a process that parses the same files and writes the same JSON. */
function cliFigures(dir: string, runs: number): Record<string, number> {
  spawnSync(process.execPath, [join(here, '..', 'scripts', 'build.mjs')], { stdio: 'ignore' });
  const cli = join(here, '..', 'dist', 'strata.mjs');
  const describe = best(
    Array.from({ length: runs }, () =>
      wholeProcess(
        [cli, 'describe', 'stacks', '--format', 'json'],
        dir,
        { STRATA_NO_CACHE: '1' },
        join(dir, '.describe.json'),
      ),
    ),
  );
  const floorScript = [join(here, 'floor-process.mjs'), dir];
  const floor = best(Array.from({ length: runs }, () => wholeProcess(floorScript, dir, {})));
  return {
    cli_describe_stacks_s: round(describe.seconds),
    cli_floor_s: round(floor.seconds),
    cli_ratio: round(describe.seconds / floor.seconds),
    cli_peak_rss_mb: Math.round(describe.peak_rss_mb),
  };
}

/** Cold (empty parse and result caches) against warm with one stack file changed, in process. */
function warmFigures(dir: string, runs: number): Record<string, number> {
  const home = mkdtempSync(join(tmpdir(), 'strata-bench-cache-'));
  const stackFile = yamlFiles(join(dir, 'stacks', 'orgs')).find((f) => !f.endsWith('_defaults.yaml')) as string;
  const original = readFileSync(stackFile, 'utf8');
  try {
    const env = { XDG_CACHE_HOME: home };
    const cold = best(
      Array.from({ length: runs }, () => {
        rmSync(join(home, 'strata'), { recursive: true, force: true });
        return child('describe-stacks', dir, env);
      }),
    );
    const warm = best(
      Array.from({ length: runs }, (_, run) => {
        writeFileSync(stackFile, `${original}# change ${run}\n`);
        return child('describe-stacks', dir, env);
      }),
    );
    return {
      cold_describe_s: round(cold.seconds),
      warm_one_changed_s: round(warm.seconds),
      warm_cold_ratio: round(warm.seconds / cold.seconds),
      warm_cold_cpu_ratio: round((warm.cpu_seconds ?? 0) / (cold.cpu_seconds ?? 1)),
    };
  } finally {
    writeFileSync(stackFile, original);
    rmSync(home, { recursive: true, force: true });
  }
}

function child(mode: string, dir: string, env: NodeJS.ProcessEnv = { STRATA_NO_CACHE: '1' }): Sample {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'run.ts'), '--child', mode, dir], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) throw new Error(`benchmark child '${mode}' failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

export async function benchEngine(options: { stacks?: 'small' | 'full' } = {}): Promise<Record<string, unknown>> {
  const dir = resolve(here, '.generated', 'engine');
  const size =
    options.stacks === 'small' ? { tenants: 2, regions: 2, stages: 5 } : { tenants: 10, regions: 5, stages: 10 };
  const repo = generateRepo({ dir, ...size, components: 16 });
  const runs = 3;
  const bestOf = (mode: string) => best(Array.from({ length: runs }, () => child(mode, dir)));
  const floorJs = bestOf('floor-js-yaml');
  const floorYaml = bestOf('floor-yaml');
  const describe = bestOf('describe-stacks');
  const floor = Math.min(floorJs.seconds, floorYaml.seconds);
  return {
    stacks: repo.stacks,
    instances: repo.instances,
    files: repo.files,
    describe_stacks_s: round(describe.seconds),
    parse_floor_s: round(floor),
    parse_floor_parser: floorJs.seconds <= floorYaml.seconds ? 'js-yaml' : 'yaml',
    parse_yaml_package_s: round(floorYaml.seconds),
    ratio: round(describe.seconds / floor),
    // CPU time of the same runs: what carries over when other work shares the machine.
    describe_stacks_cpu_s: round(describe.cpu_seconds ?? 0),
    parse_floor_cpu_s: round(floorJs.cpu_seconds ?? 0),
    cpu_ratio: round((describe.cpu_seconds ?? 0) / (floorJs.cpu_seconds ?? 1)),
    peak_rss_mb: Math.round(describe.peak_rss_mb),
    ...cliFigures(dir, runs),
    ...warmFigures(dir, runs),
    runs_per_measurement: runs,
    node: process.version,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
