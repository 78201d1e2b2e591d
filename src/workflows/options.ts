/** What a workflow run is asked to do, and the same with its defaults filled in, as every stage of a run sees it. */
import type { ProgressMode, WorkflowStreams } from './progress.ts';

export interface RunWorkflowOptions {
  /** Absolute `workflows.base_path`. */
  workflowsDir: string;
  /** Base path: working_directory is relative to it, run records go under `<basePath>/.strata/runs`. Default cwd. */
  basePath?: string;
  /** `-f`: manifest relative to the workflows folder, extension optional. Found automatically when omitted. */
  file?: string;
  /** `--stack`: highest precedence. */
  stack?: string;
  fromStep?: string;
  /** Continue the last failed/interrupted run of this workflow from its first unfinished step. */
  resume?: boolean;
  /** Plan only: the result carries a `DryRunPlan`, nothing runs and no record is written. */
  dryRun?: boolean;
  /** Parallel steps at most (only steps with `needs` can run in parallel). Default 4. */
  maxConcurrency?: number;
  /** Extra environment for every step (lowest precedence), e.g. ATMOS_CONFIG so nested strata finds the same config. */
  env?: Record<string, string>;
  /**
   * Where the steps' output and the progress go. Default: nowhere (a library caller gets a silent run; each step's
   * last output lines are kept in the run record). The CLI passes the process's stdout and stderr. Interactive
   * steps are the exception: they always get the terminal of this process.
   */
  streams?: WorkflowStreams;
  /** Default `none`; the CLI picks one with `chooseProgressMode`. */
  progress?: ProgressMode;
  /** How `strata` steps start strata. Default: `strataInvocation()`. */
  strata?: { command: string; args: string[] };
  /** Write run records (default true; never in a dry run). */
  records?: boolean;
}

/** The options with their defaults applied. */
export interface RunSettings extends RunWorkflowOptions {
  basePath: string;
  maxConcurrency: number;
  streams: WorkflowStreams;
  progress: ProgressMode;
  strata: { command: string; args: string[] };
}
