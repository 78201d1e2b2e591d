/**
 * The Proxmox operator: manifests of node graphs (schema v2) created, destroyed and tested against a stack.
 * The CLI (`strata manifest ...`, `strata preflight`) is a thin layer over these functions.
 */
import { join } from 'node:path';
import { StrataError } from '../errors.ts';
import type { StackEngine } from '../stacks/engine.ts';
import { didYouMean } from '../util/suggest.ts';
import type { StackContext } from './context.ts';

export { manifestsDir } from '../config/index.ts';
export type { PortProbe, ProxmoxConnection } from './connection.ts';
export { portOpen, tcpProbe } from './connection.ts';
export type { ImageRef, Preset, ProxmoxTarget, ResolvedNode, StackContext } from './context.ts';
export {
  imagesOf,
  needsStack,
  proxmoxEndpoint,
  proxmoxSettings,
  proxmoxTarget,
  resolveNodes,
  vmName,
  vmTags,
} from './context.ts';
export { runOperator } from './engine.ts';
export type {
  Manifest,
  ManifestIssue,
  ManifestNode,
  ManifestPlan,
  ManifestRef,
  ManifestSettings,
  OnError,
} from './manifest.ts';
export {
  listManifests,
  loadManifest,
  ManifestValidationError,
  parseManifest,
  planManifest,
  validateManifestData,
} from './manifest.ts';
export type { NestedAccess, NestedHost, NestedLocator } from './nested.ts';
export { addressLocator, simulatorLocator } from './nested.ts';
export type { CheckStatus, PreflightCheck, PreflightResult } from './preflight.ts';
export { REQUIRED_PRIVILEGES, runPreflight } from './preflight.ts';
export type { ReportFormat } from './report.ts';
export { leftoverLine, REPORT_FORMATS, reportMarkdown, writeReports } from './report.ts';
export { manifestDiagram, reportHtml } from './report-html.ts';
export type { ExecutionState, NodeState, NodeStatus } from './state.ts';
export { acquireLock, readState, statePaths } from './state.ts';
export type {
  GuestFile,
  LeftoverVm,
  NodeReport,
  OperatorOptions,
  PhaseResult,
  ProgressEvent,
  RunResult,
  Verb,
} from './types.ts';

/** Operator folders under the project's base path: `.strata/state` for execution state, `reports/` for reports. */
export function operatorPaths(basePath: string): { stateDir: string; workDir: string; reportDir: string } {
  return {
    stateDir: join(basePath, '.strata', 'state'),
    workDir: join(basePath, '.strata'),
    reportDir: join(basePath, 'reports'),
  };
}

/**
 * A stack's context from the stack engine: its global vars (presets, images, proxmox) and the settings of its
 * components (settings.proxmox), taken from the first component that evaluates.
 */
export async function stackContext(engine: StackEngine, stack: string): Promise<StackContext> {
  const names = await engine.stackNames();
  if (!names.includes(stack)) {
    throw new StrataError(`Unknown stack '${stack}'`, {
      hint: didYouMean(stack, names) ?? `Stacks: ${names.join(', ') || '(none)'}`,
    });
  }
  const vars = (await engine.stackVars(stack)) as Record<string, unknown>;
  let settings: Record<string, unknown> = {};
  try {
    const instances = await engine.instances({ stack });
    const first = instances.find((i) => !i.abstract) ?? instances[0];
    settings = (first?.description.settings ?? {}) as Record<string, unknown>;
  } catch {
    // A component that cannot be evaluated here (e.g. an !env secret that is not set) must not block the operator:
    // it only needs the stack's global vars.
  }
  return { stack, vars, settings };
}
