/**
 * Packs of cache entries sorted by key (docs/stacks.md, "The parse cache"; the import index of describe affected):
 * a first line `header<TAB>generation`, then lines `key<TAB>generation<TAB>value` sorted by key, looked up by
 * bisecting the bytes, and written again with what other runs used kept for a number of writes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Writes of a pack an entry survives without being used. */
const KEPT_GENERATIONS = 20;

/** A pack's bytes: in memory, or a file read in pages as a search asks for them. */
interface PackBytes {
  readonly length: number;
  at(position: number): number | undefined;
  indexOf(byte: number, from: number): number;
  lastIndexOf(byte: number, from: number): number;
  slice(start: number, end: number): Buffer;
  close(): void;
}

class MemoryBytes implements PackBytes {
  readonly #buffer: Buffer;
  readonly length: number;
  constructor(buffer: Buffer) {
    this.#buffer = buffer;
    this.length = buffer.length;
  }
  at(position: number): number | undefined {
    return this.#buffer[position];
  }
  indexOf(byte: number, from: number): number {
    return this.#buffer.indexOf(byte, from);
  }
  lastIndexOf(byte: number, from: number): number {
    return from < 0 ? -1 : this.#buffer.lastIndexOf(byte, from);
  }
  slice(start: number, end: number): Buffer {
    return this.#buffer.subarray(start, end);
  }
  close(): void {}
}

const PAGE_BYTES = 16 * 1024;

/**
 * Look-ups of a pack file answered from pages before it is read whole: a look-up reads a page or two (about 50 us),
 * reading a 2.4 MB pack whole about 10 ms on these machines; describe affected with one file changed makes about 40.
 */
const PAGED_LOOKUPS = 256;

/** Descriptors of packs dropped without close() (a run that failed half-way) are closed when they are collected. */
const openDescriptors = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

/** `length` bytes of a file from `position`; fewer when it was cut short since (what was read answers, the rest misses). */
function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const got = readSync(fd, buffer, read, length - read, position + read);
    if (got === 0) break;
    read += got;
  }
  return buffer.subarray(0, read);
}

/**
 * A pack file read in 16 KB pages, each once, as a search asks for them: a few lookups in a pack of megabytes read a
 * few dozen pages, where reading it whole cost 5-10 ms on these machines. The descriptor stays open until close(),
 * so that every page comes from the same file even when another run replaces it meanwhile.
 */
class FileBytes implements PackBytes {
  readonly #fd: number;
  readonly length: number;
  readonly #pages = new Map<number, Buffer>();

  constructor(fd: number) {
    this.#fd = fd;
    this.length = fstatSync(fd).size;
    openDescriptors.register(this, fd, this);
  }

  #page(index: number): Buffer {
    let page = this.#pages.get(index);
    if (!page) {
      const start = index * PAGE_BYTES;
      page = readAt(this.#fd, start, Math.min(PAGE_BYTES, this.length - start));
      this.#pages.set(index, page);
    }
    return page;
  }

  at(position: number): number | undefined {
    return this.#page(Math.floor(position / PAGE_BYTES))[position % PAGE_BYTES];
  }

  indexOf(byte: number, from: number): number {
    for (let index = Math.floor(from / PAGE_BYTES); index * PAGE_BYTES < this.length; index++) {
      const found = this.#page(index).indexOf(byte, Math.max(0, from - index * PAGE_BYTES));
      if (found >= 0) return index * PAGE_BYTES + found;
    }
    return -1;
  }

  lastIndexOf(byte: number, from: number): number {
    const last = Math.floor((this.length - 1) / PAGE_BYTES);
    for (let index = Math.min(last, Math.floor(from / PAGE_BYTES)); index >= 0 && from >= 0; index--) {
      const page = this.#page(index);
      const found = page.lastIndexOf(byte, Math.min(page.length - 1, from - index * PAGE_BYTES));
      if (found >= 0) return index * PAGE_BYTES + found;
    }
    return -1;
  }

  /** The whole file in one buffer, in one read (not from the pages: copying them costs as much again). */
  readAll(): Buffer {
    return readAt(this.#fd, 0, this.length);
  }

  slice(start: number, end: number): Buffer {
    const parts: Buffer[] = [];
    for (let index = Math.floor(start / PAGE_BYTES); index * PAGE_BYTES < end; index++) {
      const offset = index * PAGE_BYTES;
      parts.push(this.#page(index).subarray(Math.max(0, start - offset), end - offset));
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  close(): void {
    openDescriptors.unregister(this);
    closeSync(this.#fd);
  }
}

/**
 * A pack as read: a first line `header<TAB>generation`, then entry lines `hash<TAB>generation<TAB>value` sorted by
 * hash, searched by bisecting the bytes: a run that needs a few entries of a pack of thousands (describe affected,
 * one component) reads a few pages of it, without splitting or decoding it (that cost 40 ms for a 2.4 MB pack, more
 * than parsing the files the run needed). A pack of another header is empty; a damaged line is at worst a miss. A
 * pack read from a file holds it open until close(); used again after that, it reads the file as it is then.
 */
export class SortedPack {
  readonly #file: string | undefined;
  readonly #prefix: Buffer;
  #bytes: PackBytes | undefined;
  /** Where the entry lines start. */
  #start = 0;
  /** How many times the pack was written. */
  #generation = 0;
  #lookups = 0;

  /** The pack in a file (empty when there is none or it was written with another header). */
  static read(file: string, header: string): SortedPack {
    return new SortedPack(undefined, header, file);
  }

  constructor(bytes: Buffer | undefined, header: string, file?: string) {
    this.#prefix = Buffer.from(`${header}\t`);
    this.#file = file;
    if (bytes) this.#take(new MemoryBytes(bytes));
  }

  /** The bytes, opening the file again after close(). */
  #open(): PackBytes {
    if (this.#bytes) return this.#bytes;
    let bytes: PackBytes;
    try {
      bytes = new FileBytes(openSync(this.#file as string, 'r'));
    } catch {
      bytes = new MemoryBytes(Buffer.alloc(0));
    }
    return this.#take(bytes);
  }

  #take(bytes: PackBytes): PackBytes {
    const prefix = this.#prefix;
    const firstNewline = bytes.indexOf(NEWLINE, 0);
    const valid = firstNewline > prefix.length && bytes.slice(0, prefix.length).equals(prefix);
    this.#bytes = valid ? bytes : new MemoryBytes(Buffer.alloc(0));
    if (!valid) bytes.close();
    this.#start = valid ? firstNewline + 1 : 0;
    this.#generation = valid ? Number(bytes.slice(prefix.length, firstNewline).toString('latin1')) || 0 : 0;
    return this.#bytes;
  }

  /** The pack in memory, read in one go from the file it was opened on (the same snapshot as its pages). */
  #whole(): PackBytes {
    const bytes = this.#open();
    if (!(bytes instanceof FileBytes)) return bytes;
    this.#bytes = new MemoryBytes(bytes.readAll());
    bytes.close();
    return this.#bytes;
  }

  /** Lets go of the file (a later look opens it again); a pack already read whole stays as it was read. */
  close(): void {
    if (!(this.#bytes instanceof FileBytes)) return;
    this.#bytes.close();
    this.#bytes = undefined;
  }

  /** How many times the pack was written, and every well-formed entry line with its hash and generation. */
  entries(): { generation: number; lines: Array<{ hash: string; generation: number; bytes: Buffer }> } {
    const all = this.#whole();
    const bytes = all.slice(this.#start, all.length);
    const lines: Array<{ hash: string; generation: number; bytes: Buffer }> = [];
    for (let start = 0; start < bytes.length; ) {
      const newline = bytes.indexOf(NEWLINE, start);
      const end = newline < 0 ? bytes.length : newline;
      const keyEnd = bytes.indexOf(TAB, start);
      const tab = keyEnd < 0 ? -1 : bytes.indexOf(TAB, keyEnd + 1);
      if (keyEnd > start && tab > 0 && tab < end) {
        const generation = Number(bytes.toString('latin1', keyEnd + 1, tab));
        if (Number.isInteger(generation)) {
          lines.push({ hash: bytes.toString('latin1', start, keyEnd), generation, bytes: bytes.subarray(start, end) });
        }
      }
      start = end + 1;
    }
    return { generation: this.#generation, lines };
  }

  /** The value of a hash's line (what follows its generation). */
  get(hash: string): string | undefined {
    // Past a few hundred look-ups a run needs much of the pack: bisecting it in memory is then cheaper than in pages.
    const bytes = ++this.#lookups >= PAGED_LOOKUPS ? this.#whole() : this.#open();
    const key = Buffer.from(hash, 'latin1');
    // Lines starting in [low, high) are left to search; `low` is always a line start.
    let low = this.#start;
    let high = bytes.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const start = bytes.lastIndexOf(NEWLINE, middle - 1) + 1;
      const newline = bytes.indexOf(NEWLINE, start);
      const end = newline < 0 ? bytes.length : newline;
      const order = bytes.slice(start, Math.min(start + key.length, end)).compare(key);
      if (order === 0 && bytes.at(start + key.length) === TAB) {
        const tab = bytes.indexOf(TAB, start + key.length + 1);
        return tab < 0 || tab > end ? undefined : bytes.slice(tab + 1, end).toString('utf8');
      }
      if (order < 0) low = end + 1;
      else high = start;
    }
    return undefined;
  }
}

const NEWLINE = 0x0a;
const TAB = 0x09;
const NEWLINE_BYTES = Buffer.from('\n');

/**
 * A pack's bytes for its next write: `header<TAB>generation`, then the `used` entries (hash -> value) marked with the
 * new generation and the stored lines other runs used in the last KEPT_GENERATIONS writes (or that `keep` asks for),
 * all sorted by hash.
 */
export function mergedPack(
  header: string,
  stored: SortedPack,
  used: ReadonlyMap<string, string>,
  keep?: (hash: string) => boolean,
): Buffer {
  const old = stored.entries();
  const generation = old.generation + 1;
  const lines: [string, string | Buffer][] = [];
  for (const [hash, value] of used) lines.push([hash, `${hash}\t${generation}\t${value}`]);
  for (const line of old.lines) {
    if (!used.has(line.hash) && (line.generation > generation - KEPT_GENERATIONS || keep?.(line.hash)))
      lines.push([line.hash, line.bytes]);
  }
  lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parts: Buffer[] = [Buffer.from(`${header}\t${generation}\n`)];
  for (const [, line] of lines) parts.push(typeof line === 'string' ? Buffer.from(line) : line, NEWLINE_BYTES);
  return Buffer.concat(parts);
}
