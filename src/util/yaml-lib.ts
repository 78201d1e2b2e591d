/**
 * The `yaml` package, loaded on its first use. Loading it costs ~40 ms, more than the rest of a small command's work,
 * and most runs never need it: stack files are read by js-yaml, JSON output needs no YAML. Node resolves the package
 * to its CommonJS build, so require() gives it synchronously, the very instance an `import` would (the ES module
 * build is for browsers). The single executable bundles it instead (scripts/build-binary.mjs swaps this module).
 */
import { createRequire } from 'node:module';

type YamlPackage = typeof import('yaml');

let loaded: YamlPackage | undefined;

export function yaml(): YamlPackage {
  loaded ??= createRequire(import.meta.url)('yaml') as YamlPackage;
  return loaded;
}
