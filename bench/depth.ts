/**
 * Depth benchmark: one stack whose component inherits through an N-level `metadata.inherits` chain, and one stack
 * that imports an N-file chain, for N from 100 to 5,000 (limits.max_chain_depth raised to 10,000 in the generated
 * atmos.yaml). Each case runs in a fresh child process: open the engine and evaluate the stack. Linear growth means
 * the time per level stays flat.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const DEPTHS = [100, 500, 1000, 2000, 5000];
const ATMOS = `base_path: "."
components:
  terraform:
    base_path: components/terraform
stacks:
  base_path: stacks
  included_paths: ["deploy/**/*"]
limits:
  max_chain_depth: 10000
`;

function write(dir: string, path: string, text: string): void {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
}

/** A repository with `deploy/inherit` (an N-level inheritance chain) and `deploy/imports` (an N-file import chain). */
export function generateDepthRepo(dir: string, depth: number): void {
  rmSync(dir, { recursive: true, force: true });
  write(dir, 'atmos.yaml', ATMOS);
  const lines = [
    'components:',
    '  terraform:',
    '    b0:',
    '      metadata: {type: abstract}',
    '      vars: {level: 0}',
  ];
  for (let i = 1; i <= depth; i++)
    lines.push(`    b${i}:`, `      metadata: {type: abstract, inherits: [b${i - 1}]}`, `      vars: {level: ${i}}`);
  lines.push('    app:', `      metadata: {inherits: [b${depth}]}`, '      vars: {name: app}');
  write(dir, 'stacks/deploy/inherit.yaml', `${lines.join('\n')}\n`);
  write(
    dir,
    'stacks/deploy/imports.yaml',
    'import: [chain/c0]\ncomponents:\n  terraform:\n    app:\n      vars: {name: app}\n',
  );
  for (let i = 0; i < depth; i++) {
    const next = i + 1 < depth ? `import: [chain/c${i + 1}]\n` : '';
    write(dir, `stacks/chain/c${i}.yaml`, `${next}vars:\n  level: ${i}\n  tags: {c${i % 4}: ${i}}\n`);
  }
}

/** In the child: the engine over the repository, evaluating one stack. */
export async function measureDepthInChild(stack: string, dir: string): Promise<void> {
  const { openEngine } = await import('../src/services/engine.ts');
  const start = performance.now();
  const cpu = process.cpuUsage();
  const engine = await openEngine({ cwd: dir, env: {}, cache: false });
  const instances = await engine.instances({ stack });
  if (!instances.some((i) => i.name === 'app')) throw new Error(`no app in ${stack}`);
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - start) / 1000, cpuSeconds }));
}

/** Wall and CPU seconds of one case (CPU time carries over when other work shares the machine). */
function child(stack: string, dir: string): { seconds: number; cpuSeconds: number } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'run.ts'), '--depth-child', stack, dir], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`depth child '${stack}' failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

function bestOf(stack: string, dir: string): { seconds: number; cpuSeconds: number } {
  const [a, b] = [child(stack, dir), child(stack, dir)];
  return { seconds: Math.min(a.seconds, b.seconds), cpuSeconds: Math.min(a.cpuSeconds, b.cpuSeconds) };
}

export async function benchDepth(): Promise<Record<string, unknown>> {
  const dir = resolve(here, '.generated', 'depth');
  const rows: Record<string, unknown>[] = [];
  for (const depth of DEPTHS) {
    generateDepthRepo(dir, depth);
    const inherit = bestOf('deploy/inherit', dir);
    const imports = bestOf('deploy/imports', dir);
    rows.push({
      depth,
      inheritance_s: round(inherit.seconds),
      inheritance_cpu_s: round(inherit.cpuSeconds),
      inheritance_cpu_us_per_level: Math.round((inherit.cpuSeconds / depth) * 1e6),
      imports_s: round(imports.seconds),
      imports_cpu_s: round(imports.cpuSeconds),
      imports_cpu_us_per_file: Math.round((imports.cpuSeconds / depth) * 1e6),
    });
  }
  return { cases: rows, runs_per_measurement: 2, node: process.version };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
