/**
 * Local Terraform modules a component uses: `module` blocks whose `source` is a relative path ("./x", "../x"),
 * followed recursively. Parsed with HashiCorp's HCL parser (@cdktn/hcl2json).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

function tfFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.tf'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

async function moduleSources(file: string): Promise<string[]> {
  let doc: Record<string, unknown>;
  try {
    // Loaded on first use: the parser starts a WebAssembly module, which most `describe affected` runs never need.
    const { parse: parseHcl } = await import('@cdktn/hcl2json');
    doc = (await parseHcl(file, readFileSync(file, 'utf8'))) as Record<string, unknown>;
  } catch {
    // A file Terraform itself cannot parse fails at plan time with a better message; here it uses no modules.
    return [];
  }
  const modules = doc.module;
  if (!modules || typeof modules !== 'object') return [];
  const out: string[] = [];
  for (const blocks of Object.values(modules as Record<string, unknown>)) {
    for (const block of Array.isArray(blocks) ? blocks : [blocks]) {
      const source = (block as Record<string, unknown> | undefined)?.source;
      if (typeof source === 'string' && (source.startsWith('./') || source.startsWith('../'))) out.push(source);
    }
  }
  return out;
}

/** Absolute folders of every local module `componentDir` uses, directly or through other local modules. */
export class ModuleResolver {
  readonly #cache = new Map<string, Promise<string[]>>();

  localModules(componentDir: string): Promise<string[]> {
    let found = this.#cache.get(componentDir);
    if (!found) {
      found = this.#walk(componentDir);
      this.#cache.set(componentDir, found);
    }
    return found;
  }

  async #walk(start: string): Promise<string[]> {
    const seen = new Set<string>([start]);
    const queue = [start];
    const out: string[] = [];
    while (queue.length > 0) {
      const dir = queue.shift() as string;
      for (const file of tfFiles(dir)) {
        for (const source of await moduleSources(file)) {
          const target = resolve(dir, source);
          if (seen.has(target) || !existsSync(target) || !statSync(target).isDirectory()) continue;
          seen.add(target);
          out.push(target);
          queue.push(target);
        }
      }
    }
    return out.sort();
  }
}
