/** What the Proxmox VE API returns, as the client hands it out (typed, numbers as numbers, lists as lists). */

export interface PveEndpoint {
  /** Base URL such as `https://pve.lan:8006` (a trailing `/api2/json` is accepted). */
  url: string;
  /** `user@realm!tokenname` */
  tokenId: string;
  tokenSecret: string;
  /** SHA-256 certificate fingerprint as PVE shows it (`AB:CD:…`); colons and case are ignored. */
  fingerprint?: string;
  /** PEM of the CA that signed the node certificate (e.g. `/etc/pve/pve-root-ca.pem`). */
  ca?: string;
  /** Accept any certificate. Only for throw-away labs. */
  insecure?: boolean;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Retries for idempotent GETs; default 3. */
  retries?: number;
  /** Wait before the first retry, doubled for each next one (up to 5 s); default 200 ms. */
  retryBaseMs?: number;
}

export interface PveTask {
  upid: string;
  node: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  type: string;
  id?: string;
}

export interface PveVmSummary {
  vmid: number;
  name: string;
  node: string;
  status: string;
  template: boolean;
  tags: string[];
  type: 'qemu' | 'lxc';
}

export interface PveNodeStatus {
  cpuinfo: { cpus: number; model: string; sockets?: number; cores?: number; flags: string[] };
  memory?: { total: number; used: number; free: number };
  pveversion?: string;
  kversion?: string;
  uptime?: number;
}

export interface PveAgentInterface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: Array<{ 'ip-address': string; 'ip-address-type': string; prefix: number }>;
}

/** Which hardware virtualisation flag the CPU exposes (`vmx` Intel VT-x, `svm` AMD-V), if any. */
export function virtualizationFlag(flags: string[]): 'vmx' | 'svm' | undefined {
  if (flags.includes('vmx')) return 'vmx';
  if (flags.includes('svm')) return 'svm';
  return undefined;
}
