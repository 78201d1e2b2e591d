/**
 * A typed client for the Proxmox VE JSON API (`/api2/json`), authenticated with an API token: one method per call
 * the operator, preflight and the CLI make. HTTP, TLS trust, timeouts and retries live in ./transport.ts; errors
 * in ./errors.ts; task ids in ./upid.ts.
 */

import { sleep } from '../util/fs.ts';
import { globalMasker } from '../util/mask.ts';
import { PveApiError, PveTaskError, PveTimeoutError } from './errors.ts';
import { type Params, PveTransport } from './transport.ts';
import type { PveAgentInterface, PveEndpoint, PveNodeStatus, PveTask, PveVmSummary } from './types.ts';
import { parseUpid } from './upid.ts';

export { PveApiError, PveConnectionError, PveTaskError, PveTimeoutError } from './errors.ts';
export type { PveAgentInterface, PveEndpoint, PveNodeStatus, PveTask, PveVmSummary } from './types.ts';
export { virtualizationFlag } from './types.ts';
export type { ParsedUpid } from './upid.ts';
export { formatUpid, parseUpid } from './upid.ts';

/**
 * `sshkeys` is declared with format "urlencoded" by qemu-server: PVE stores it escaped in the line-based VM config
 * and rejects values that are not already URL-encoded ("invalid urlencoded string"). So the keys are escaped once
 * for PVE, and the form body escapes that text again: encoded twice on the wire.
 */
export function encodeSshKeys(keys: string): string {
  return encodeURIComponent(keys);
}

export class PveClient {
  readonly endpoint: PveEndpoint;
  readonly #http: PveTransport;

  constructor(endpoint: PveEndpoint) {
    this.#http = new PveTransport(endpoint);
    this.endpoint = endpoint;
  }

  /** Closes pooled connections; the client cannot be used afterwards. */
  async close(): Promise<void> {
    await this.#http.close();
  }

  version(): Promise<{ version: string; release: string; repoid: string }> {
    return this.#http.request('GET', '/version');
  }

  nodes(): Promise<Array<{ node: string; status: string; maxcpu?: number; maxmem?: number }>> {
    return this.#http.request('GET', '/nodes');
  }

  /** Privileges of the calling token per ACL path, e.g. `{ "/": { "VM.Allocate": 1 } }`. */
  permissions(): Promise<Record<string, Record<string, number>>> {
    return this.#http.request('GET', '/access/permissions');
  }

  async nextId(): Promise<number> {
    return Number(await this.#http.request<string | number>('GET', '/cluster/nextid'));
  }

  async listVms(): Promise<PveVmSummary[]> {
    const rows = await this.#http.request<Array<Record<string, unknown>>>('GET', '/cluster/resources', { type: 'vm' });
    return rows.map((r) => ({
      vmid: Number(r.vmid),
      name: String(r.name ?? ''),
      node: String(r.node),
      status: String(r.status ?? 'unknown'),
      template: r.template === 1 || r.template === true || r.template === '1',
      tags: typeof r.tags === 'string' && r.tags ? r.tags.split(/[;, ]+/).filter(Boolean) : [],
      type: r.type === 'lxc' ? 'lxc' : 'qemu',
    }));
  }

  cloneVm(
    node: string,
    templateVmid: number,
    opts: {
      newid: number;
      name: string;
      full?: boolean;
      target?: string;
      storage?: string;
      pool?: string;
      description?: string;
    },
  ): Promise<string> {
    return this.#http.request('POST', `${vmPath(node, templateVmid)}/clone`, { ...opts });
  }

  /** Offline (or with `online`, live) migration to another node of the cluster; returns the qmigrate task. */
  migrateVm(
    node: string,
    vmid: number,
    opts: { target: string; online?: boolean; targetstorage?: string; withLocalDisks?: boolean },
  ): Promise<string> {
    return this.#http.request('POST', `${vmPath(node, vmid)}/migrate`, {
      target: opts.target,
      online: opts.online,
      targetstorage: opts.targetstorage,
      'with-local-disks': opts.withLocalDisks,
    });
  }

  /**
   * Asynchronous config update (POST). Returns the task UPID, or null when PVE had nothing to run as a task.
   * Pass `sshkeys` as plain OpenSSH lines: they are URL-encoded here as PVE requires (see encodeSshKeys).
   */
  async setVmConfig(
    node: string,
    vmid: number,
    config: Record<string, string | number | boolean>,
  ): Promise<string | null> {
    const params: Params = { ...config };
    if (typeof config.sshkeys === 'string') params.sshkeys = encodeSshKeys(config.sshkeys);
    const upid = await this.#http.request<string | null>('POST', `${vmPath(node, vmid)}/config`, params);
    return upid ?? null;
  }

  vmConfig(node: string, vmid: number): Promise<Record<string, unknown>> {
    return this.#http.request('GET', `${vmPath(node, vmid)}/config`);
  }

  /** `size` is absolute (`32G`) or relative (`+10G`). Waits for the resize task when PVE runs one (PVE 8+). */
  async resizeDisk(node: string, vmid: number, disk: string, size: string): Promise<void> {
    const upid = await this.#http.request<string | null>('PUT', `${vmPath(node, vmid)}/resize`, { disk, size });
    if (typeof upid === 'string' && upid.startsWith('UPID:')) await this.waitForTask(upid);
  }

  startVm(node: string, vmid: number): Promise<string> {
    return this.#http.request('POST', `${vmPath(node, vmid)}/status/start`);
  }

  stopVm(node: string, vmid: number): Promise<string> {
    return this.#http.request('POST', `${vmPath(node, vmid)}/status/stop`);
  }

  /** ACPI shutdown; PVE waits up to `timeoutS` seconds inside the task. */
  shutdownVm(node: string, vmid: number, timeoutS?: number): Promise<string> {
    return this.#http.request('POST', `${vmPath(node, vmid)}/status/shutdown`, { timeout: timeoutS });
  }

  vmStatus(
    node: string,
    vmid: number,
  ): Promise<{ status: string; qmpstatus?: string; name?: string; uptime?: number }> {
    return this.#http.request('GET', `${vmPath(node, vmid)}/status/current`);
  }

  deleteVm(
    node: string,
    vmid: number,
    opts: { purge?: boolean; destroyUnreferencedDisks?: boolean } = {},
  ): Promise<string> {
    return this.#http.request('DELETE', vmPath(node, vmid), {
      purge: opts.purge,
      'destroy-unreferenced-disks': opts.destroyUnreferencedDisks,
    });
  }

  /** Status of a task; the node is taken from the UPID, as PVE only knows a task on the node that runs it. */
  async taskStatus(upid: string, signal?: AbortSignal): Promise<PveTask> {
    const { node } = parseUpid(upid);
    const data = await this.#http.request<Record<string, unknown>>(
      'GET',
      `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`,
      {},
      signal,
    );
    return {
      upid: String(data.upid ?? upid),
      node: String(data.node ?? node),
      status: data.status === 'running' ? 'running' : 'stopped',
      exitstatus: data.exitstatus === undefined ? undefined : String(data.exitstatus),
      type: String(data.type ?? ''),
      id: data.id === undefined || data.id === '' ? undefined : String(data.id),
    };
  }

  /** The last `limit` lines of a task log. */
  async taskLog(upid: string, limit = 20): Promise<string[]> {
    const { node } = parseUpid(upid);
    const path = `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/log`;
    // PVE pages task logs (default 50 lines) and reports the total only in the envelope: ask for one large page.
    const all = await this.#http.request<Array<{ n: number; t: string }>>('GET', path, { start: 0, limit: 50_000 });
    return all.slice(-limit).map((l) => l.t);
  }

  /** Polls until the task stops; throws PveTaskError unless it ended with OK (or WARNINGS: n). */
  async waitForTask(
    upid: string,
    opts: { timeoutMs?: number; pollMs?: number; signal?: AbortSignal } = {},
  ): Promise<PveTask> {
    const timeoutMs = opts.timeoutMs ?? 600_000;
    const pollMs = opts.pollMs ?? 1000;
    const deadline = Date.now() + timeoutMs;
    // Short tasks (config, start) end within a second: poll fast first, then back off to pollMs.
    let interval = Math.min(100, pollMs);
    for (;;) {
      const task = await this.taskStatus(upid, opts.signal);
      if (task.status === 'stopped') {
        const exit = task.exitstatus ?? 'unknown';
        if (exit === 'OK' || exit.startsWith('WARNINGS')) return task;
        let tail: string[] = [];
        try {
          tail = await this.taskLog(upid);
        } catch {
          // The log is context for the error; failing to fetch it must not hide the task failure itself.
        }
        throw new PveTaskError(upid, exit, tail);
      }
      if (Date.now() >= deadline) throw new PveTimeoutError(upid, timeoutMs);
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), opts.signal);
      interval = Math.min(pollMs, interval * 2);
    }
  }

  /**
   * True when the guest agent answers; false while the VM is stopped, its agent is not up yet ("QEMU guest agent is
   * not running") or does not answer in time ("qmp command 'guest-ping' failed - got timeout").
   */
  async agentPing(node: string, vmid: number): Promise<boolean> {
    try {
      await this.#http.request('POST', `${vmPath(node, vmid)}/agent/ping`);
      return true;
    } catch (error) {
      if (error instanceof PveApiError && error.status === 500 && /not running|got timeout/i.test(error.pveMessage)) {
        return false;
      }
      throw error;
    }
  }

  async agentNetworkInterfaces(node: string, vmid: number): Promise<PveAgentInterface[]> {
    const data = await this.#http.request<{ result?: PveAgentInterface[] }>(
      'GET',
      `${vmPath(node, vmid)}/agent/network-get-interfaces`,
    );
    return data?.result ?? [];
  }

  /** Writes a file inside the guest through the QEMU guest agent (the agent must answer). */
  async agentFileWrite(node: string, vmid: number, file: string, content: string): Promise<void> {
    await this.#http.request('POST', `${vmPath(node, vmid)}/agent/file-write`, { file, content });
  }

  /** Storages enabled on a node; `shared` is 1 for storages every node reaches (NFS, Ceph…). */
  storages(
    node: string,
  ): Promise<Array<{ storage: string; content: string; type: string; active?: number; shared?: number }>> {
    return this.#http.request('GET', `/nodes/${encodeURIComponent(node)}/storage`);
  }

  storageContent(
    node: string,
    storage: string,
    content?: string,
  ): Promise<Array<{ volid: string; content: string; format?: string; size?: number }>> {
    const path = `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/content`;
    return this.#http.request('GET', path, { content });
  }

  /** Creates an API token; its secret is shown once by PVE and is registered with the output masker here. */
  async createApiToken(
    userid: string,
    tokenid: string,
    opts: { privsep?: boolean; comment?: string } = {},
  ): Promise<{ fullTokenId: string; value: string }> {
    const data = await this.#http.request<{ 'full-tokenid': string; value: string }>(
      'POST',
      `/access/users/${encodeURIComponent(userid)}/token/${encodeURIComponent(tokenid)}`,
      { privsep: opts.privsep, comment: opts.comment },
    );
    globalMasker.add(data.value);
    return { fullTokenId: data['full-tokenid'], value: data.value };
  }

  /** Node status with the CPU flags split into a list, so preflight can look for vmx/svm (nested virtualisation). */
  async nodeStatus(node: string): Promise<PveNodeStatus> {
    const data = await this.#http.request<Record<string, unknown>>('GET', `/nodes/${encodeURIComponent(node)}/status`);
    const cpu = (data.cpuinfo ?? {}) as Record<string, unknown>;
    return {
      cpuinfo: {
        cpus: Number(cpu.cpus ?? 0),
        model: String(cpu.model ?? ''),
        sockets: cpu.sockets === undefined ? undefined : Number(cpu.sockets),
        cores: cpu.cores === undefined ? undefined : Number(cpu.cores),
        flags: typeof cpu.flags === 'string' ? cpu.flags.split(/\s+/).filter(Boolean) : [],
      },
      memory: data.memory as PveNodeStatus['memory'],
      pveversion: data.pveversion === undefined ? undefined : String(data.pveversion),
      kversion: data.kversion === undefined ? undefined : String(data.kversion),
      uptime: data.uptime === undefined ? undefined : Number(data.uptime),
    };
  }
}

function vmPath(node: string, vmid: number): string {
  return `/nodes/${encodeURIComponent(node)}/qemu/${encodeURIComponent(String(vmid))}`;
}
