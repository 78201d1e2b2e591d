/**
 * A forge's REST API as the CI pipelines strata writes use it, over real HTTP: request comments, the request a
 * commit was merged from, and artifacts (GitHub and Gitea by name with a redirected download; GitLab per pipeline
 * job). The simulated runners register what they upload here, and strata's `ci comment` / `ci fetch-plans` read it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Request {
  number: number;
  head: string;
  /** The commit the merge produced on the default branch (once merged). */
  mergeCommit?: string;
}

export interface StoredArtifact {
  id: number;
  name: string;
  zip: Buffer;
  /** GitLab: the pipeline and job that made it. */
  pipeline?: number;
  job?: { id: number; name: string; status: string };
  /** The run that uploaded it (GitHub/Gitea download-artifact without a name takes a run's artifacts). */
  run?: number;
}

export class FakeForge {
  readonly comments = new Map<number, Array<{ id: number; body: string }>>();
  readonly requests: Request[] = [];
  readonly artifacts: StoredArtifact[] = [];
  /** GitLab pipelines: id and the commit they ran for. */
  readonly pipelines: Array<{ id: number; sha: string }> = [];
  readonly calls: string[] = [];
  private server?: Server;
  private nextId = 1000;
  port = 0;

  constructor(readonly token: string) {}

  id(): number {
    return this.nextId++;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => res.writeHead(500).end(String(error)));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  stop(): void {
    this.server?.close();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.calls.push(`${req.method} ${url.pathname}`);
    const send = (status: number, data: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
    };
    const blob = /^\/blob\/(\d+)$/.exec(url.pathname);
    if (blob) {
      // A storage host's signed URL: no token needed.
      const artifact = this.artifacts.find((a) => a.id === Number(blob[1]));
      if (!artifact) return send(404, {});
      res.writeHead(200, { 'content-type': 'application/zip' }).end(artifact.zip);
      return;
    }
    const auth = req.headers.authorization ?? req.headers['private-token'];
    if (auth !== `token ${this.token}` && auth !== this.token) return send(401, { message: 'bad credentials' });
    let body = '';
    for await (const chunk of req) body += chunk;
    const payload = body ? (JSON.parse(body) as { body: string }) : undefined;
    const path = url.pathname.replace(/^\/api\/v[14]/, '');
    const route = (pattern: RegExp) => pattern.exec(path);
    let m: RegExpExecArray | null;
    if ((m = route(/^\/(?:repos\/[^/]+\/[^/]+\/issues|projects\/[^/]+\/merge_requests)\/(\d+)\/(?:comments|notes)$/))) {
      const list = this.comments.get(Number(m[1])) ?? [];
      this.comments.set(Number(m[1]), list);
      if (req.method === 'GET') return send(200, list);
      const comment = { id: this.id(), body: payload?.body ?? '' };
      list.push(comment);
      return send(201, comment);
    }
    if ((m = route(/\/(?:comments|notes)\/(\d+)$/))) {
      const comment = [...this.comments.values()].flat().find((c) => c.id === Number(m?.[1]));
      if (!comment) return send(404, {});
      comment.body = payload?.body ?? '';
      return send(200, comment);
    }
    if ((m = route(/^\/repos\/[^/]+\/[^/]+\/commits\/(\w+)\/pulls$/))) {
      const merged = this.requests.filter((r) => r.mergeCommit === m?.[1]);
      return send(
        200,
        merged.map((r) => ({ number: r.number, merged_at: '2026-01-01T00:00:00Z', head: { sha: r.head } })),
      );
    }
    if ((m = route(/^\/repos\/[^/]+\/[^/]+\/commits\/(\w+)\/pull$/))) {
      const r = this.requests.find((x) => x.mergeCommit === m?.[1]);
      return r
        ? send(200, { number: r.number, merged_at: '2026-01-01T00:00:00Z', head: { sha: r.head } })
        : send(404, {});
    }
    if ((m = route(/^\/(repos\/[^/]+\/[^/]+)\/actions\/artifacts$/))) {
      const name = url.searchParams.get('name');
      const repo = m[1];
      const artifacts = this.artifacts
        .filter((a) => !name || a.name === name)
        .map((a) => ({
          id: a.id,
          name: a.name,
          expired: false,
          created_at: `2026-01-01T00:00:${String(a.id % 60).padStart(2, '0')}Z`,
          archive_download_url: `${this.url}${url.pathname.startsWith('/api/v1') ? '/api/v1' : ''}/${repo}/actions/artifacts/${a.id}/zip`,
        }));
      return send(200, { total_count: artifacts.length, artifacts });
    }
    if ((m = route(/\/actions\/artifacts\/(\d+)\/zip$/))) {
      res.writeHead(302, { location: `${this.url}/blob/${m[1]}` }).end();
      return;
    }
    if ((m = route(/^\/projects\/[^/]+\/repository\/commits\/(\w+)\/merge_requests$/))) {
      const merged = this.requests.filter((r) => r.mergeCommit === m?.[1]);
      return send(
        200,
        merged.map((r) => ({ iid: r.number, sha: r.head, state: 'merged' })),
      );
    }
    if (route(/^\/projects\/[^/]+\/pipelines$/)) {
      const sha = url.searchParams.get('sha');
      return send(
        200,
        this.pipelines.filter((p) => p.sha === sha).sort((a, b) => b.id - a.id),
      );
    }
    if ((m = route(/^\/projects\/[^/]+\/pipelines\/(\d+)\/jobs$/))) {
      const jobs = this.artifacts.filter((a) => a.pipeline === Number(m?.[1]) && a.job).map((a) => a.job);
      return send(200, jobs);
    }
    if ((m = route(/^\/projects\/[^/]+\/jobs\/(\d+)\/artifacts$/))) {
      const artifact = this.artifacts.find((a) => a.job?.id === Number(m?.[1]));
      if (!artifact) return send(404, {});
      res.writeHead(200, { 'content-type': 'application/zip' }).end(artifact.zip);
      return;
    }
    send(404, { message: `no route ${req.method} ${url.pathname}` });
  }
}
