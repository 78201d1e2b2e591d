// The layer check (`npm run check:deps`): dependency-cruiser with .dependency-cruiser.cjs over src/, per module
// (cycles, upward imports, the simulator entry), then per folder: a cycle between two folders of one layer, which
// no single module shows (dependency-cruiser finds cycles between modules only).
// Usage: node --import tsx scripts/check-deps.ts [root]  (root holds src/ and tsconfig.json; default: this
// repository). Also a module: test/architecture.test.ts runs checkLayers on small trees.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** Runs the check on `root`; `ok` when nothing is found, `output` says what was. */
export async function checkLayers(root = repo): Promise<{ ok: boolean; output: string }> {
  const options = await extractDepcruiseOptions(resolve(repo, '.dependency-cruiser.cjs'));
  const tsConfig = extractTSConfig(resolve(root, 'tsconfig.json'));
  const modules = await cruise(['src'], { ...options, baseDir: root, outputType: 'err' }, {}, { tsConfig });
  const folders = await cruise(['src'], { ...options, baseDir: root, collapse: '^src/[^/]+/' }, {}, { tsConfig });
  const cycles = folderCycles(folders.output as ICruiseResult);
  const lines = cycles.map((set) => `  error folder-cycle: ${set.join(', ')} import each other\n`);
  const output = `${modules.output}${lines.length > 0 ? `\n${lines.join('')}\nx ${lines.length} folder cycle(s)\n` : ''}`;
  return { ok: modules.exitCode === 0 && cycles.length === 0, output };
}

/** Strongly connected sets of more than one folder (Tarjan): folders that import each other, maybe through others. */
function folderCycles(result: ICruiseResult): string[][] {
  const edges = new Map<string, string[]>();
  for (const module of result.modules) {
    edges.set(
      module.source,
      module.dependencies.map((d) => d.resolved).filter((to) => to !== module.source),
    );
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sets: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
    }
    if (low.get(node) === index.get(node)) {
      const set: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        set.push(member);
      } while (member !== node);
      if (set.length > 1) sets.push(set.reverse());
    }
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return sets;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(repo, 'scripts', 'check-deps.ts')) {
  const { ok, output } = await checkLayers(process.argv[2] ? resolve(process.argv[2]) : repo);
  process.stdout.write(output);
  process.exit(ok ? 0 : 1);
}
