#!/usr/bin/env node
// `npm run build:binary`: strata as one file for linux-x64 (release/strata-linux-x64), a Node single executable
// application: every module (strata's and its npm dependencies') bundled by esbuild into one CommonJS script, the
// HCL parser's WebAssembly embedded as a SEA asset, a V8 code cache for the script, and the blob injected into a
// copy of the running node binary with postject. Runs anywhere that binary runs, with no node_modules.
// Usage: node scripts/build-binary.mjs [--out <file>]
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outIndex = process.argv.indexOf('--out');
const output = resolve(outIndex > 0 ? process.argv[outIndex + 1] : join(root, 'release', 'strata-linux-x64'));
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(
    `build:binary makes a linux-x64 executable from the running node; this is ${process.platform}-${process.arch}`,
  );
  process.exit(2);
}

/** The SEA asset holding @cdktn/hcl2json's gzipped WebAssembly (the package reads it from beside its own files). */
export const HCL_WASM_ASSET = 'hcl2json/main.wasm.gz';
const hclPackage = dirname(dirname(fileURLToPath(import.meta.resolve('@cdktn/hcl2json'))));

/**
 * @cdktn/hcl2json reads `main.wasm.gz` from `__dirname/..`, which a single script does not have: its loader is
 * pointed at the embedded asset instead. The build fails if the package's loader no longer looks as expected.
 */
const embedHclWasm = {
  name: 'embed-hcl-wasm',
  setup(esbuild) {
    esbuild.onLoad({ filter: /@cdktn[\\/]hcl2json[\\/]build[\\/]bridge\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const read = 'await fs.readFile((0, path_1.join)(__dirname, "..", "main.wasm.gz"))';
      if (!source.includes(read)) throw new Error(`${args.path}: the wasm loader changed; update ${import.meta.url}`);
      const asset = `Buffer.from(require("node:sea").getAsset(${JSON.stringify(HCL_WASM_ASSET)}))`;
      return { contents: source.replace(read, asset), loader: 'js' };
    });
  },
};

/**
 * A single executable's script cannot `import()` (Node 20 has no dynamic-import callback there), even a built-in
 * module: each `import('node:x')` becomes a tiny CommonJS module that requires it, which esbuild then bundles.
 */
const requireBuiltins = {
  name: 'require-builtins',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^[a-z:_/]+$/ }, (args) =>
      args.kind === 'dynamic-import' && isBuiltin(args.path) ? { path: args.path, namespace: 'builtin' } : undefined,
    );
    esbuild.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * strata's ES modules load the `yaml` package on first use with a require() from their own folder (src/util/
 * yaml-lib.ts); a single executable has no folder to require from, so there the package is bundled and imported
 * at start, like every other one.
 */
const bundleYaml = {
  name: 'bundle-yaml',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]src[\\/]util[\\/]yaml-lib\.ts$/ }, (args) => {
      if (!readFileSync(args.path, 'utf8').includes('export function yaml(): YamlPackage')) {
        throw new Error(`${args.path}: its export changed; update ${import.meta.url}`);
      }
      return {
        contents: "import * as yamlPackage from 'yaml';\nexport const yaml = () => yamlPackage;\n",
        loader: 'ts',
      };
    });
  },
};

/** Debian's node carries its debug symbols (13 MB); `strip` (binutils) drops them when it is there. */
function stripSymbols(file) {
  try {
    execFileSync('strip', [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    console.warn('build:binary: no strip on PATH (binutils); the binary keeps the symbols of the node it copies');
  }
}

const work = mkdtempSync(join(tmpdir(), 'strata-sea-'));
try {
  const script = join(work, 'strata.cjs');
  await build({
    entryPoints: [join(root, 'src', 'cli', 'entry.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: script,
    // Smaller to read and compile at every start (names kept: errors and classes keep theirs).
    minify: true,
    keepNames: true,
    // Never loaded: pg's optional native binding (only with NODE_PG_FORCE_NATIVE) and the Go wasm runner's
    // fallback for Node versions without a global `performance`.
    external: ['pg-native', 'performance'],
    plugins: [embedHclWasm, requireBuiltins, bundleYaml],
    logLevel: 'warning',
    // ES modules inside (fdir's `createRequire(import.meta.url)`) get the executable's own URL: a CommonJS script
    // has no import.meta, and a single executable has no other file.
    banner: { js: 'var __strata_module_url = require("node:url").pathToFileURL(process.execPath).href;' },
    define: { 'import.meta.url': '__strata_module_url' },
  });
  const config = join(work, 'sea-config.json');
  const blob = join(work, 'strata.blob');
  writeFileSync(
    config,
    JSON.stringify({
      main: script,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets: { [HCL_WASM_ASSET]: join(hclPackage, 'main.wasm.gz') },
    }),
  );
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  const binary = join(work, 'strata');
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  stripSymbols(binary);
  const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(
    process.execPath,
    [postject, binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
    // postject warns about every ELF note section it cannot name; its output matters only when it fails.
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  mkdirSync(dirname(output), { recursive: true });
  renameSync(binary, output);
  console.log(`${output} (${(readFileSync(output).length / 1024 / 1024).toFixed(1)} MB, node ${process.version})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
