/**
 * How the operator reaches the API of a nested PVE host it has just booted (API delegation).
 * On real hardware the inner host answers at https://<guest-agent IP>:8006 with a self-signed certificate that is
 * pinned on first use, and a bootstrap token baked into the image (or the outer token, for images built that way)
 * is used once to create a token for this manifest. The simulator cannot listen on guest addresses, so it publishes
 * each nested host's URL and bootstrap token at /_sim/nested/<vmid>; the simulator locator reads them from there.
 */
import { connect as tlsConnect } from 'node:tls';
import type { Agent } from 'undici';
import { splitToken } from './context.ts';

export interface NestedAccess {
  url: string;
  fingerprint?: string;
  ca?: string;
  tokenId: string;
  tokenSecret: string;
}

export interface NestedHost {
  /** Manifest node name of the PVE host. */
  name: string;
  vmid: number;
  ip: string;
  /** API URL of the host the nested PVE VM runs on. */
  outerUrl: string;
  /** Credentials used on the outer host (the default bootstrap credentials). */
  outerToken: { tokenId: string; tokenSecret: string };
}

/** Returns how to reach the inner API, or throws while it is not up yet (the caller retries until its deadline). */
export type NestedLocator = (host: NestedHost) => Promise<NestedAccess>;

/** SHA-256 fingerprint of the certificate a TLS server presents. */
export function peerFingerprint(url: string, timeoutMs: number): Promise<string | undefined> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: parsed.hostname,
      port: Number(parsed.port || 443),
      rejectUnauthorized: false,
      servername: /^[\d.]+$/.test(parsed.hostname) ? undefined : parsed.hostname,
    });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no TLS answer from ${url} within ${timeoutMs} ms`));
    });
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

/** Real hosts: https://<ip>:<port>, certificate pinned on first use, bootstrap token from the environment or outer. */
export function addressLocator(options: { port?: number; scheme?: string; bootstrapToken?: string }): NestedLocator {
  return async (host) => {
    const url = `${options.scheme ?? 'https'}://${host.ip}:${options.port ?? 8006}`;
    const fingerprint = await peerFingerprint(url, 5000);
    const token = options.bootstrapToken ? splitToken(options.bootstrapToken) : host.outerToken;
    return { url, fingerprint, ...token };
  };
}

let insecure: Agent | undefined;

/** The PVE simulator: reads the nested host's endpoint from the outer simulator's control API. */
export const simulatorLocator: NestedLocator = async (host) => {
  const base = new URL(host.outerUrl);
  const { Agent, fetch } = await import('undici');
  insecure ??= new Agent({ connect: { rejectUnauthorized: false } });
  const response = await fetch(`${base.origin}/_sim/nested/${host.vmid}`, { dispatcher: insecure });
  const body = (await response.json()) as { data?: NestedAccess | null; message?: string };
  if (!response.ok || !body.data) {
    throw new Error(
      body.message?.trim() || `simulator has no nested host for VM ${host.vmid} (HTTP ${response.status})`,
    );
  }
  const { url, fingerprint, ca, tokenId, tokenSecret } = body.data;
  return { url, fingerprint, ca, tokenId, tokenSecret };
};
