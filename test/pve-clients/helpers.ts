// The third-party clients' side of the conformance suite: a simulator over HTTPS, its CA in a file the clients can
// trust, and a runner for their processes (bounded in time, output kept for the assertion messages).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from '../../src/proxmox/simulator/index.ts';

export interface Pve {
  sim: RunningSimulator;
  /** host:port, as proxmoxer and Ansible take it. */
  host: string;
  port: number;
  /** The simulator's root CA (like /etc/pve/pve-root-ca.pem) in a file. */
  caFile: string;
  dir: string;
  /** The simulator's state as GET /_sim/state returns it. */
  state(): SimStateView;
  close(): Promise<void>;
}

export interface SimStateView {
  vms: Array<{
    vmid: number;
    name: string;
    node: string;
    template: boolean;
    status: string;
    lock?: string;
    config: Record<string, string | number>;
  }>;
  storages: Array<{ storage: string; items: Array<{ volid: string; node?: string; size?: number }> }>;
  tasks: Array<{ upid: string; type: string; id: string; exitstatus?: string; user: string }>;
  requests: Array<{ method: string; path: string; status: number | null; error?: string }>;
}

export async function startPve(options: SimulatorOptions = {}): Promise<Pve> {
  // 0.02: tasks take tens of milliseconds and the guest agent a few hundred, so the clients really poll.
  const sim = await startSimulator({ latencyScale: 0.02, ...options });
  const dir = mkdtempSync(join(tmpdir(), 'strata-pve-clients-'));
  const caFile = join(dir, 'pve-root-ca.pem');
  writeFileSync(caFile, sim.ca ?? '');
  const port = Number(new URL(sim.url).port);
  return {
    sim,
    host: `127.0.0.1:${port}`,
    port,
    caFile,
    dir,
    state: () => sim.state as unknown as SimStateView,
    close: async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a client to its end (killed after timeoutMs), with stdin fed and the output collected. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
