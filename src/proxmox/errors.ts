/** What can go wrong talking to Proxmox VE, each error with the hint that fixes it. */
import { StrataError } from '../errors.ts';
import type { PveEndpoint } from './types.ts';
import { safeParseUpid } from './upid.ts';

/** The API answered with an HTTP error. */
export class PveApiError extends StrataError {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly pveMessage: string;

  constructor(method: string, path: string, status: number, pveMessage: string, hint?: string) {
    super(`Proxmox API ${method} ${path} failed: HTTP ${status} ${pveMessage}`, { hint });
    this.name = 'PveApiError';
    this.method = method;
    this.path = path;
    this.status = status;
    this.pveMessage = pveMessage;
  }
}

/** The API could not be reached (DNS, refused, reset, TLS, or the per-request timeout). */
export class PveConnectionError extends StrataError {
  readonly method: string;
  readonly path: string;
  readonly code: string;

  constructor(method: string, path: string, code: string, reason: string, hint?: string) {
    super(`Proxmox API ${method} ${path} failed: ${reason}`, { hint });
    this.name = 'PveConnectionError';
    this.method = method;
    this.path = path;
    this.code = code;
  }
}

/** A task ended with an exit status other than OK (or warnings). */
export class PveTaskError extends StrataError {
  readonly upid: string;
  readonly exitstatus: string;
  readonly logTail: string[];

  constructor(upid: string, exitstatus: string, logTail: string[]) {
    const task = safeParseUpid(upid);
    const what = task ? `${task.type}${task.id ? ` ${task.id}` : ''} on ${task.node}` : upid;
    super(`Proxmox task ${what} failed: ${exitstatus}`, {
      details: logTail.length > 0 ? `Task log (last ${logTail.length} lines):\n${logTail.join('\n')}` : undefined,
      hint: `See the full log with: pvenode task log ${upid}`,
    });
    this.name = 'PveTaskError';
    this.upid = upid;
    this.exitstatus = exitstatus;
    this.logTail = logTail;
  }
}

/** waitForTask gave up before the task stopped (the task itself keeps running on the node). */
export class PveTimeoutError extends StrataError {
  readonly upid: string;
  constructor(upid: string, timeoutMs: number) {
    super(`Proxmox task ${upid} still running after ${Math.round(timeoutMs / 1000)} s`, {
      hint: 'Raise the timeout, or check the task on the node (it was not cancelled).',
    });
    this.name = 'PveTimeoutError';
    this.upid = upid;
  }
}

/** The reason PVE gave for an HTTP error: the status line, the body's message and per-parameter errors. */
export function pveErrorMessage(
  status: number,
  statusText: string,
  body: { errors?: Record<string, string> | string; message?: string } | undefined,
  text: string,
): string {
  const parts: string[] = [];
  // PVE puts the reason in the HTTP status line; newer versions also repeat it as `message` in the body.
  const reason = (body?.message ?? statusText ?? '').trim();
  if (reason) parts.push(reason);
  if (body?.errors && typeof body.errors === 'object') {
    parts.push(
      Object.entries(body.errors)
        .map(([param, msg]) => `${param}: ${String(msg).trim()}`)
        .join('; '),
    );
  } else if (typeof body?.errors === 'string') {
    parts.push(body.errors.trim());
  }
  if (body === undefined && status < 400) parts.push(`unexpected non-JSON answer: ${text.slice(0, 120)}`);
  return parts.join(' - ') || `HTTP ${status}`;
}

export function statusHint(status: number): string | undefined {
  if (status === 401)
    return 'Check the API token id and secret (PVEAPIToken=user@realm!name=secret); the token may be expired or deleted.';
  if (status === 403)
    return 'The token lacks a privilege: grant it on the path (pveum acl modify), and remember privilege-separated tokens need their own ACLs.';
  if (status === 501) return 'This Proxmox VE version does not implement the endpoint.';
  return undefined;
}

export function connectionHint(code: string, endpoint: PveEndpoint): string | undefined {
  if (code === 'ERR_TLS_FINGERPRINT_MISMATCH') {
    return `The certificate of ${endpoint.url} is not the pinned one: check the fingerprint (pvenode cert info) or a man in the middle.`;
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return 'The node certificate is not trusted: pin its SHA-256 fingerprint (fingerprint), trust /etc/pve/pve-root-ca.pem (ca), or set insecure for a throw-away lab.';
  }
  if (code === 'TIMEOUT') return 'Raise timeoutMs, or check that pveproxy is up and reachable.';
  if (code === 'ECONNREFUSED')
    return `Nothing listens at ${endpoint.url}; is pveproxy running and the port (8006) right?`;
  return undefined;
}
