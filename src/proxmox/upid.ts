/** Proxmox task ids (UPIDs): PVE names every asynchronous task `UPID:node:pid:pstart:starttime:type:id:user:`. */
import { StrataError } from '../errors.ts';

export interface ParsedUpid {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

// PVE's own pattern: UPID:node:pid(8 hex):pstart(8+ hex):starttime(8 hex):type:id:user:
const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function parseUpid(upid: string): ParsedUpid {
  const m = UPID_RE.exec(upid);
  if (!m) {
    throw new StrataError(`Not a Proxmox task id (UPID): ${JSON.stringify(upid)}`, {
      hint: 'A UPID looks like UPID:pve:0000A1B2:0012C3D4:65A1B2C3:qmclone:100:root@pam:',
    });
  }
  return {
    node: m[1],
    pid: Number.parseInt(m[3], 16),
    pstart: Number.parseInt(m[4], 16),
    starttime: Number.parseInt(m[5], 16),
    type: m[6],
    id: m[7],
    user: m[8],
  };
}

/** Inverse of parseUpid, with PVE's zero-padded upper-case hex fields. */
export function formatUpid(upid: ParsedUpid): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `UPID:${upid.node}:${hex(upid.pid)}:${hex(upid.pstart)}:${hex(upid.starttime)}:${upid.type}:${upid.id}:${upid.user}:`;
}

/** parseUpid for messages: undefined instead of an error. */
export function safeParseUpid(upid: string): ParsedUpid | undefined {
  try {
    return parseUpid(upid);
  } catch {
    return undefined;
  }
}
