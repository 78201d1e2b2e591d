/** What a run of the operator takes and gives back. */
import type { DryRunPlan } from '../util/plan.ts';
import type { ProxmoxConnection } from './connection.ts';
import type { StackContext } from './context.ts';
import type { Manifest, ManifestNode, OnError } from './manifest.ts';
import type { NodeStatus } from './state.ts';

export type Verb = 'create' | 'destroy' | 'test';

export interface ProgressEvent {
  node: string;
  status: NodeStatus;
  /** Step inside a running node: lookup, clone, configure, resize, start, wait_ip, delegate, destroy, ... */
  phase?: string;
  vm_id?: number;
  ip?: string;
  error?: string;
}

export interface OperatorOptions {
  manifest: Manifest;
  /** The stack the manifest runs against; optional only for a dry run of a manifest without presets. */
  context?: StackContext;
  /** The Proxmox endpoint; default: the stack's (settings.proxmox and the PROXMOX_VE_* environment). */
  connection?: ProxmoxConnection;
  /** Folder for execution state and locks (.strata/state). */
  stateDir: string;
  /** Folder for generated tofu modules (.strata). */
  workDir: string;
  env?: NodeJS.ProcessEnv;
  dryRun?: boolean;
  /** Continue from the saved execution state (default); false starts a new one (VMs are still found by the API). */
  resume?: boolean;
  maxConcurrency?: number;
  /** Overrides the manifest's settings.on_error. */
  onError?: OnError;
  /** Poll interval for tasks, the guest agent and nested APIs (default: the connection's, else poll_ms, else 1 s). */
  pollMs?: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Human log lines (warnings, adopted VMs). */
  log?: (line: string) => void;
  /** Recorded in the lock file. */
  command?: string;
  /** tofu or terraform. */
  tofuBinary?: string;
  /**
   * Files handed to a node once its guest agent answers (written with the agent's file-write), e.g. the server URL
   * and provisioning token a pull-mode node fetches its spec with. Only the proxmox-api provisioner hands files over.
   */
  guestFiles?: (node: ManifestNode) => GuestFile[];
}

export interface GuestFile {
  path: string;
  content: string;
}

/** How a phase ended: `message` says what a passed phase did, `error` why a failed one failed. */
export interface PhaseOutcome {
  ok: boolean;
  message?: string;
  error?: string;
}

export interface PhaseResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  duration: number;
  message?: string;
}

export interface NodeReport {
  name: string;
  status: NodeStatus;
  vm_id?: number;
  ip?: string;
  duration?: number;
  error?: string;
}

/** A VM a destroy or a rollback could not remove: still on its host, by id. */
export interface LeftoverVm {
  node: string;
  vm_ids: number[];
  /** The API of the host it is on. */
  host: string;
  error: string;
}

/** The seed's JSON output (scenario, success, duration_seconds, phases, context, error) plus nodes. */
export interface RunResult {
  scenario: string;
  verb: Verb;
  manifest: string;
  stack: string;
  success: boolean;
  duration_seconds: number;
  phases: PhaseResult[];
  nodes: NodeReport[];
  context: Record<string, unknown>;
  error?: string;
  /** VMs left on their hosts because their destroy (or rollback) failed; the run failed. */
  leftover?: LeftoverVm[];
  dry_run?: boolean;
  /** What a dry run would do. */
  plan?: DryRunPlan;
}
