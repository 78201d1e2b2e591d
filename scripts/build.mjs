#!/usr/bin/env node
// Builds what the package ships, into dist/:
//   strata.mjs     the `strata` command (answers --version by itself, loads the CLI for anything else)
//   index.mjs      the library entry ('strata-iac'); simulator.mjs the Proxmox simulator ('strata-iac/simulator')
//   chunk-*.mjs    code shared between them, split per command so a run loads only what it uses
//   types/         .d.ts files for both entries (with --types; `npm pack` builds them through `prepack`)
// esbuild compiles and bundles strata's own code (~0.5 s); npm packages stay imports, resolved from node_modules.
// Written to a temporary folder and swapped in, so a run never reads half a build; a build without --types keeps
// the types already there.
// Usage: node scripts/build.mjs [--types]
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const withTypes = process.argv.includes('--types');
const temporary = join(root, `.dist-${process.pid}.tmp`);

const result = await build({
  entryPoints: {
    strata: join(root, 'src', 'cli', 'entry.ts'),
    index: join(root, 'src', 'index.ts'),
    simulator: join(root, 'src', 'proxmox', 'simulator', 'index.ts'),
  },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  write: false,
  logLevel: 'warning',
  outdir: dist,
});
rmSync(temporary, { recursive: true, force: true });
for (const file of result.outputFiles) {
  const target = join(temporary, file.path.slice(dist.length + 1));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.contents);
}
chmodSync(join(temporary, 'strata.mjs'), 0o755);

if (withTypes) emitTypes(join(temporary, 'types'));
else if (existsSync(join(dist, 'types'))) renameSync(join(dist, 'types'), join(temporary, 'types'));

const old = `${dist}.old-${process.pid}`;
try {
  renameSync(dist, old);
} catch {
  // first build: nothing to move away
}
renameSync(temporary, dist);
rmSync(old, { recursive: true, force: true });

/** Declarations through tsc; their `./x.ts` imports become `./x.js`, which TypeScript resolves to `./x.d.ts`. */
function emitTypes(outDir) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], {
    stdio: 'inherit',
  });
  for (const file of filesUnder(outDir)) {
    const text = readFileSync(file, 'utf8');
    const rewritten = text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}
