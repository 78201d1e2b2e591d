/**
 * `npm run bench -- <name>`: runs one benchmark, prints a table and writes bench/results/<name>.json.
 * Names: engine (stack engine vs the YAML parse floor), engine-small, operator (manifest graphs on the simulator),
 * startup (start-up time of the CLI and the single binary against `node -e 0`), affected (`describe affected` at
 * 1,000 stacks), manifest (operator manifests of 100 to 20,000 nodes against a js-yaml floor), depth (inheritance
 * and import chains from 100 to 5,000 levels).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAffected } from './affected.ts';
import { benchDepth, measureDepthInChild } from './depth.ts';
import { benchEngine, measureInChild } from './engine.ts';
import { benchManifest } from './manifest.ts';
import { benchOperator } from './operator.ts';
import { benchStartup } from './startup.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const benchmarks: Record<string, () => Promise<Record<string, unknown>>> = {
  engine: () => benchEngine(),
  'engine-small': () => benchEngine({ stacks: 'small' }),
  operator: () => benchOperator(),
  startup: () => benchStartup(),
  affected: () => benchAffected(),
  manifest: () => benchManifest(),
  depth: () => benchDepth(),
};

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await measureInChild(args[1], args[2]);
} else if (args[0] === '--depth-child') {
  await measureDepthInChild(args[1], args[2]);
} else {
  const names = args.length > 0 ? args : ['engine'];
  for (const name of names) {
    const run = benchmarks[name];
    if (!run) {
      console.error(`unknown benchmark '${name}'; available: ${Object.keys(benchmarks).join(', ')}`);
      process.exit(2);
    }
    const result = await run();
    const width = Math.max(...Object.keys(result).map((k) => k.length));
    console.log(`\n${name}`);
    for (const [key, value] of Object.entries(result))
      console.log(`  ${key.padEnd(width)}  ${typeof value === 'object' ? JSON.stringify(value) : value}`);
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
}
