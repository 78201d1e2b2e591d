/**
 * strata as a library: every CLI command is one of these typed functions. Import from 'strata'.
 */
export { describeConfig, loadConfig } from './config/index.ts';
export type { LoadConfigOptions, StrataConfig } from './config/types.ts';
export { formatError, StrataError, UsageError } from './errors.ts';
export * from './stacks/index.ts';
export { componentProvenance } from './stacks/provenance.ts';
export { checkInstanceVariables, readDeclaredVariables } from './validate/variables.ts';
export { renderTemplate, parseTemplate, executeTemplate, TemplateError } from './template/index.ts';
export { runComponentCommand } from './components/dispatch.ts';
export { readTerraformOutput } from './components/terraform/outputs.ts';
export * as workflows from './workflows/index.ts';
export { run, formatCommand, ToolNotFoundError } from './exec/index.ts';
export { runGraph, topologicalLevels, validateGraph } from './graph/index.ts';
export { PveClient, PveApiError, PveTaskError } from './proxmox/client.ts';
export { startSimulator } from './proxmox/simulator/index.ts';
export { startController } from './controller/index.ts';
export { Masker, globalMasker } from './secrets/mask.ts';
export { parseSecretTag, resolveSecrets, SecretRef } from './secrets/values.ts';
