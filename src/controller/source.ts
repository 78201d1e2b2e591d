/**
 * Spec sources built from a loader: the loader returns every node, the source validates them into an immutable
 * snapshot and swaps it in with one assignment. The stacks-backed source (stacks-source.ts) is one such loader.
 */
import { StrataError } from '../errors.ts';
import { AUTH_METHODS, type AuthMethod, isValidIdentity, type NodeEntry, type SpecSource } from './types.ts';

export type NodeLoader = () => Promise<NodeEntry[]> | NodeEntry[];

interface Snapshot {
  readonly nodes: ReadonlyMap<string, NodeEntry>;
  readonly identities: readonly string[];
}

export class LoadedSpecSource implements SpecSource {
  #load: NodeLoader;
  #snapshot: Snapshot = { nodes: new Map(), identities: [] };

  constructor(load: NodeLoader) {
    this.#load = load;
  }

  /** Builds a source and loads it once (a failing first load is an error, not an empty controller). */
  static async create(load: NodeLoader): Promise<LoadedSpecSource> {
    const source = new LoadedSpecSource(load);
    await source.reload();
    return source;
  }

  identities(): string[] {
    return [...this.#snapshot.identities];
  }

  node(identity: string): NodeEntry | undefined {
    return this.#snapshot.nodes.get(identity);
  }

  spec(identity: string): unknown | undefined {
    return this.#snapshot.nodes.get(identity)?.spec;
  }

  async reload(): Promise<void> {
    const entries = await this.#load();
    this.#snapshot = buildSnapshot(entries);
  }
}

export function buildSnapshot(entries: readonly NodeEntry[]): Snapshot {
  const nodes = new Map<string, NodeEntry>();
  for (const entry of entries) {
    if (!isValidIdentity(entry.identity)) {
      throw new StrataError(`node identity '${entry.identity}' is not a valid host name${where(entry)}`, {
        hint: 'use lower-case letters, digits, dots, dashes and underscores (it becomes part of URLs and tokens)',
      });
    }
    if (!AUTH_METHODS.includes(entry.auth)) {
      throw new StrataError(`node '${entry.identity}' has unknown auth method '${String(entry.auth)}'${where(entry)}`, {
        hint: `use one of: ${AUTH_METHODS.join(', ')}`,
      });
    }
    const previous = nodes.get(entry.identity);
    if (previous) {
      throw new StrataError(
        `node identity '${entry.identity}' is declared twice${where(previous)} and${where(entry)}`,
        {
          hint: 'every node needs its own identity: rename one of them',
        },
      );
    }
    // Frozen deeply: a snapshot is shared by concurrent requests and must never change under them.
    nodes.set(entry.identity, deepFreeze({ ...entry }));
  }
  return { nodes, identities: [...nodes.keys()].sort() };
}

export function parseAuthMethod(value: unknown, origin: string): AuthMethod {
  if (typeof value === 'string' && (AUTH_METHODS as readonly string[]).includes(value)) return value as AuthMethod;
  throw new StrataError(`unknown controller auth method '${String(value)}' in ${origin}`, {
    hint: `use one of: ${AUTH_METHODS.join(', ')}`,
  });
}

function where(entry: NodeEntry): string {
  return entry.origin ? ` (${entry.origin})` : '';
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
