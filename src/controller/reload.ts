/**
 * Reloading a running controller: specs, credentials and the repository snapshot are re-read one part at a time;
 * a part that fails keeps its previous state. Reloads run one at a time, and requests for one made while another
 * runs are folded into a single next reload.
 */
import type { Emit } from './access-log.ts';
import { type RepoSnapshot, removeSnapshot } from './repo.ts';
import type { LiveState } from './routes.ts';
import type { Credentials, SpecSource } from './types.ts';

export interface ReloadResult {
  ok: boolean;
  nodes: number;
  errors: string[];
  ms: number;
}

export interface ReloadParts {
  source: SpecSource;
  live: LiveState;
  readCredentials: () => Promise<Credentials>;
  /** Reads a fresh repository snapshot; undefined when no repository is served. */
  readRepo?: () => Promise<RepoSnapshot>;
  emit: Emit;
}

/** How long a replaced mirror stays on disk for clones still reading it. */
const RETIRE_MS = 60_000;

export class Reloader {
  readonly #parts: ReloadParts;
  #running: Promise<ReloadResult> = Promise.resolve({ ok: true, nodes: 0, errors: [], ms: 0 });
  #queued?: Promise<ReloadResult>;
  readonly #retired = new Set<RepoSnapshot>();

  constructor(parts: ReloadParts) {
    this.#parts = parts;
  }

  reload(): Promise<ReloadResult> {
    // Signals can come faster than reloads finish: all requests made while one waits share that one.
    if (this.#queued) return this.#queued;
    const next = this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#reloadOnce();
      });
    this.#queued = next;
    this.#running = next;
    return next;
  }

  /** Waits for a running reload, then removes the current and every retired repository snapshot. */
  async dispose(): Promise<void> {
    await this.#running.catch(() => undefined);
    await removeSnapshot(this.#parts.live.repo);
    for (const old of this.#retired) await removeSnapshot(old);
  }

  async #reloadOnce(): Promise<ReloadResult> {
    const { source, live, readCredentials, readRepo, emit } = this.#parts;
    const started = performance.now();
    const errors: string[] = [];
    const attempt = async (what: string, step: () => Promise<void>) => {
      try {
        await step();
      } catch (error) {
        errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await attempt('specs', () => source.reload());
    await attempt('credentials', async () => {
      live.credentials = await readCredentials();
    });
    if (readRepo) {
      await attempt('repository', async () => {
        const next = await readRepo();
        const previous = live.repo;
        live.repo = next;
        if (previous) this.#retire(previous);
      });
    }
    const result = {
      ok: errors.length === 0,
      nodes: source.identities().length,
      errors,
      ms: Math.round(performance.now() - started),
    };
    emit({ event: 'reload', ...result });
    return result;
  }

  /** Clones reading the old mirror keep it for a minute; it is removed at the latest on dispose. */
  #retire(snapshot: RepoSnapshot): void {
    this.#retired.add(snapshot);
    setTimeout(() => {
      this.#retired.delete(snapshot);
      void removeSnapshot(snapshot);
    }, RETIRE_MS).unref();
  }
}
