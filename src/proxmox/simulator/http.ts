/**
 * Request and response plumbing shared by every route: PVE's JSON envelope (`{ data }`, errors in `message` and
 * the HTTP reason phrase), its parameter-verification errors, parameter reading (query string, form or JSON body)
 * and the route table.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StrataError } from '../../errors.ts';
import type { SimUser } from './state.ts';

/** An API error as PVE would send it; also what inject() throws for a malformed fault. */
export class SimHttpError extends StrataError {
  readonly pveMessage: string;
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(
      errors
        ? `${message} ${Object.entries(errors)
            .map(([k, v]) => `${k}: ${v}`)
            .join('; ')}`
        : message,
    );
    this.pveMessage = message;
  }
}

/** PVE's answer to parameters that fail its schema: 400 with one message per parameter. */
export function invalidParams(errors: Record<string, string>): SimHttpError {
  return new SimHttpError(400, 'Parameter verification failed.', errors);
}

/** Who is calling: an API token of a user. */
export interface Caller {
  user: SimUser;
  tokenId: string;
  privsep: boolean;
  tokenAcl: Record<string, string[]>;
  /** `user@realm!token`, as it appears in UPIDs. */
  name: string;
}

export interface Ctx {
  caller: Caller;
  params: Record<string, string>;
  path: Record<string, string>;
  /** Extra envelope fields, e.g. `total` of a task log page. */
  envelope: Record<string, unknown>;
}

export type Handler = (ctx: Ctx) => unknown;

/** Routes by method and path pattern; `{name}` matches one path segment and is handed to the handler decoded. */
export class Router {
  readonly #routes: Array<{ method: string; re: RegExp; keys: string[]; handler: Handler }> = [];

  add(method: string, pattern: string, handler: Handler): void {
    const keys: string[] = [];
    const re = new RegExp(
      `^${pattern.replace(/\{(\w+)\}/g, (_m, key: string) => {
        keys.push(key);
        return '([^/]+)';
      })}$`,
    );
    this.#routes.push({ method, re, keys, handler });
  }

  match(method: string, path: string): { handler: Handler; path: Record<string, string> } | undefined {
    for (const route of this.#routes) {
      const m = route.re.exec(path);
      if (!m || route.method !== method) continue;
      const pathParams: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        pathParams[key] = decodeURIComponent(m[i + 1]);
      });
      return { handler: route.handler, path: pathParams };
    }
    return undefined;
  }
}

export function send(res: ServerResponse, status: number, body: unknown, reason?: string): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  // The reason phrase is where PVE puts its error text; it must be one latin-1 line.
  if (reason)
    res.statusMessage = reason
      .replace(/[\r\n]+/g, ' ')
      .replace(/[^\x20-\x7e]/g, '?')
      .slice(0, 500);
  res.setHeader('Content-Type', 'application/json;charset=UTF-8');
  res.setHeader('Cache-Control', 'max-age=0');
  res.end(JSON.stringify(body));
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new SimHttpError(413, 'request entity too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Query parameters, then (POST and PUT) the form or JSON body on top; booleans in JSON become '1'/'0'. */
export async function readParams(req: IncomingMessage, url: URL, method: string): Promise<Record<string, string>> {
  const params: Record<string, string> = Object.fromEntries(url.searchParams);
  if (method !== 'POST' && method !== 'PUT') return params;
  const body = await readBody(req);
  const type = String(req.headers['content-type'] ?? '');
  if (body && type.includes('application/json')) {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    for (const [k, v] of Object.entries(parsed)) params[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  } else if (body) {
    Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
  }
  return params;
}
