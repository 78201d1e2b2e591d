/**
 * HCL files (`.tf`, `.tfvars`, `.hcl`, `.pkr.hcl`) as data: HashiCorp's own parser (@cdktn/hcl2json, Go compiled to
 * WebAssembly). Starting it costs ~0.7 s of CPU, more than the rest of a command, so results are kept in a
 * content-addressed cache (`$XDG_CACHE_HOME/strata/hcl/`, one JSON file per distinct text and strata version, at most
 * HCL_CACHE_MAX_ENTRIES; `--no-cache` or `STRATA_NO_CACHE=1` turns it off): a component whose files did not change
 * never starts the parser again. Text that fails to parse is never cached, so errors keep their positions.
 * Expressions that are not constant (`var.x`, function calls) come back as `${...}` strings, as in HCL's JSON form.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StrataError } from '../errors.ts';
import { cacheDisabled, strataCacheDir } from '../util/cache-dir.ts';
import { writeFileAtomicSync } from '../util/fs.ts';
import { callSync } from '../util/sync-call.ts';
import { VERSION } from '../util/version.ts';

export const HCL_EXTENSIONS = ['.tf', '.tfvars', '.hcl'];
export const HCL_CACHE_MAX_ENTRIES = 4096;

type HclDocument = Record<string, unknown>;

/** How many texts this process handed to the parser, and how many came from the cache. */
export const hclCounters = { parsed: 0, fromCache: 0 };

function cacheFile(text: string): string | undefined {
  if (cacheDisabled()) return undefined;
  const key = createHash('sha256').update(`hcl2json\0${VERSION}\0`).update(text).digest('hex');
  return join(strataCacheDir('hcl'), `${key}.json`);
}

function cached(file: string | undefined): HclDocument | undefined {
  if (!file) return undefined;
  try {
    const document = JSON.parse(readFileSync(file, 'utf8')) as HclDocument;
    hclCounters.fromCache++;
    return document;
  } catch {
    return undefined;
  }
}

function remember(file: string | undefined, document: HclDocument): void {
  hclCounters.parsed++;
  if (!file) return;
  try {
    writeFileAtomicSync(file, JSON.stringify(document));
    pruneCache(join(file, '..'));
  } catch {
    // A cache that cannot be written (read-only home, full disk) only costs the next run a parse.
  }
}

/** Keeps the folder at HCL_CACHE_MAX_ENTRIES by removing the entries written longest ago. */
function pruneCache(dir: string): void {
  const names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  if (names.length <= HCL_CACHE_MAX_ENTRIES) return;
  const byAge = names
    .map((name) => ({
      path: join(dir, name),
      mtime: statSync(join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0,
    }))
    .sort((a, b) => a.mtime - b.mtime);
  for (const { path } of byAge.slice(0, names.length - HCL_CACHE_MAX_ENTRIES)) rmSync(path, { force: true });
}

/** Parses one HCL file; a syntax error is the parser's own (callers name the file in their words). */
export async function parseHcl(text: string, file: string): Promise<HclDocument> {
  const entry = cacheFile(text);
  const hit = cached(entry);
  if (hit) return hit;
  const { parse } = await import('@cdktn/hcl2json');
  const document = (await parse(file, text)) as HclDocument;
  remember(entry, document);
  return document;
}

/** The parser's message and position of a syntax error. */
export function hclErrorPosition(error: unknown): { message: string; line?: number; col?: number } {
  const message = String((error as Error).message ?? error).replace(/^parse config: \[|\]$/g, '');
  const position = /:(\d+),(\d+)/.exec(message);
  return { message, line: position ? Number(position[1]) : undefined, col: position ? Number(position[2]) : undefined };
}

/** Parses one HCL file synchronously (manifests are read synchronously, for `!include`); errors name the place. */
export function parseHclSync(text: string, file: string): HclDocument {
  const entry = cacheFile(text);
  const hit = cached(entry);
  if (hit) return hit;
  try {
    const document = callSync<HclDocument>(import.meta.resolve('@cdktn/hcl2json'), 'parse', [file, text]);
    remember(entry, document);
    return document;
  } catch (error) {
    if (error instanceof StrataError) throw error;
    const { message, line, col } = hclErrorPosition(error);
    throw new StrataError(`invalid HCL in ${file}: ${message}`, { location: { file, line, col } });
  }
}
