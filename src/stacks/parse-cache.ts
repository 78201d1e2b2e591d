/**
 * A persistent, content-addressed cache of parsed stack manifests (docs/stacks.md, "The parse cache"). An entry is
 * the parsed YAML of one file's text, keyed by the SHA-256 of that text; a pack per stacks folder holds the entries
 * runs used, under `$XDG_CACHE_HOME/strata/manifests/` (default `~/.cache/strata/manifests/`), its lines sorted by
 * hash so that a run looks up the few entries it needs without decoding the rest. A run that parsed at least a tenth
 * of what it read anew writes the pack again with what it used added; entries no run used in the last 20 writes are
 * dropped (the old versions of edited files), so runs that use different parts of a repository (describe affected,
 * one component, all stacks) do not push each other's entries out. A pack written by another strata version or with
 * other parser limits is ignored. Packs are replaced atomically (concurrent runs each write a whole, valid pack) and
 * the folder is kept under 64 MB by removing the least recently written packs. Text that fails to parse is never
 * cached, so errors keep their line and column. `--no-cache` or `STRATA_NO_CACHE=1` turns it off.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineLimits } from '../data/limits.ts';
import { isPlainMap } from '../data/merge.ts';
import { AppendList, IncludeRef, UNSET, YamlFunction } from '../data/yaml.ts';
import { strataCacheDir } from '../util/cache-dir.ts';
import { writeCacheFileSync } from '../util/fs.ts';
import { VERSION } from '../util/version.ts';
import { mergedPack, SortedPack } from './sorted-pack.ts';

/** How many manifest texts this process parsed, and how many it took from the cache (`--verbose` prints them). */
export const parseCounters = { parsed: 0, fromCache: 0 };

export const PARSE_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** The key of a special value in an encoded entry: no YAML key of a stack file holds a NUL character. */
const MARK = '\u0000';

export class ParseCache {
  readonly #file: string;
  readonly #header: string;
  readonly #maxBytes: number;
  #stored: SortedPack | undefined;
  readonly #used = new Map<string, string>();
  /** The text get() last missed and its hash: set() follows with the same text once it is parsed. */
  #missed: { text: string; hash: string } | undefined;
  /** Entries this run took from the pack, and parses it added, since the pack was last written. */
  #hits = 0;
  #added = 0;

  constructor(
    stacksBase: string,
    limits: Pick<EngineLimits, 'maxYamlValues' | 'maxYamlDepth'>,
    options: { dir?: string; maxBytes?: number } = {},
  ) {
    const dir = options.dir ?? strataCacheDir('manifests');
    this.#file = join(dir, `${sha256(stacksBase).slice(0, 24)}.pack`);
    this.#header = JSON.stringify({
      format: 2,
      strata: VERSION,
      limits: [limits.maxYamlValues, limits.maxYamlDepth],
    });
    this.#maxBytes = options.maxBytes ?? PARSE_CACHE_MAX_BYTES;
  }

  /** The parsed value of this text, if a run parsed the same text before; `file` is where it is read now. */
  get(text: string, file: string): unknown {
    const hash = sha256(text);
    const line = this.#load().get(hash);
    if (line === undefined) {
      this.#missed = { text, hash };
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.slice(2));
    } catch {
      return undefined; // a line damaged on disk is a miss
    }
    this.#used.set(hash, line);
    this.#hits++;
    parseCounters.fromCache++;
    return decode(parsed, file, line[0] === '1');
  }

  /** Records a successful parse (values JSON cannot carry exactly, such as .nan or a binary, are not cached). */
  set(text: string, value: unknown): void {
    const state = { special: false };
    const encoded = encode(value, state);
    if (encoded === UNCACHEABLE) return;
    const hash = this.#missed?.text === text ? this.#missed.hash : sha256(text);
    this.#used.set(hash, `${state.special ? 1 : 0}\t${JSON.stringify(encoded)}`);
    this.#added++;
  }

  /**
   * When at least a tenth of what this run read was parsed anew: writes the pack again, with the entries this run used
   * marked with the new generation, the others kept as they were unless no run used them in the last KEPT_GENERATIONS
   * writes. Then keeps the folder under its size. A run that parsed fewer (one file edited) leaves the pack as it is:
   * parsing those few again next time costs less than rewriting the pack. Either way the pack file is let go of (a
   * later get() opens it again).
   */
  flush(): void {
    if (this.#added === 0 || this.#added * 10 < this.#hits + this.#added) {
      this.#stored?.close();
      return;
    }
    const stored = this.#load();
    this.#added = 0;
    this.#hits = 0;
    try {
      const bytes = mergedPack(this.#header, stored, this.#used);
      mkdirSync(join(this.#file, '..'), { recursive: true });
      writeCacheFileSync(this.#file, bytes);
      this.#stored = new SortedPack(bytes, this.#header);
      keepUnder(join(this.#file, '..'), this.#maxBytes, bytes.length);
    } catch {
      // A cache that cannot be written (read-only home, full disk) only costs speed.
    } finally {
      stored.close();
    }
  }

  #load(): SortedPack {
    this.#stored ??= SortedPack.read(this.#file, this.#header);
    return this.#stored;
  }
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Per folder, the bytes it held after this process's last look plus what this process wrote since. */
const knownBytes = new Map<string, number>();

/**
 * Keeps the folder under `maxBytes`. Listing it costs a stat per pack, so a process looks at its first write and
 * then only when its own writes may cross the bound (a process that opens engines over many folders, such as the
 * tests, would otherwise list thousands of packs per write).
 */
export function keepUnder(dir: string, maxBytes: number, written: number): void {
  const known = knownBytes.get(dir);
  if (known !== undefined && known + written <= maxBytes) knownBytes.set(dir, known + written);
  else knownBytes.set(dir, evictOldest(dir, maxBytes));
}

/** Removes the least recently written packs while the folder holds more than `maxBytes`; gives the bytes kept. */
function evictOldest(dir: string, maxBytes: number): number {
  const packs = readdirSync(dir)
    .filter((name) => name.endsWith('.pack'))
    .map((name) => {
      const stat = statSync(join(dir, name), { throwIfNoEntry: false });
      return { path: join(dir, name), size: stat?.size ?? 0, mtime: stat?.mtimeMs ?? 0 };
    })
    .sort((a, b) => b.mtime - a.mtime);
  let total = 0;
  let kept = 0;
  for (const pack of packs) {
    total += pack.size;
    if (total > maxBytes) rmSync(pack.path, { force: true });
    else kept = total;
  }
  return kept;
}

const UNCACHEABLE: unique symbol = Symbol('uncacheable');

/** A JSON form of a parsed value: YAML functions, `!append`, `!unset` and `!include` become marked maps. */
function encode(value: unknown, state: { special: boolean }): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? value : UNCACHEABLE;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const encoded = encode(item, state);
      if (encoded === UNCACHEABLE) return UNCACHEABLE;
      out.push(encoded);
    }
    return out;
  }
  if (isPlainMap(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (key === MARK || key === '__proto__') return UNCACHEABLE;
      const encoded = encode(value[key], state);
      if (encoded === UNCACHEABLE) return UNCACHEABLE;
      out[key] = encoded;
    }
    return out;
  }
  state.special = true;
  if (value === UNSET) return { [MARK]: 'unset' };
  if (value instanceof YamlFunction) {
    const args = typeof value.args === 'string' ? value.args : encode(value.args, state);
    return args === UNCACHEABLE ? UNCACHEABLE : { [MARK]: 'function', tag: value.tag, args };
  }
  if (value instanceof AppendList) {
    const items = encode(value.items, state);
    return items === UNCACHEABLE ? UNCACHEABLE : { [MARK]: 'append', items };
  }
  if (value instanceof IncludeRef) return { [MARK]: 'include', args: value.args, raw: value.raw };
  return UNCACHEABLE;
}

function decode(value: unknown, file: string, special: boolean): unknown {
  if (!special || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decode(value[i], file, true);
    return value;
  }
  const map = value as Record<string, unknown>;
  switch (map[MARK]) {
    case 'unset':
      return UNSET;
    case 'function':
      return new YamlFunction(String(map.tag), decode(map.args, file, true) as string | unknown[], file);
    case 'append':
      return new AppendList(decode(map.items, file, true) as unknown[]);
    case 'include':
      return new IncludeRef(String(map.args), map.raw === true);
  }
  for (const key of Object.keys(map)) map[key] = decode(map[key], file, true);
  return map;
}
