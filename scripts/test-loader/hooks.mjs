// Load hook: `.ts` files come from the transpile cache, or are transpiled here on a miss (a file written after the
// runner started, or a test run outside scripts/run-tests.mjs).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readCached, TRANSFORM, writeCached } from './transpile.mjs';

let esbuild;

export async function load(url, context, nextLoad) {
  // Some packages import JSON without `with { type: 'json' }`, which tsx allowed: give them a module.
  if (url.startsWith('file:') && url.endsWith('.json') && context.importAttributes?.type !== 'json') {
    return {
      format: 'module',
      source: `export default ${readFileSync(fileURLToPath(url), 'utf8')};`,
      shortCircuit: true,
    };
  }
  if (!url.startsWith('file:') || !/\.m?ts$/.test(url)) return nextLoad(url, context);
  const path = fileURLToPath(url);
  let source = readCached(path);
  if (source === undefined) {
    esbuild ??= await import('esbuild');
    source = esbuild.transformSync(readFileSync(path, 'utf8'), { ...TRANSFORM, sourcefile: path }).code;
    writeCached(path, source);
  }
  return { format: 'module', source, shortCircuit: true };
}
