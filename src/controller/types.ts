/**
 * Contracts of the controller daemon (`strata serve`): where node specs come from and how each is protected.
 */

/** How a node proves it may read its spec (the seed's posture `auth.method`). */
export type AuthMethod = 'network' | 'site_token' | 'node_token';

export const AUTH_METHODS: readonly AuthMethod[] = ['network', 'site_token', 'node_token'];

/** One node the controller serves: its identity, its posture's auth method and its fully resolved spec. */
export interface NodeEntry {
  identity: string;
  auth: AuthMethod;
  spec: unknown;
  /** Where the node was declared (e.g. `stack prod, component edge-vm`), for logs and errors; never served. */
  origin?: string;
}

/**
 * Where specs come from. A source keeps an immutable snapshot and `reload()` swaps in a new one only once it is
 * complete, so a request that already looked a node up keeps the old answer and a failed reload changes nothing.
 */
export interface SpecSource {
  /** Node identities, sorted. */
  identities(): string[];
  /** The node's entry (identity, auth method, spec), or undefined when no such node exists. */
  node(identity: string): NodeEntry | undefined;
  /** The node's resolved spec, or undefined when no such node exists. */
  spec(identity: string): unknown | undefined;
  /** Re-reads the underlying data; rejects (leaving the current snapshot in place) when it cannot be read. */
  reload(): Promise<void>;
}

/** Secrets the daemon checks bearer tokens against; re-read on every reload (key rotation without restart). */
export interface Credentials {
  /** HMAC key that signs node tokens (32 bytes or more); without it, node tokens are refused. */
  signingKey?: Buffer;
  /** The shared token of the `site_token` posture; without it, site tokens are refused. */
  siteToken?: string;
  /** An extra bearer token accepted only for the repository endpoints. */
  repoToken?: string;
}

/** Node identities are host names: they appear in URLs and token claims, so the alphabet is small on purpose. */
export const IDENTITY_PATTERN = /^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$/;

export function isValidIdentity(identity: string): boolean {
  return IDENTITY_PATTERN.test(identity) && !identity.includes('..');
}
