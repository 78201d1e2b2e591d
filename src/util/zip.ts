/**
 * Reads a zip archive, as CI forges serve artifacts: stored and deflated entries, no ZIP64 (artifacts of plans are
 * far below 4 GiB). Entries come back by their path inside the archive; folders are left out.
 */
import { inflateRawSync } from 'node:zlib';
import { StrataError } from '../errors.ts';

const END_OF_DIRECTORY = 0x06054b50;
const DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;

function endOfDirectory(data: Buffer): number {
  // The record is 22 bytes plus a comment of up to 65,535.
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 0xffff); i--) {
    if (data.readUInt32LE(i) === END_OF_DIRECTORY) return i;
  }
  throw new StrataError('not a zip archive (no end-of-directory record)');
}

export function readZip(data: Buffer): Map<string, Buffer> {
  const end = endOfDirectory(data);
  const count = data.readUInt16LE(end + 10);
  let offset = data.readUInt32LE(end + 16);
  const entries = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (data.readUInt32LE(offset) !== DIRECTORY_ENTRY) throw new StrataError('corrupt zip archive (directory)');
    const method = data.readUInt16LE(offset + 10);
    const size = data.readUInt32LE(offset + 20);
    const nameLength = data.readUInt16LE(offset + 28);
    const skip = nameLength + data.readUInt16LE(offset + 30) + data.readUInt16LE(offset + 32);
    const local = data.readUInt32LE(offset + 42);
    const name = data.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + skip;
    if (name.endsWith('/')) continue;
    if (data.readUInt32LE(local) !== LOCAL_HEADER) throw new StrataError(`corrupt zip archive (entry ${name})`);
    const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
    const raw = data.subarray(start, start + size);
    if (method === 0) entries.set(name, Buffer.from(raw));
    else if (method === 8) entries.set(name, inflateRawSync(raw));
    else
      throw new StrataError(`zip entry ${name} uses compression method ${method}; only stored and deflated are read`);
  }
  return entries;
}
