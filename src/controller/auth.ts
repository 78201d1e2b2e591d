/**
 * Who is asking and what they may read: bearer tokens classified against the configured secrets, and the posture
 * rule that decides whether a credential reads a node's spec.
 */
import type { IncomingMessage } from 'node:http';
import { globalMasker } from '../util/mask.ts';
import { safeEqual, verifyToken } from './tokens.ts';
import type { Credentials, NodeEntry } from './types.ts';

export type Credential =
  | { kind: 'none' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'site' }
  | { kind: 'repo' }
  | { kind: 'node'; identity: string };

/** Classifies the bearer token. Every check runs in constant time against the configured secrets. */
export function identify(header: string | undefined, current: Credentials): Credential {
  if (header === undefined) return { kind: 'none' };
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (!match) return { kind: 'invalid', reason: 'malformed authorization header' };
  const token = match[1];
  const site = current.siteToken !== undefined && safeEqual(token, current.siteToken);
  const repoToken = current.repoToken !== undefined && safeEqual(token, current.repoToken);
  if (site) return { kind: 'site' };
  if (repoToken) return { kind: 'repo' };
  if (!current.signingKey) return { kind: 'invalid', reason: 'unknown token' };
  const check = verifyToken(current.signingKey, token);
  if (!check.ok) return { kind: 'invalid', reason: `node token ${check.reason}` };
  return { kind: 'node', identity: check.claims.n };
}

/** The presented token, however malformed, so the access log can mask it out of the logged path. */
export function bearerToken(incoming: IncomingMessage): string | undefined {
  const header = incoming.headers.authorization;
  return header === undefined ? undefined : /^Bearer +(\S+)/i.exec(header)?.[1];
}

/** May this credential read this node? Missing nodes are decided by the caller, after this. */
export function mayRead(credential: Credential, node: NodeEntry): boolean {
  if (credential.kind === 'invalid' || credential.kind === 'repo') return false;
  if (node.auth === 'network') return true;
  if (credential.kind === 'node') return credential.identity === node.identity;
  if (credential.kind === 'site') return node.auth !== 'node_token';
  return false;
}

/** Reads the token material (a value or a function, called at start and on every reload) and masks its secrets. */
export async function readCredentials(
  from: Credentials | (() => Promise<Credentials> | Credentials) | undefined,
): Promise<Credentials> {
  const value = typeof from === 'function' ? await from() : from;
  const credentials = value ?? {};
  // Registered with the masker so no log line, error message, served spec or served file can ever hold them.
  for (const secret of credentialValues(credentials)) globalMasker.add(secret);
  return credentials;
}

/** The credentials as text, in the ways they are written down (the key: hex either case, base64). */
export function credentialValues(credentials: Credentials): string[] {
  const key = credentials.signingKey;
  const values = [
    credentials.siteToken,
    credentials.repoToken,
    key?.toString('hex'),
    key?.toString('hex').toUpperCase(),
    key?.toString('base64'),
  ];
  return values.filter((v): v is string => v !== undefined && v.length > 0);
}
