/**
 * The controller's endpoints, routed by hono: /health, /specs, /spec/<identity>, the repository as files under
 * /repo/ and as git dumb HTTP under /repo.git/. Each request reads the credentials and repository snapshot current
 * when it arrives; a reload swapping them cannot change an answer halfway.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import type { AccessLog } from './access-log.ts';
import { bearerToken, type Credential, identify, mayRead } from './auth.ts';
import { checkRequestPath, isDumbHttpPath, isServable, openInside, type RepoSnapshot } from './repo.ts';
import { fileResponse, internalError, jsonResponse, type RefusalStatus, refusal, unauthorized } from './responses.ts';
import type { Credentials, SpecSource } from './types.ts';
import { isValidIdentity } from './types.ts';

/** What a reload swaps: read once per request. */
export interface LiveState {
  credentials: Credentials;
  repo?: RepoSnapshot;
}

export interface RouteContext {
  source: SpecSource;
  live: LiveState;
  /** Real paths never served from the repository (keys). */
  denyFiles: ReadonlySet<string>;
  access: AccessLog;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Where in the repository snapshot a request path is served from, if anywhere, and which paths below that root may
 * be served (checked again on the real path, once symlinks are resolved).
 */
type Resolve = (snapshot: RepoSnapshot) => { root: string; servable: (path: string) => boolean } | undefined;

export function createRoutes(context: RouteContext): Listener {
  const { access } = context;
  const app = new Hono<{ Bindings: HttpBindings }>();

  app.get('/health', () => jsonResponse({ status: 'ok' }));
  app.get('/specs', (c) => listSpecs(context, c.env.incoming));
  app.get('/spec/:identity', (c) => readSpec(context, c.env.incoming, c.req.param('identity')));
  app.get('/repo/*', (c) =>
    serveFile(context, c.env.incoming, '/repo/', (snapshot) => ({
      root: snapshot.root,
      servable: (path) => isServable(snapshot, path),
    })),
  );
  app.get('/repo.git/*', (c) =>
    serveFile(context, c.env.incoming, '/repo.git/', (snapshot) =>
      snapshot.mirror ? { root: snapshot.mirror, servable: isDumbHttpPath } : undefined,
    ),
  );
  app.notFound((c) => refuse(access, (c.env as HttpBindings).incoming, 404, 'no such endpoint'));
  app.onError((error, c) => {
    access.reason((c.env as HttpBindings).incoming, `internal error: ${error.message}`, true);
    return internalError();
  });
  return getRequestListener(app.fetch);
}

function refuse(access: AccessLog, incoming: IncomingMessage, status: RefusalStatus, reason: string): Response {
  access.reason(incoming, reason);
  return refusal(status);
}

/** Identifies the caller with the credentials current now, and notes who it is in the access log. */
function authenticate(context: RouteContext, incoming: IncomingMessage): Credential {
  const credential = identify(incoming.headers.authorization, context.live.credentials);
  context.access.credential(incoming, credential, bearerToken(incoming));
  return credential;
}

/** Lists only the nodes the caller could read: an anonymous caller learns nothing beyond network-posture nodes. */
function listSpecs(context: RouteContext, incoming: IncomingMessage): Response {
  const credential = authenticate(context, incoming);
  if (credential.kind === 'invalid' || credential.kind === 'repo') return unauthorized(credential);
  const visible: string[] = [];
  for (const identity of context.source.identities()) {
    const node = context.source.node(identity);
    if (node && mayRead(credential, node)) visible.push(identity);
  }
  return jsonResponse({ specs: visible });
}

function readSpec(context: RouteContext, incoming: IncomingMessage, identity: string): Response {
  const credential = authenticate(context, incoming);
  // One lookup per request: a reload swapping the snapshot cannot change the answer halfway.
  const node = isValidIdentity(identity) ? context.source.node(identity) : undefined;
  const readable = node !== undefined && mayRead(credential, node);
  switch (credential.kind) {
    case 'invalid':
    case 'repo':
      return unauthorized(credential);
    case 'none':
      return readable ? jsonResponse(node.spec) : unauthorized(credential);
    case 'node':
      if (readable) return jsonResponse(node.spec);
      if (credential.identity !== identity) return refuse(context.access, incoming, 403, 'token is for another node');
      return node ? jsonResponse(node.spec) : refuse(context.access, incoming, 404, 'no such node');
    case 'site':
      if (!node) return refuse(context.access, incoming, 404, 'no such node');
      return readable ? jsonResponse(node.spec) : refuse(context.access, incoming, 403, 'node requires a node token');
  }
}

async function serveFile(
  context: RouteContext,
  incoming: IncomingMessage,
  prefix: string,
  resolve: Resolve,
): Promise<Response> {
  const { access } = context;
  const credential = authenticate(context, incoming);
  // Any valid bearer token reads the repository; nothing is readable without one, whatever the posture.
  if (credential.kind === 'none' || credential.kind === 'invalid') return unauthorized(credential);
  const snapshot = context.live.repo;
  if (!snapshot) return refuse(access, incoming, 404, 'no repository served');
  const raw = (incoming.url ?? '').split('?')[0].slice(prefix.length);
  const checked = checkRequestPath(raw);
  if (!checked.ok) return refuse(access, incoming, 400, `path refused: ${checked.reason}`);
  const target = resolve(snapshot);
  if (!target?.servable(checked.path)) return refuse(access, incoming, 404, 'not servable');
  const file = await openInside(target.root, checked.path, { deny: context.denyFiles, servable: target.servable });
  if (!file) return refuse(access, incoming, 404, 'missing or outside the repository');
  return fileResponse(file, incoming.method === 'HEAD');
}
