/**
 * The files a stack file imports, read from its own data without assembling anything. Change detection
 * (`describe affected`) uses it to learn which stack manifests a file reaches at the cost of a parse. Only plain
 * imports are answered here (a path, or `{path}` with at most `skip_if_missing`): a glob, a template, a context,
 * flags that change how a file is rendered, or a `.tmpl` file make the caller assemble the manifest instead
 * (ManifestReader.assemble), which resolves every kind.
 */
import { dirname, resolve } from 'node:path';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { fileExists, GLOB_CHARS, isRemote, resolveExtension } from './manifest-paths.ts';

export interface PlainImport {
  path: string;
  skipIfMissing: boolean;
}

/**
 * A stack file's imports when every entry is plain; undefined when one needs more than a path lookup (`delimiter`:
 * the opening template delimiter, `{{` by default).
 */
export function plainImports(data: PlainMap, delimiter = '{{'): PlainImport[] | undefined {
  const raw = data.import;
  if (raw === undefined || raw === null) return [];
  const out: PlainImport[] = [];
  for (const entry of Array.isArray(raw) ? raw : [raw]) {
    let path: unknown = entry;
    let skipIfMissing = false;
    if (isPlainMap(entry)) {
      const { path: p, skip_if_missing, ...rest } = entry;
      if (Object.keys(rest).length > 0) return undefined;
      path = p;
      skipIfMissing = skip_if_missing === true;
    }
    if (typeof path !== 'string' || GLOB_CHARS.test(path) || isRemote(path) || path.includes(delimiter)) {
      return undefined;
    }
    out.push({ path, skipIfMissing });
  }
  return out;
}

/**
 * The file a plain import names, as the reader picks it: `./`/`../` relative to the importer, other paths to the
 * stacks folder; no extension tries each stack extension; `x.yaml` gives way to `x.yaml.tmpl`. Undefined when no
 * file exists. `isFile` lets a caller memoise the look-ups.
 */
export function resolvePlainImport(
  stacksBase: string,
  importer: string,
  path: string,
  isFile: (path: string) => boolean = fileExists,
): string | undefined {
  const relativeToFile = path.startsWith('./') || path.startsWith('../');
  const target = resolve(relativeToFile ? dirname(importer) : stacksBase, path);
  return resolveExtension(target, isFile);
}
