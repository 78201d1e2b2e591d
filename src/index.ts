/**
 * strata as a library: every CLI command is one of these typed functions. Import from 'strata-iac'.
 * The Proxmox API simulator is a separate entry point, 'strata-iac/simulator', so programs that drive real hosts never
 * load it.
 */

export { readTerraformOutput } from './components/terraform/outputs.ts';
export { describeConfig, loadConfig } from './config/index.ts';
export type { LoadConfigOptions, StrataConfig } from './config/types.ts';
export { startController } from './controller/index.ts';
export { formatError, StrataError, UsageError } from './errors.ts';
export { formatCommand, run, ToolNotFoundError } from './exec/index.ts';
export { runGraph, topologicalLevels, validateGraph } from './graph/index.ts';
export { PveApiError, PveClient, PveTaskError } from './proxmox/client.ts';
export { parseSecretTag, resolveSecrets, SecretRef } from './secrets/values.ts';
export * from './services/describe.ts';
export { defaultResolvers, openEngine, withDefaultResolvers } from './services/engine.ts';
export type {
  ConnectionProvider,
  ManifestEvent,
  ManifestResult,
  ManifestRunOptions,
  ManifestVerb,
  NestedLocator,
  NodeReport,
  PortProbe,
  ProxmoxConnection,
  ReportFormat,
  RunManifestRequest,
  RunResult,
  StackContext,
} from './services/manifest.ts';
export { addressLocator, runManifest, simulatorLocator } from './services/manifest.ts';
export * from './services/toolchain.ts';
export * from './services/validate.ts';
export * from './stacks/index.ts';
export { componentProvenance } from './stacks/provenance.ts';
export { executeTemplate, parseTemplate, renderTemplate, TemplateError } from './template/index.ts';
export { globalMasker, Masker } from './util/mask.ts';
export type { DryRunPlan, PlannedAction } from './util/plan.ts';
export { renderPlanText } from './util/plan.ts';
export { checkInstanceVariables, readDeclaredVariables } from './validate/variables.ts';
export * as workflows from './workflows/index.ts';
