/** Workflows: Atmos-compatible manifests run through the shared graph scheduler, with run records and --resume. */

export { planDiagram } from './diagram.ts';
export {
  type DiscoverOptions,
  describeWorkflows,
  findWorkflow,
  listWorkflowFiles,
  resolveWorkflowFile,
  type WorkflowLocation,
  type WorkflowSummary,
} from './discover.ts';
export { resumeHint, WorkflowRunError, type WorkflowRunResult } from './execute.ts';
export {
  formatDuration,
  parseDuration,
  parseManifest,
  type RetryPolicy,
  readManifest,
  STEP_TYPES,
  type StepType,
  type WaitCondition,
  type Workflow,
  type WorkflowManifest,
  type WorkflowStep,
} from './model.ts';
export type { RunWorkflowOptions } from './options.ts';
export {
  chooseProgressMode,
  type ProgressMode,
  silentStreams,
  type TextSink,
  type WorkflowStreams,
} from './progress.ts';
export { listRecords, type RunRecord, type RunStatus, resumableRecord, runsDir, type StepRecord } from './record.ts';
export { runWorkflow, strataInvocation } from './run.ts';
export { splitWords, withStack } from './words.ts';
