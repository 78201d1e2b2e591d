/**
 * iac-driver's server protocol (seed 001, server §6) on strata's controller: /health, /specs, /spec/{identity},
 * /config/{identity} and the /{repo}.git/ layout, with iac-driver's provisioning tokens and error bodies
 * `{"error":{"code","message"}}` (E100 unknown endpoint, E200-E202 not found, E300 malformed or missing token, E301
 * bad signature or identity mismatch, E500 server side). The site-config's legacy tokens are honoured too:
 * `secrets.auth.node_tokens[identity]` for that node, `secrets.auth.site_token` for specs whose posture is not
 * node_token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { isPlainMap } from '../data/merge.ts';
import { signingKeyBytes, verifyProvisioningToken } from '../secrets/provisioning-token.ts';
import { globalMasker } from '../util/mask.ts';
import type { IacDriverSite } from './iacdriver-site.ts';
import { checkRequestPath, isDumbHttpPath, openInside } from './repo.ts';
import { fileResponse, JSON_HEADERS } from './responses.ts';
import type { RouteContext } from './routes.ts';
import { safeEqual } from './tokens.ts';

type Listener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
type Doc = Record<string, unknown>;

interface Failure {
  code: string;
  status: number;
  message: string;
}

function body(data: unknown, status = 200): Response {
  return new Response(`${globalMasker.mask(JSON.stringify(data, null, 2))}\n`, { status, headers: JSON_HEADERS });
}

function failure(f: Failure): Response {
  return body({ error: { code: f.code, message: f.message } }, f.status);
}

/** Which spec a bearer token may read for this identity, or why not. */
export function authorizeNode(
  site: IacDriverSite,
  header: string | undefined,
  identity: string,
): { spec: string } | Failure {
  // Case-sensitive `Bearer `, as iac-driver reads it.
  if (!header?.startsWith('Bearer ')) return { code: 'E300', status: 400, message: 'Provisioning token required' };
  const token = header.slice('Bearer '.length);
  const auth = isPlainMap(site.site.secrets.auth) ? (site.site.secrets.auth as Doc) : {};
  const nodeTokens = isPlainMap(auth.node_tokens) ? (auth.node_tokens as Doc) : {};
  const own = nodeTokens[identity];
  if (typeof own === 'string' && own !== '' && safeEqual(token, own)) return { spec: identity };
  const siteToken = auth.site_token;
  if (typeof siteToken === 'string' && siteToken !== '' && safeEqual(token, siteToken)) {
    const node = site.node(identity);
    if (node && node.auth !== 'node_token') return { spec: identity };
    return { code: 'E301', status: 401, message: 'Site token not accepted for this spec' };
  }
  const check = verifyProvisioningToken(signingKeyBytes(auth.signing_key), token, identity);
  if (!check.ok) return check;
  return { spec: check.claims.s };
}

function readSpec(site: IacDriverSite, header: string | undefined, identity: string): Response {
  const auth = authorizeNode(site, header, identity);
  if ('code' in auth) return failure(auth);
  const resolved = site.resolved(auth.spec);
  if (!resolved.ok) return failure(resolved);
  return body(resolved.spec);
}

/**
 * Site defaults and the secrets a node configures itself with (all but the PVE API tokens), as iac-driver's
 * /config serves them to PVE nodes. Not masked: handing these to the authenticated node is the endpoint's purpose.
 */
function readConfig(site: IacDriverSite, header: string | undefined, identity: string): Response {
  const auth = authorizeNode(site, header, identity);
  if ('code' in auth) return failure(auth);
  const { api_tokens: _dropped, ...secrets } = site.site.secrets;
  return new Response(`${JSON.stringify({ site: site.site.defaults, secrets }, null, 2)}\n`, {
    status: 200,
    headers: JSON_HEADERS,
  });
}

/** /{repo}.git/...: the served work tree's bare clone, under its folder name (and `config` for the site-config). */
async function readRepo(context: RouteContext, site: IacDriverSite, incoming: IncomingMessage, path: string) {
  const expected = context.live.credentials.repoToken;
  if (expected) {
    const header = incoming.headers.authorization;
    if (!header?.startsWith('Bearer ')) return failure({ code: 'E300', status: 401, message: 'Repo token required' });
    if (!safeEqual(header.slice(7), expected))
      return failure({ code: 'E301', status: 403, message: 'Invalid repo token' });
  }
  const match = /^\/([A-Za-z0-9._-]+)\.git\/(.+)$/.exec(path);
  if (!match) return failure({ code: 'E100', status: 400, message: `Invalid repo path: ${path}` });
  const snapshot = context.live.repo;
  if (!snapshot) return failure({ code: 'E500', status: 500, message: 'Repos not initialized' });
  const names = new Set([basename(snapshot.root), ...(snapshot.root === site.dir ? ['config'] : [])]);
  if (!names.has(match[1]) || !snapshot.mirror) {
    return failure({ code: 'E200', status: 404, message: `Repo not found: ${match[1]}` });
  }
  const checked = checkRequestPath(match[2]);
  if (!checked.ok || !isDumbHttpPath(checked.path)) {
    return failure({ code: 'E100', status: 400, message: `Invalid repo path: ${path}` });
  }
  const file = await openInside(snapshot.mirror, checked.path, { deny: context.denyFiles, servable: isDumbHttpPath });
  if (!file) return failure({ code: 'E200', status: 404, message: `File not found: ${checked.path}` });
  return fileResponse(file, incoming.method === 'HEAD');
}

/** The listener for startController's `routes`: iac-driver's endpoints over the site-config. */
export function iacDriverRoutes(site: IacDriverSite): (context: RouteContext) => Listener {
  return (context) => {
    const app = new Hono<{ Bindings: HttpBindings }>();
    // The request gate in front answers anything but GET and HEAD with 405.
    app.all('*', async (c) => {
      const incoming = c.env.incoming;
      // Trailing slashes are dropped before routing, as iac-driver does (so /spec/ is an unknown endpoint).
      const path = (incoming.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
      const header = incoming.headers.authorization;
      if (path === '/health') return body({ status: 'ok' });
      if (path === '/specs') return body({ specs: site.identities() });
      const endpoint = /^\/(spec|config)\/([^/]+)$/.exec(path);
      if (endpoint) {
        const identity = decodeURIComponent(endpoint[2]);
        context.access.reason(incoming, `${endpoint[1]} ${identity}`);
        return endpoint[1] === 'spec' ? readSpec(site, header, identity) : readConfig(site, header, identity);
      }
      if (/^\/[^/]+\.git\//.test(path)) return readRepo(context, site, incoming, path);
      return failure({ code: 'E100', status: 400, message: `Unknown endpoint: ${path}` });
    });
    app.onError((error, c) => {
      context.access.reason((c.env as HttpBindings).incoming, `internal error: ${error.message}`, true);
      return failure({ code: 'E500', status: 500, message: 'Internal server error' });
    });
    return getRequestListener(app.fetch);
  };
}
