/**
 * Per-client token buckets. Hand-written (30 lines) because hono has no rate limiter and the npm ones are built for
 * shared stores; the daemon is one process, so a map in memory is the whole job.
 */
export interface RateLimitOptions {
  /** Sustained requests per second per client; 0 turns limiting off. */
  perSecond: number;
  /** Requests a client may make at once after being idle. */
  burst: number;
  /** Clients tracked at most; beyond it, clients whose bucket has refilled are forgotten first. */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  readonly #options: Required<RateLimitOptions>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions) {
    this.#options = { maxClients: 10_000, ...options };
  }

  /** Takes one token for `client`; returns 0 when allowed, else the seconds until a token is available. */
  take(client: string, now = performance.now()): number {
    const { perSecond, burst } = this.#options;
    if (perSecond <= 0) return 0;
    let bucket = this.#buckets.get(client);
    if (!bucket) {
      if (this.#buckets.size >= this.#options.maxClients) this.#prune(now);
      bucket = { tokens: burst, updated: now };
      this.#buckets.set(client, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updated) / 1000) * perSecond);
      bucket.updated = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / perSecond;
  }

  get clients(): number {
    return this.#buckets.size;
  }

  #prune(now: number): void {
    const { perSecond, burst } = this.#options;
    for (const [client, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.updated) / 1000) * perSecond >= burst) this.#buckets.delete(client);
    }
    // Every client is busy: drop the oldest half rather than grow without bound.
    if (this.#buckets.size >= this.#options.maxClients) {
      let drop = Math.ceil(this.#buckets.size / 2);
      for (const client of this.#buckets.keys()) {
        if (drop-- <= 0) break;
        this.#buckets.delete(client);
      }
    }
  }
}
