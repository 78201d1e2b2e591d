/**
 * Run records: one JSON + one Markdown file per workflow run under `<base>/.strata/runs/<workflow>/`, rewritten
 * atomically after every step, so an interrupted or killed run still says where it stopped and `--resume` can go on.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StrataError } from '../errors.ts';
import type { RunRecord as StoredRunRecord, RunStatus as StoredRunStatus } from '../store/types.ts';
import { writeFileAtomicSync } from '../util/fs.ts';
import { globalMasker } from '../util/mask.ts';
import { processAlive } from '../util/pid.ts';
import { integer, list, number, object, oneOf, optional, problemWith, type Shape, string } from '../util/shape.ts';
import { formatDuration } from './model.ts';

export type RunStatus = Exclude<StoredRunStatus, 'abandoned'>;
const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'interrupted'];
export const STEP_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'interrupted',
  'cancelled',
  'skipped',
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export interface StepRecord {
  name: string;
  type: string;
  /** The command as run, with the resolved stack (masked). */
  command: string;
  stack?: string;
  needs: string[];
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  exitCode?: number;
  error?: string;
  /** Set when the step was not run again because an earlier run (this id) already finished it. */
  reusedFrom?: string;
  /** The last 40 output lines, masked. */
  output: string[];
}

/** A workflow run: the store's run record with the workflow's own fields. */
export type RunRecord = StoredRunRecord<WorkflowRunFields>;

interface WorkflowRunFields {
  version: 1;
  workflow: string;
  /** Manifest path relative to the workflows folder. */
  file: string;
  /** What `-f` was (or would be) given to find the manifest. */
  fileArg: string;
  /** The CLI --stack, if any (the workflow and step stacks are in the manifest). */
  stack?: string;
  status: RunStatus;
  pid: number;
  durationMs?: number;
  fromStep?: string;
  resumedFrom?: string;
  failedStep?: string;
  failedCommand?: string;
  resumeCommand?: string;
  signal?: string;
  steps: StepRecord[];
}

export const OUTPUT_TAIL_LINES = 40;

export function runsDir(basePath: string, workflow: string): string {
  return join(basePath, '.strata', 'runs', workflow.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** A sortable, file-name-safe timestamp: 2026-11-22T02-31-05-123Z. */
export function recordId(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

export function writeRecord(basePath: string, record: RunRecord): string {
  const dir = runsDir(basePath, record.workflow);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${record.id}.json`);
  writeFileAtomicSync(path, `${globalMasker.mask(JSON.stringify(record, null, 2))}\n`);
  writeFileAtomicSync(join(dir, `${record.id}.md`), globalMasker.mask(renderMarkdown(record)));
  return path;
}

/** One symbol per step status, shared by the markdown record and the live progress. */
export const STATUS_ICONS: Record<StepStatus, string> = {
  pending: '·',
  running: '▶',
  succeeded: '✔',
  failed: '✖',
  timed_out: '⏱',
  interrupted: '■',
  cancelled: '○',
  skipped: '↷',
};

export function renderMarkdown(record: RunRecord): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    `# Workflow run: ${record.workflow}`,
    '',
    `- Status: **${record.status}**`,
    `- File: \`${record.file}\``,
    ...(record.stack ? [`- Stack: \`${record.stack}\``] : []),
    `- Started: ${record.startedAt}`,
    ...(record.finishedAt ? [`- Finished: ${record.finishedAt} (${formatDuration(record.durationMs ?? 0)})`] : []),
    ...(record.fromStep ? [`- From step: \`${record.fromStep}\``] : []),
    ...(record.resumedFrom ? [`- Resumed from run: \`${record.resumedFrom}\``] : []),
    '',
    '| | Step | Status | Attempts | Duration | Command |',
    '|---|---|---|---|---|---|',
    ...record.steps.map(
      (s) =>
        `| ${STATUS_ICONS[s.status]} | ${cell(s.name)} | ${s.status}${s.reusedFrom ? ' (earlier run)' : ''} | ${s.attempts} | ${
          s.durationMs === undefined ? '' : formatDuration(s.durationMs)
        } | \`${cell(s.command)}\` |`,
    ),
  ];
  if (record.failedStep) {
    const failed = record.steps.find((s) => s.name === record.failedStep);
    lines.push('', `## Failed step: ${record.failedStep}`, '', '```', record.failedCommand ?? '', '```');
    if (failed?.error) lines.push('', failed.error);
    if (failed && failed.output.length > 0) {
      lines.push('', `Last ${failed.output.length} lines of output:`, '', '```', ...failed.output, '```');
    }
  }
  if (record.resumeCommand) lines.push('', '## Resume', '', '```', record.resumeCommand, '```');
  return `${lines.join('\n')}\n`;
}

const STEP_SHAPE: Shape = object({
  name: string,
  type: string,
  command: string,
  stack: optional(string),
  needs: list(string),
  status: oneOf(...STEP_STATUSES),
  attempts: integer,
  startedAt: optional(string),
  finishedAt: optional(string),
  durationMs: optional(number),
  exitCode: optional(integer),
  error: optional(string),
  reusedFrom: optional(string),
  output: list(string),
});

const RECORD_SHAPE: Shape = object({
  id: string,
  version: oneOf(1),
  workflow: string,
  file: string,
  fileArg: string,
  status: oneOf(...RUN_STATUSES),
  startedAt: string,
  pid: integer,
  steps: list(STEP_SHAPE),
});

/** Records of a workflow, newest first; one that is not JSON or has the wrong shape is an error naming it. */
export function listRecords(basePath: string, workflow: string): RunRecord[] {
  return recordFiles(basePath, workflow).map(readRecord);
}

/** Paths of a workflow's records, newest first (ids sort by time). */
function recordFiles(basePath: string, workflow: string): string[] {
  const dir = runsDir(basePath, workflow);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .reverse()
    .map((f) => join(dir, f));
}

function readRecord(path: string): RunRecord {
  const hint = `move it away (mv ${path} ${path}.bad): it is only used by --resume, and the next run starts afresh`;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new StrataError(`unreadable run record ${path}: ${(error as Error).message}`, {
      cause: error,
      location: { file: path },
      hint,
    });
  }
  const problem = problemWith(RECORD_SHAPE, data);
  if (problem)
    throw new StrataError(`run record ${path} has the wrong shape: ${problem}`, { location: { file: path }, hint });
  return data as RunRecord;
}

/** The run `--resume` continues: the newest record, which must have failed, been interrupted or died. */
export function resumableRecord(basePath: string, workflow: string): RunRecord {
  // Only the newest record matters (an older damaged one does not block a resume).
  const [newest] = recordFiles(basePath, workflow);
  const latest = newest === undefined ? undefined : readRecord(newest);
  if (!latest) {
    throw new StrataError(`nothing to resume: workflow ${workflow} has no run records`, {
      hint: `records are kept in ${runsDir(basePath, workflow)}; run the workflow first`,
    });
  }
  if (latest.status === 'succeeded') {
    throw new StrataError(`nothing to resume: the last run of workflow ${workflow} (${latest.id}) succeeded`, {
      hint: `run it again with: strata workflow ${workflow} -f ${latest.fileArg}`,
    });
  }
  if (latest.status === 'running' && latest.pid !== process.pid && processAlive(latest.pid)) {
    throw new StrataError(`workflow ${workflow} is still running (process ${latest.pid}, run ${latest.id})`, {
      hint: 'wait for it to finish or stop it with Ctrl-C, then resume',
    });
  }
  return latest;
}
