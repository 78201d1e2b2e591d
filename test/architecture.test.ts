/**
 * The layer check (scripts/check-deps.mjs, .dependency-cruiser.cjs) passes on this repository and fails on each
 * thing it forbids, shown on small trees that hold exactly one offending import each.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { checkLayers } from '../scripts/check-deps.ts';
import { repoRoot } from './helpers/shared.ts';

/** Checks a tree made of `files` (paths under the root) and the repository's tsconfig.json. */
async function checkTree(files: Record<string, string>): Promise<{ ok: boolean; output: string }> {
  const root = mkdtempSync(join(tmpdir(), 'strata-layers-'));
  try {
    copyFileSync(join(repoRoot, 'tsconfig.json'), join(root, 'tsconfig.json'));
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    return await checkLayers(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('the repository passes the layer check', async () => {
  const { ok, output } = await checkLayers();
  assert.ok(ok, output);
  assert.match(output, /no dependency violations found/);
});

test('a tree that follows the layers passes: downward and same-layer imports', async () => {
  const { ok, output } = await checkTree({
    'src/util/text.ts': 'export const text = (v: unknown) => String(v);\n',
    'src/stacks/engine.ts': "import { text } from '../util/text.ts';\nexport const engine = text(1);\n",
    'src/gitops/plan.ts': "import { engine } from '../stacks/engine.ts';\nexport const plan = engine;\n",
    'src/components/run.ts': "import { plan } from '../gitops/plan.ts';\nexport const run = plan;\n",
    'src/cli/main.ts': "import { run } from '../components/run.ts';\nexport const main = run;\n",
  });
  assert.ok(ok, output);
});

test('an import from a lower layer into a higher one fails, type-only imports too', async () => {
  const upward = await checkTree({
    'src/cli/output.ts': 'export const useColor = () => true;\n',
    'src/components/runner.ts': "import { useColor } from '../cli/output.ts';\nexport const color = useColor();\n",
  });
  assert.ok(!upward.ok, upward.output);
  assert.match(upward.output, /layer-5-imports-upward: src\/components\/runner\.ts → src\/cli\/output\.ts/);

  const typeOnly = await checkTree({
    'src/stacks/engine.ts': 'export class StackEngine {}\n',
    'src/functions/index.ts':
      "import type { StackEngine } from '../stacks/engine.ts';\nexport type Context = { engine: StackEngine };\n",
  });
  assert.ok(!typeOnly.ok, typeOnly.output);
  assert.match(typeOnly.output, /layer-3-imports-upward: src\/functions\/index\.ts → src\/stacks\/engine\.ts/);
});

test('a cycle fails, also when it is made of type-only imports', async () => {
  const { ok, output } = await checkTree({
    'src/store/index.ts': "import type { Backend } from './files.ts';\nexport type Store = { backend: Backend };\n",
    'src/store/files.ts': "import type { Store } from './index.ts';\nexport type Backend = { store?: Store };\n",
  });
  assert.ok(!ok, output);
  assert.match(output, /no-cycles: src\/store\/(index|files)\.ts/);
});

test('a cycle between two folders of one layer fails, though no module is in a cycle', async () => {
  const { ok, output } = await checkTree({
    'src/gitops/git.ts': 'export const git = 1;\n',
    'src/gitops/plan.ts': "import { runner } from '../components/runner.ts';\nexport const plan = runner;\n",
    'src/components/runner.ts': 'export const runner = 1;\n',
    'src/components/affected.ts': "import { git } from '../gitops/git.ts';\nexport const affected = git;\n",
  });
  assert.ok(!ok, output);
  assert.match(output, /folder-cycle: src\/components\/, src\/gitops\/ import each other/);
});

test('only the CLI imports the Proxmox simulator', async () => {
  const files = {
    'src/proxmox/simulator/index.ts': 'export const startSimulator = () => undefined;\n',
    'src/cli/commands/proxmox.ts':
      "import { startSimulator } from '../../proxmox/simulator/index.ts';\nexport const sim = startSimulator;\n",
  };
  assert.ok((await checkTree(files)).ok);
  const { ok, output } = await checkTree({
    ...files,
    'src/operator/simulate.ts':
      "import { startSimulator } from '../proxmox/simulator/index.ts';\nexport const sim = startSimulator;\n",
  });
  assert.ok(!ok, output);
  assert.match(output, /simulator-only-from-cli: src\/operator\/simulate\.ts → src\/proxmox\/simulator\/index\.ts/);
});
