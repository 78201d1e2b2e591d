/**
 * Authentication as pveproxy does it (a PVEAuthCookie ticket, with a CSRFPreventionToken on writes, or an API token
 * header) and PVE's privilege model: ACL paths propagate down, a privilege-separated token is capped by its user.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type Caller, SimHttpError } from './http.ts';
import type { SimState, SimUser } from './state.ts';

/** PVE tickets live two hours. */
const TICKET_LIFETIME_S = 7200;

/** Signs and checks login tickets and CSRF tokens with one key per simulator (PVE: the cluster's authkey). */
export class TicketSigner {
  readonly #key = randomBytes(32);

  #sign(text: string): string {
    return createHmac('sha256', this.#key).update(text).digest('base64').replace(/=+$/, '');
  }

  ticket(userid: string, now = Date.now()): string {
    const plain = `PVE:${userid}:${Math.floor(now / 1000)
      .toString(16)
      .toUpperCase()}`;
    return `${plain}::${this.#sign(plain)}`;
  }

  csrfToken(userid: string, now = Date.now()): string {
    const time = Math.floor(now / 1000)
      .toString(16)
      .toUpperCase();
    return `${time}:${this.#sign(`${time}:${userid}`)}`;
  }

  /** The user a ticket names, or undefined when it is forged or expired. */
  verifyTicket(ticket: string, now = Date.now()): string | undefined {
    const m = /^(PVE:([^:]+):([0-9A-F]{8}))::(.+)$/.exec(ticket);
    if (!m || !same(this.#sign(m[1]), m[4])) return undefined;
    const age = Math.floor(now / 1000) - Number.parseInt(m[3], 16);
    return age >= -300 && age < TICKET_LIFETIME_S ? m[2] : undefined;
  }

  verifyCsrf(userid: string, token: string | undefined, now = Date.now()): boolean {
    const m = /^([0-9A-F]{8}):(.+)$/.exec(token ?? '');
    if (!m || !same(this.#sign(`${m[1]}:${userid}`), m[2])) return false;
    const age = Math.floor(now / 1000) - Number.parseInt(m[1], 16);
    return age >= -300 && age < TICKET_LIFETIME_S;
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** pveproxy's extract_auth_value: `NAME=value` at the start of the header or after a blank or `;`. */
function authValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const m = new RegExp(`(?:^|[\\s;])${name}=([^;]*)`).exec(header);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

function userOf(state: SimState, userid: string): SimUser {
  const user = state.users.find((u) => u.userid === userid);
  if (!user) throw new SimHttpError(401, `no such user ('${userid}')`);
  return user;
}

/** Who the request comes from, with PVE's 401 texts; tickets need a CSRF token on anything but GET. */
export function authenticate(
  state: SimState,
  signer: TicketSigner,
  headers: IncomingHttpHeaders,
  method: string,
): Caller {
  const authorization = typeof headers.authorization === 'string' ? headers.authorization : undefined;
  const cookie = typeof headers.cookie === 'string' ? headers.cookie : undefined;
  const ticket = authValue(cookie, 'PVEAuthCookie') ?? authValue(authorization, 'PVEAuthCookie');
  if (ticket) {
    const userid = signer.verifyTicket(ticket);
    if (!userid) throw new SimHttpError(401, 'permission denied - invalid PVE ticket');
    const user = userOf(state, userid);
    const csrf = headers.csrfpreventiontoken;
    if (method !== 'GET' && !signer.verifyCsrf(userid, typeof csrf === 'string' ? csrf : undefined)) {
      throw new SimHttpError(401, 'Permission denied - invalid csrf token');
    }
    return { user, privsep: false, tokenAcl: {}, name: user.userid };
  }
  const apiToken = authValue(authorization, 'PVEAPIToken');
  if (!apiToken) throw new SimHttpError(401, 'No ticket');
  const m = /^(.*)=(.*)$/.exec(apiToken);
  if (!m) throw new SimHttpError(401, 'no tokenid specified');
  const [userid, tokenName] = m[1].split('!');
  const user = userOf(state, userid);
  const token = user.tokens.find((t) => t.id === tokenName);
  if (!token) throw new SimHttpError(401, `no such token '${tokenName}' for user '${userid}'`);
  if (!same(token.secret, m[2])) throw new SimHttpError(401, 'invalid token value!');
  return {
    user,
    tokenId: token.id,
    privsep: token.privsep,
    tokenAcl: token.privileges,
    name: `${user.userid}!${token.id}`,
  };
}

/** Effective privileges on a path: ACLs on the path and every parent propagate; a privsep token is capped by its user. */
export function privileges(caller: Caller, path: string): Set<string> {
  const collect = (acl: Record<string, string[]>) => {
    const out = new Set<string>();
    for (const [aclPath, privs] of Object.entries(acl)) {
      const prefix = aclPath === '/' ? '/' : `${aclPath}/`;
      if (aclPath === path || path.startsWith(prefix)) for (const p of privs) out.add(p);
    }
    return out;
  };
  const userPrivs = collect(caller.user.privileges);
  if (!caller.privsep) return userPrivs;
  const tokenPrivs = collect(caller.tokenAcl);
  return new Set([...tokenPrivs].filter((p) => userPrivs.has(p)));
}

export function can(caller: Caller, path: string, priv: string): boolean {
  return privileges(caller, path).has(priv);
}

/** Refuses with PVE's 403 unless the caller holds at least one of the privileges on the path. */
export function need(caller: Caller, path: string, ...anyOf: string[]): void {
  if (anyOf.some((priv) => can(caller, path, priv))) return;
  throw new SimHttpError(403, `Permission check failed (${path}, ${anyOf.join(' | ')})`);
}

/** A route's permission check on `/vms/{vmid}` (PVE substitutes the raw parameter into the path). */
export function vmPerm(...anyOf: string[]) {
  return (caller: Caller, raw: Record<string, unknown>) => need(caller, `/vms/${String(raw.vmid)}`, ...anyOf);
}
