/**
 * Request and response plumbing shared by every route: PVE's JSON envelope (`{ data }`, errors in `message` and
 * the HTTP reason phrase), its parameter-verification errors, parameter reading as pveproxy does it (form or JSON
 * body, the query string on top, repeated keys joined with NUL) and the route table.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimHttpError } from './errors.ts';
import type { ParamSpec, RawParams, Schema } from './schema.ts';
import type { SimUser } from './state.ts';

export { invalidParams, SimHttpError } from './errors.ts';

/** Who is calling: an API token of a user, or a user with a login ticket. */
export interface Caller {
  user: SimUser;
  /** The token id, or undefined for a ticket (password) login. */
  tokenId?: string;
  privsep: boolean;
  tokenAcl: Record<string, string[]>;
  /** `user@realm!token` (or `user@realm` for a ticket), as it appears in UPIDs. */
  name: string;
}

export interface Ctx {
  caller: Caller;
  /** The request's parameters, path parameters included, checked against the route's schema. */
  params: Record<string, string>;
  /** Extra envelope fields, e.g. `total` of a task log page. */
  envelope: Record<string, unknown>;
}

export interface RouteSpec {
  /** Every parameter the endpoint takes, path parameters included (PVE rejects anything else). */
  schema: Schema;
  /** Keys the fixed schema does not list but the endpoint accepts (qemu config: net0, scsi1, …). */
  schemaFor?: (key: string) => ParamSpec | undefined;
  /** The permission check PVE runs before the parameters are verified (on the raw values). */
  check?: (caller: Caller, raw: RawParams) => void;
  /** Not behind a login (POST /access/ticket). */
  noAuth?: boolean;
  handler: (ctx: Ctx) => unknown;
}

interface Route extends RouteSpec {
  method: string;
  re: RegExp;
  keys: string[];
}

/** Routes by method and path pattern; `{name}` matches one path segment and becomes a parameter. */
export class Router {
  readonly #routes: Route[] = [];

  add(method: string, pattern: string, spec: RouteSpec): void {
    const keys: string[] = [];
    const re = new RegExp(
      `^${pattern.replace(/\{(\w+)\}/g, (_m, key: string) => {
        keys.push(key);
        return '([^/]+)';
      })}$`,
    );
    this.#routes.push({ method, re, keys, ...spec });
  }

  match(method: string, path: string): { route: RouteSpec; path: Record<string, string> } | undefined {
    for (const route of this.#routes) {
      const m = route.re.exec(path);
      if (!m || route.method !== method) continue;
      const pathParams: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        pathParams[key] = decodeURIComponent(m[i + 1]);
      });
      return { route, path: pathParams };
    }
    return undefined;
  }
}

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  reason?: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  // The reason phrase is where PVE puts its error text; it must be one latin-1 line.
  if (reason)
    res.statusMessage = reason
      .replace(/[\r\n]+/g, ' ')
      .trim()
      .replace(/[^\x20-\x7e]/g, '?')
      .slice(0, 500);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json;charset=UTF-8');
  res.setHeader('Cache-Control', 'max-age=0');
  res.end(JSON.stringify(body));
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new SimHttpError(501, 'for data too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * pveproxy's decode_urlencoded: `&` or `;` separate pairs, `+` is a space, and a key given twice keeps both values
 * joined by NUL (the schema then judges the joined value; list formats split on it).
 */
export function decodeUrlencoded(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(/[&;]/)) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s.replace(/\+/g, ' ');
      }
    };
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    if (eq < 0) {
      out[key] = out[key] ?? '';
      continue;
    }
    const value = decode(pair.slice(eq + 1));
    out[key] = key in out ? `${out[key]}\0${value}` : value;
  }
  return out;
}

/** pveproxy's extract_params: the body (POST/PUT, form or JSON) first, then the query string, which wins. */
export async function readParams(req: IncomingMessage, url: URL, method: string): Promise<RawParams> {
  let params: RawParams = {};
  if (method === 'POST' || method === 'PUT') {
    const body = await readBody(req);
    const type = String(req.headers['content-type'] ?? '')
      .split(/[;,]/)[0]
      .trim();
    if (body && type === 'application/json') {
      const parsed = JSON.parse(body) as unknown;
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) params = parsed as RawParams;
    } else if (body) {
      params = decodeUrlencoded(body);
    }
  } else if (req.headers['content-length'] && Number(req.headers['content-length']) > 0) {
    throw new SimHttpError(501, `Unexpected content for method '${method}'`);
  }
  Object.assign(params, decodeUrlencoded(url.search.slice(1)));
  delete params._dc;
  return params;
}
