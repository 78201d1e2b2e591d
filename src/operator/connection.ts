/**
 * The Proxmox endpoint the operator works against, handed in as a capability: the API (URL, token, TLS) plus what
 * the operator cannot find out through that API, namely how to reach the API of a nested PVE host it boots and
 * whether guests' ports can be probed from here. A real host and the simulator are the same to the engine; whoever
 * starts the endpoint (the CLI for `--simulator`) fills these in.
 */
import { connect as netConnect } from 'node:net';
import type { PveEndpoint } from '../proxmox/client.ts';
import type { NestedLocator } from './nested.ts';

/** How `test` checks that a guest's port answers (`verify_ssh`). */
export interface PortProbe {
  /** Whether host:port accepts a connection within timeoutMs. Absent when guests cannot be reached from here. */
  open?: (host: string, port: number, timeoutMs: number) => Promise<boolean>;
  /** Why guests cannot be reached; the verify message says so instead of checking the port. */
  unreachable?: string;
}

export interface ProxmoxConnection {
  endpoint: PveEndpoint;
  /** Poll interval for tasks, the guest agent and nested APIs (default: settings.proxmox.poll_ms or 1000). */
  pollMs?: number;
  /** How to reach nested PVE hosts (default: settings.proxmox.nested, i.e. https://<ip>:8006). */
  nestedLocator?: NestedLocator;
  /** How verify probes guests' ports (default: a TCP connect from this machine). */
  portProbe?: PortProbe;
  /** Releases what serves the endpoint (an in-process simulator); runManifest calls it when its provider opened it. */
  close?: () => Promise<void>;
}

/** TCP connect with a deadline: the `test` verify step (SSH or any port answering). */
export async function portOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const tcpProbe: PortProbe = { open: portOpen };
