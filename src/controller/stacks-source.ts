/**
 * Node specs from the stacks. A component instance is a node when its merged settings hold
 * `settings.controller.identity`; the rest of `settings.controller` says how it is served:
 *
 *   settings:
 *     controller:
 *       identity: edge            # the node's host name: GET /spec/edge
 *       auth: node_token          # posture: network | site_token | node_token (default node_token)
 *       spec: { ... }             # the resolved spec the node reads (default {})
 *
 * Settings merge like every Atmos section, so a stack-wide `settings.controller.auth` sets the posture of every node
 * in the stack, and templates in `spec` can pull values from the component's vars. Each reload opens a fresh
 * engine: edited manifests, imports and catalogs are all read again.
 */
import { StrataError } from '../errors.ts';
import { type EngineOptions, isPlainMap, loadEngine } from '../stacks/index.ts';
import { LoadedSpecSource, parseAuthMethod } from './source.ts';
import type { NodeEntry } from './types.ts';

export async function stackNodes(options: EngineOptions = {}): Promise<NodeEntry[]> {
  // The controller context: no environment, no commands, no files outside the repository (docs/controller.md).
  const engine = await loadEngine({ ...options, context: 'controller' });
  const nodes: NodeEntry[] = [];
  // Only nodes are evaluated: the other components may read the environment or run commands, which this context
  // refuses, and they are served to no one.
  for (const instance of await engine.instances({ where: (section) => hasController(section.settings) })) {
    if (instance.abstract || !instance.enabled) continue;
    const settings = instance.description.settings;
    const controller = isPlainMap(settings) ? settings.controller : undefined;
    if (!isPlainMap(controller) || controller.identity === undefined || controller.identity === null) continue;
    const origin = `stack '${instance.stack}', component '${instance.name}'`;
    if (typeof controller.identity !== 'string') {
      throw new StrataError(`settings.controller.identity must be a string in ${origin}`, {
        location: { file: instance.description.atmos_stack_file || instance.stack },
        hint: 'write the node host name, e.g. identity: edge',
      });
    }
    const spec = controller.spec ?? {};
    if (!isPlainMap(spec)) {
      throw new StrataError(`settings.controller.spec must be a mapping in ${origin}`, {
        location: { file: instance.description.atmos_stack_file || instance.stack },
      });
    }
    nodes.push({
      identity: controller.identity,
      auth: parseAuthMethod(controller.auth ?? 'node_token', origin),
      spec: withHostname(toPlain(spec), controller.identity),
      origin,
    });
  }
  return nodes;
}

function hasController(settings: unknown): boolean {
  return isPlainMap(settings) && isPlainMap(settings.controller) && settings.controller.identity != null;
}

/** A source over the stacks, loaded once now and again on every reload. */
export function stacksSpecSource(options: EngineOptions = {}): Promise<LoadedSpecSource> {
  return LoadedSpecSource.create(() => stackNodes(options));
}

/** As iac-driver's resolver does: `identity.hostname` defaults to the node's identity. */
function withHostname(spec: Record<string, unknown>, identity: string): Record<string, unknown> {
  const current = spec.identity;
  if (current === undefined) return { ...spec, identity: { hostname: identity } };
  if (isPlainMap(current) && current.hostname === undefined)
    return { ...spec, identity: { ...current, hostname: identity } };
  return spec;
}

/** Values as a node receives them: unevaluated functions and secret references become their JSON text (masked). */
function toPlain(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}
