/**
 * A bounded load generator run as a separate process by the daemon tests: `concurrency` keep-alive loops GET one
 * path for `durationMs`, pinning the daemon's certificate by its SHA-256 fingerprint. Prints one JSON summary line.
 * Usage: node --import tsx load-client.ts '{"url":...,"path":...,"token":...,"durationMs":3000,"concurrency":16,"fingerprint":"AA:..."}'
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, request } from 'undici';

interface Options {
  url: string;
  path: string;
  token?: string;
  durationMs: number;
  concurrency: number;
  fingerprint: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
// Bounded on purpose: this is a test client, not a stress tool.
const durationMs = Math.min(options.durationMs, 15_000);
const concurrency = Math.min(options.concurrency, 64);
const want = options.fingerprint.replace(/:/g, '').toUpperCase();
const base = buildConnector({ rejectUnauthorized: false });
const agent = new Agent({
  connections: concurrency,
  connect(opts, callback) {
    base(opts, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('no socket'), null);
      const raw = (socket as TLSSocket).getPeerCertificate().raw;
      const got = createHash('sha256').update(raw).digest('hex').toUpperCase();
      if (got !== want) {
        socket.destroy();
        return callback(new Error(`TLS fingerprint mismatch: got ${got}`), null);
      }
      callback(null, socket);
    });
  },
});

const statuses: Record<string, number> = {};
const errors: string[] = [];
let requests = 0;
const started = performance.now();
const deadline = started + durationMs;
const headers = options.token ? { authorization: `Bearer ${options.token}` } : {};

async function loop(): Promise<void> {
  while (performance.now() < deadline) {
    try {
      const res = await request(`${options.url}${options.path}`, { dispatcher: agent, headers });
      await res.body.text();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    } catch (error) {
      if (errors.length < 20) errors.push((error as Error).message);
      statuses.error = (statuses.error ?? 0) + 1;
    }
    requests++;
  }
}

await Promise.all(Array.from({ length: concurrency }, loop));
const seconds = (performance.now() - started) / 1000;
await agent.close();
process.stdout.write(
  `${JSON.stringify({ requests, seconds, rps: Math.round(requests / seconds), statuses, errors, concurrency })}\n`,
);
