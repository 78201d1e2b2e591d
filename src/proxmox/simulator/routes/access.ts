/** /access: password logins (tickets with a CSRF token), the caller's effective permissions, API token creation. */
import { randomUUID } from 'node:crypto';
import type { SimContext } from '../context.ts';
import { SimHttpError } from '../errors.ts';
import type { Router } from '../http.ts';
import { need, privileges } from '../permissions.ts';
import { optionalBool, optionalInt, optionalString } from '../schema.ts';

const USERID = /^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/;

export function registerAccessRoutes(router: Router, sim: SimContext): void {
  const { state } = sim;
  // GET /access/ticket is the login form's dummy: it answers null without a login.
  router.add('GET', '/access/ticket', { schema: {}, noAuth: true, handler: () => null });
  router.add('POST', '/access/ticket', {
    noAuth: true,
    schema: {
      username: { type: 'string', maxLength: 64 },
      password: { type: 'string' },
      realm: optionalString,
      otp: optionalString,
      path: { type: 'string', optional: true, maxLength: 64 },
      privs: optionalString,
      'new-format': optionalBool,
      'tfa-challenge': optionalString,
    },
    handler: ({ params }) => {
      const userid =
        params.realm && !params.username.includes('@') ? `${params.username}@${params.realm}` : params.username;
      const user = USERID.test(userid) ? state.users.find((u) => u.userid === userid) : undefined;
      const renewal = sim.signer.verifyTicket(params.password) === userid;
      // Whatever went wrong, PVE only says this (no user enumeration).
      if (!user || !(renewal || user.password === params.password)) {
        throw new SimHttpError(401, 'authentication failure');
      }
      return {
        username: user.userid,
        ticket: sim.signer.ticket(user.userid),
        CSRFPreventionToken: sim.signer.csrfToken(user.userid),
        cap: {},
      };
    },
  });
  router.add('GET', '/access/permissions', {
    schema: { path: optionalString, userid: optionalString },
    handler: ({ caller, params }) => {
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
    },
  });
  router.add('POST', '/access/users/{userid}/token/{tokenid}', {
    schema: {
      userid: {
        type: 'string',
        format: (v) => (USERID.test(v) ? undefined : `value '${v}' does not look like a valid user name`),
      },
      tokenid: { type: 'string', pattern: /[A-Za-z][A-Za-z0-9.\-_]+/ },
      privsep: optionalBool,
      comment: optionalString,
      expire: { ...optionalInt, minimum: 0 },
    },
    check: (caller, raw) => {
      if (caller.user.userid !== String(raw.userid)) need(caller, `/access/users/${String(raw.userid)}`, 'User.Modify');
    },
    handler: ({ params }) => {
      const user = state.users.find((u) => u.userid === params.userid);
      if (!user) throw new SimHttpError(500, `no such user ('${params.userid}')`);
      if (user.tokens.some((t) => t.id === params.tokenid)) throw new SimHttpError(500, 'Token already exists.');
      const privsep = params.privsep === undefined ? true : params.privsep === '1';
      const value = randomUUID();
      user.tokens.push({ id: params.tokenid, secret: value, privsep, comment: params.comment, privileges: {} });
      return {
        'full-tokenid': `${user.userid}!${params.tokenid}`,
        info: {
          privsep: privsep ? 1 : 0,
          expire: Number(params.expire ?? 0),
          ...(params.comment ? { comment: params.comment } : {}),
        },
        value,
      };
    },
  });
}
