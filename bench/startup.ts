/**
 * `npm run bench -- startup`: how long strata takes to start, as a ratio to `node -e 0` measured in the same run.
 * Each case runs `runs` times, the cases interleaved (so a busy moment hits them all alike); min and median per case.
 * Runs the built bundle (dist/strata.mjs, what the package installs) and, when it has been built, the single binary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const example = join(root, 'examples', 'homelab');
export const BINARY = join(root, 'release', 'strata-linux-x64');

export interface StartupCase {
  name: string;
  command: string;
  args: string[];
  cwd: string;
}

export function startupCases(options: { binary?: boolean } = {}): StartupCase[] {
  const bundle = join(root, 'dist', 'strata.mjs');
  const node = process.execPath;
  const cases: StartupCase[] = [
    { name: 'node -e 0', command: node, args: ['-e', '0'], cwd: example },
    { name: 'strata --version', command: node, args: [bundle, '--version'], cwd: example },
    { name: 'strata list stacks', command: node, args: [bundle, 'list', 'stacks'], cwd: example },
    {
      name: 'completion: strata terraform plan <TAB>',
      command: node,
      args: [bundle, '__complete', 'terraform', 'plan', ''],
      cwd: example,
    },
  ];
  if (options.binary && existsSync(BINARY)) {
    cases.push(
      { name: 'binary --version', command: BINARY, args: ['--version'], cwd: example },
      { name: 'binary list stacks', command: BINARY, args: ['list', 'stacks'], cwd: example },
    );
  }
  return cases;
}

/** A workflow of one shell step (`true`): what a command that runs a tool pays for the runner on top of start-up. */
function oneStepWorkflow(): StartupCase {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-startup-'));
  mkdirSync(join(dir, 'stacks', 'workflows'), { recursive: true });
  writeFileSync(join(dir, 'atmos.yaml'), 'stacks:\n  base_path: stacks\nworkflows:\n  base_path: stacks/workflows\n');
  writeFileSync(
    join(dir, 'stacks', 'workflows', 'one.yaml'),
    'workflows:\n  one:\n    steps:\n      - type: shell\n        command: "true"\n',
  );
  const bundle = join(root, 'dist', 'strata.mjs');
  return {
    name: 'strata workflow (one `true` step)',
    command: process.execPath,
    args: [bundle, 'workflow', 'one'],
    cwd: dir,
  };
}

export interface StartupTiming {
  name: string;
  min_ms: number;
  median_ms: number;
  min_ratio: number;
  median_ratio: number;
}

function once(c: StartupCase): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(c.command, c.args, { cwd: c.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${c.name} failed: ${result.stderr}`);
  return ms;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Times every case `runs` times, interleaved, after one warm-up run each; the first case is the baseline. */
export function measureStartup(cases: StartupCase[], runs = 15): StartupTiming[] {
  for (const c of cases) once(c);
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [j, c] of cases.entries()) samples[j].push(once(c));
  }
  const [baseMin, baseMedian] = [Math.min(...samples[0]), median(samples[0])];
  return cases.map((c, j) => ({
    name: c.name,
    min_ms: round(Math.min(...samples[j])),
    median_ms: round(median(samples[j])),
    min_ratio: round(Math.min(...samples[j]) / baseMin, 2),
    median_ratio: round(median(samples[j]) / baseMedian, 2),
  }));
}

export async function benchStartup(): Promise<Record<string, unknown>> {
  const workflow = oneStepWorkflow();
  const timings = measureStartup([...startupCases({ binary: true }), workflow]);
  rmSync(workflow.cwd, { recursive: true, force: true });
  console.log('\n| command | min | median | min / node -e 0 | median / node -e 0 |\n|---|---|---|---|---|');
  for (const t of timings) {
    console.log(`| ${t.name} | ${t.min_ms} ms | ${t.median_ms} ms | ${t.min_ratio}x | ${t.median_ratio}x |`);
  }
  const binarySize = existsSync(BINARY) ? round(statSync(BINARY).size / 1024 / 1024) : undefined;
  return { node: process.version, runs: 15, binary_mb: binarySize, timings };
}
