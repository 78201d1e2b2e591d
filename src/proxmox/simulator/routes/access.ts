/** /access: the caller's effective permissions and API token creation. */
import { randomUUID } from 'node:crypto';
import type { SimContext } from '../context.ts';
import { invalidParams, type Router, SimHttpError } from '../http.ts';
import { need, privileges } from '../permissions.ts';

export function registerAccessRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  router.add('GET', '/access/permissions', ({ caller, params }) => {
    const paths = new Set([
      ...Object.keys(caller.user.privileges),
      ...Object.keys(caller.privsep ? caller.tokenAcl : {}),
    ]);
    if (params.path) paths.add(params.path);
    const out: Record<string, Record<string, number>> = {};
    for (const p of params.path ? [params.path] : paths) {
      const privs = privileges(caller, p);
      if (privs.size > 0) out[p] = Object.fromEntries([...privs].sort().map((x) => [x, 1]));
    }
    return out;
  });
  router.add('POST', '/access/users/{userid}/token/{tokenid}', ({ caller, path, params }) => {
    const self = caller.user.userid === path.userid;
    if (!self) need(caller, `/access/users/${path.userid}`, 'User.Modify');
    if (!/^[A-Za-z][A-Za-z0-9.\-_]+$/.test(path.tokenid)) {
      throw invalidParams({ tokenid: `value does not match the regex pattern` });
    }
    const user = state.users.find((u) => u.userid === path.userid);
    if (!user) throw new SimHttpError(500, `no such user ('${path.userid}')`);
    if (user.tokens.some((t) => t.id === path.tokenid)) throw new SimHttpError(500, 'Token already exists.');
    const privsep = params.privsep === undefined ? true : params.privsep === '1';
    const value = randomUUID();
    user.tokens.push({ id: path.tokenid, secret: value, privsep, comment: params.comment, privileges: {} });
    return {
      'full-tokenid': `${user.userid}!${path.tokenid}`,
      info: {
        privsep: privsep ? 1 : 0,
        expire: Number(params.expire ?? 0),
        ...(params.comment ? { comment: params.comment } : {}),
      },
      value,
    };
  });
}
