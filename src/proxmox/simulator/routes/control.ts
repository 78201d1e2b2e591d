/**
 * The simulator's own control API under /_sim/ (no token needed): the state snapshot, fault injection and the
 * endpoints of nested hosts. Its errors carry the message without PVE's trailing newline.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimFault } from '../faults.ts';
import { readBody, SimHttpError, send } from '../http.ts';
import type { NestedEndpoint } from '../nested.ts';

export interface ControlTarget {
  snapshot(): Record<string, unknown>;
  faults(): unknown[];
  inject(fault: SimFault): number;
  clearFaults(): void;
  nestedEndpoints(): NestedEndpoint[];
  nestedEndpoint(vmid: number): NestedEndpoint | undefined;
}

export async function handleControl(
  target: ControlTarget,
  method: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = url.pathname.replace(/\/+$/, '');
  try {
    send(res, 200, { data: await answer(target, method, path, req) });
  } catch (error) {
    if (error instanceof SimHttpError) {
      return send(res, error.status, { data: null, message: error.pveMessage, errors: error.errors }, error.pveMessage);
    }
    if (error instanceof SyntaxError) return send(res, 400, { data: null }, `invalid JSON body: ${error.message}`);
    throw error;
  }
}

async function answer(target: ControlTarget, method: string, path: string, req: IncomingMessage): Promise<unknown> {
  if (method === 'GET' && path === '/_sim/state') return target.snapshot();
  if (method === 'GET' && path === '/_sim/faults') return target.faults();
  if (method === 'POST' && path === '/_sim/faults') {
    const fault = JSON.parse((await readBody(req)) || 'null') as SimFault;
    return { id: target.inject(fault) };
  }
  if (method === 'DELETE' && path === '/_sim/faults') {
    target.clearFaults();
    return null;
  }
  if (method === 'GET' && path === '/_sim/nested') return target.nestedEndpoints();
  const nested = /^\/_sim\/nested\/(\d+)$/.exec(path);
  if (method === 'GET' && nested) {
    const endpoint = target.nestedEndpoint(Number(nested[1]));
    if (!endpoint) throw new SimHttpError(404, `VM ${nested[1]} is not a running nested PVE host (yet)`);
    return endpoint;
  }
  throw new SimHttpError(404, `no simulator control endpoint ${method} ${path}`);
}
