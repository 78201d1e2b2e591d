/**
 * Engine benchmark: `describe stacks` on a generated repository against the parse floor (reading and parsing the
 * same files once with the fastest YAML parser), both measured in fresh child processes in the same run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
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
  if (mode === 'floor-js-yaml' || mode === 'floor-yaml') {
    const parse = mode === 'floor-js-yaml' ? (t: string) => jsyaml.load(t) : (t: string) => parseWithYaml(t);
    for (const file of yamlFiles(join(dir, 'stacks'))) parse(readFileSync(file, 'utf8'));
  } else {
    const engine = await openEngine({ cwd: dir, env: {} });
    const result = await describeStacks(engine);
    JSON.stringify(result);
  }
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(JSON.stringify({ seconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
}

function child(mode: string, dir: string): { seconds: number; peak_rss_mb: number } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'run.ts'), '--child', mode, dir], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
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
  const best = (mode: string) => {
    const samples = Array.from({ length: runs }, () => child(mode, dir));
    return samples.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
  };
  const floorJs = best('floor-js-yaml');
  const floorYaml = best('floor-yaml');
  const describe = best('describe-stacks');
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
    peak_rss_mb: Math.round(describe.peak_rss_mb),
    runs_per_measurement: runs,
    node: process.version,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
