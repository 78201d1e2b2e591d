/**
 * The forges' REST APIs (GitHub, Gitea/Forgejo, GitLab), as `ci comment` and `ci fetch-plans` call them: one place
 * for authentication, error messages and hints.
 */
import { StrataError } from '../errors.ts';

export const FORGES = ['github', 'gitea', 'gitlab'] as const;
export type Forge = (typeof FORGES)[number];

export interface ForgeClient {
  /** `path` is appended to the API base unless it is a whole URL. */
  json<T = unknown>(method: string, path: string, payload?: unknown): Promise<T>;
  /** The body of a download (following redirects; the token is not sent to another host). */
  bytes(path: string): Promise<Buffer>;
  /** The API base without a trailing slash. */
  api: string;
}

export function forgeClient(forge: Forge, api: string, token: string): ForgeClient {
  const base = api.replace(/\/+$/, '');
  const auth: Record<string, string> =
    forge === 'gitlab' ? { 'private-token': token } : { authorization: `token ${token}` };
  const request = async (method: string, path: string, payload?: unknown) => {
    const url = /^https?:\/\//.test(path) ? path : `${base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { accept: 'application/json', 'content-type': 'application/json', ...auth },
        body: payload === undefined ? undefined : JSON.stringify(payload),
      });
    } catch (error) {
      throw new StrataError(`cannot reach ${base}: ${(error as Error).cause ?? (error as Error).message}`, {
        hint: 'check STRATA_FORGE_API (GitHub: https://api.github.com, Gitea: <url>/api/v1, GitLab: <url>/api/v4)',
      });
    }
    if (!res.ok) {
      throw new StrataError(`${method} ${url} failed: HTTP ${res.status}`, {
        details: (await res.text()).slice(0, 500),
        hint:
          res.status === 401 || res.status === 403
            ? 'the token lacks a permission: GitHub needs pull-requests: write (comments) or actions: read (plans); GitLab a token with the api scope'
            : 'check --repo, --pr and --commit',
      });
    }
    return res;
  };
  return {
    api: base,
    json: async <T>(method: string, path: string, payload?: unknown) =>
      (await (await request(method, path, payload)).json()) as T,
    bytes: async (path: string) => Buffer.from(await (await request('GET', path)).arrayBuffer()),
  };
}
