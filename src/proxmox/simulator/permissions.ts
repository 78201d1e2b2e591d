/** API token authentication and PVE's privilege model: ACL paths propagate down, a privsep token is capped by its user. */
import { type Caller, SimHttpError } from './http.ts';
import type { SimState } from './state.ts';

export function authenticate(state: SimState, header: string | undefined): Caller {
  if (!header) throw new SimHttpError(401, 'No ticket');
  const m = /^PVEAPIToken[= ]([^@\s!]+@[^@\s!]+)!([^=\s]+)[=:](\S+)$/.exec(header.trim());
  if (!m) throw new SimHttpError(401, 'authentication failure');
  const user = state.users.find((u) => u.userid === m[1]);
  const token = user?.tokens.find((t) => t.id === m[2]);
  if (!user || !token || token.secret !== m[3]) throw new SimHttpError(401, 'authentication failure');
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
