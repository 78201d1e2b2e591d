/**
 * The pull-request summary: one markdown comment with a table of add/change/destroy per instance (destroys
 * highlighted) and, per instance, the resource changes with their attribute changes, or Terraform's own error for a
 * failed plan. Every value goes through the masker; values Terraform marks sensitive are never shown. It stays under
 * GitHub's comment limit; when the details do not fit, they are cut and the whole summary goes to an artifact file.
 */
import { countChanges, type PlanCounts } from '../components/terraform/extra.ts';
import { globalMasker } from '../util/mask.ts';
import { COMMENT_MARKER } from './ci.ts';

/** GitHub's limit is 65,536 characters; a margin leaves room for the forge's own additions. */
export const COMMENT_LIMIT = 65_000;

export interface PlanEntry {
  component: string;
  stack: string;
  /** `terraform show -json` of the saved plan; absent when the plan failed. */
  plan?: unknown;
  error?: string;
  /** Terraform's error block when the plan failed (masked, trimmed). */
  details?: string;
  /** Where the failed plan's whole output is: the CI job's log (ciLogUrl). */
  logUrl?: string;
  /** The saved planfile, for the JSON report. */
  planFile?: string;
}

export interface SummaryOptions {
  /** Commit range, e.g. `abc1234...def5678`. */
  range?: string;
  limit?: number;
  /** The artifact name mentioned when details are cut. */
  artifactName?: string;
}

export interface Summary {
  /** The comment body (always within the limit). */
  markdown: string;
  /** The complete summary (equal to markdown unless truncated). */
  full: string;
  truncated: boolean;
  totals: PlanCounts;
}

/** `abc1234...def5678`; with uncommitted changes (head `<sha>+uncommitted`) the range ends at the working tree. */
export function commitRange(base: string, head: string): string {
  const [commit, uncommitted] = head.split('+');
  const end =
    uncommitted === undefined
      ? commit.slice(0, 7)
      : commit === base
        ? 'working tree'
        : `${commit.slice(0, 7)} + working tree`;
  return `${base.slice(0, 7)}...${end}`;
}

/**
 * The log of the CI job this runs in: GitHub and Gitea Actions (`GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`,
 * `GITHUB_RUN_ID`) or GitLab (`CI_JOB_URL`); undefined outside CI.
 */
export function ciLogUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CI_JOB_URL) return env.CI_JOB_URL;
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: run } = env;
  return server && repository && run ? `${server.replace(/\/+$/, '')}/${repository}/actions/runs/${run}` : undefined;
}

export interface ResourceChange {
  address: string;
  actions: string[];
  /** Top-level attributes that change: `name: before → after` (creates: `name: after`). */
  attributes: string[];
}

interface PlannedChange {
  actions?: string[];
  before?: unknown;
  after?: unknown;
  after_unknown?: unknown;
  before_sensitive?: unknown;
  after_sensitive?: unknown;
}

const MAX_ATTRIBUTES = 20;
const MAX_VALUE = 80;

const field = (value: unknown, key: string): unknown =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
/** Terraform marks a sensitive attribute `true`, and a nested value with a sensitive part an object or list of marks. */
const isSensitive = (marks: unknown): boolean =>
  marks === true || (typeof marks === 'object' && marks !== null && Object.values(marks).some(isSensitive));

function shown(value: unknown, sensitive: boolean, unknown = false): string {
  if (sensitive) return '(sensitive value)';
  if (unknown) return '(known after apply)';
  const text = globalMasker.mask(JSON.stringify(value) ?? 'null');
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** What changes in each attribute of one resource, as Terraform's plan output lists them (top level only). */
function attributeChanges(change: PlannedChange): string[] {
  const actions = change.actions ?? [];
  if (actions.includes('delete') && !actions.includes('create')) return [];
  const creating = actions.includes('create') && !actions.includes('delete');
  const keys = new Set(['before', 'after', 'after_unknown'].flatMap((part) => Object.keys(field(change, part) ?? {})));
  const lines: string[] = [];
  for (const key of [...keys].sort()) {
    const before = field(change.before, key);
    const after = field(change.after, key);
    const unknown = field(change.after_unknown, key) === true;
    const sensitive =
      isSensitive(field(change.before_sensitive, key)) || isSensitive(field(change.after_sensitive, key));
    if (creating) {
      if (after !== null && after !== undefined) lines.push(`${key}: ${shown(after, sensitive)}`);
      else if (unknown) lines.push(`${key}: ${shown(undefined, false, true)}`);
    } else if (unknown || JSON.stringify(before) !== JSON.stringify(after)) {
      lines.push(`${key}: ${shown(before, sensitive)} → ${shown(after, sensitive, unknown)}`);
    }
  }
  if (lines.length <= MAX_ATTRIBUTES) return lines;
  return [...lines.slice(0, MAX_ATTRIBUTES), `… ${lines.length - MAX_ATTRIBUTES} more attributes`];
}

export function resourceChanges(plan: unknown): ResourceChange[] {
  const changes = (plan as { resource_changes?: unknown })?.resource_changes;
  if (!Array.isArray(changes)) return [];
  return changes
    .map((c) => {
      const change = ((c as { change?: PlannedChange }).change ?? {}) as PlannedChange;
      return {
        address: String((c as { address?: unknown }).address ?? '?'),
        actions: change.actions ?? [],
        attributes: attributeChanges(change),
      };
    })
    .filter((c) => !(c.actions.length === 1 && (c.actions[0] === 'no-op' || c.actions[0] === 'read')));
}

function symbol(actions: string[]): string {
  if (actions.includes('delete') && actions.includes('create')) return '-/+';
  if (actions.includes('delete')) return '-';
  if (actions.includes('create')) return '+';
  return '~';
}

export function verb(actions: string[]): string {
  if (actions.includes('delete') && actions.includes('create')) return 'replace';
  if (actions.includes('delete')) return 'destroy';
  if (actions.includes('create')) return 'create';
  return 'update';
}

const code = (s: string) => `\`${s.replaceAll('`', "'")}\``;

function headline(counts: PlanCounts): string {
  if (counts.add + counts.change + counts.destroy === 0) return 'no changes';
  return `${counts.add} to add, ${counts.change} to change, ${counts.destroy} to destroy`;
}

function details(entry: PlanEntry, counts: PlanCounts | undefined): string {
  const title = `${entry.component} in ${entry.stack}: ${entry.error ? 'plan failed' : headline(counts as PlanCounts)}`;
  let body: string;
  const fence = (text: string, language = '') => `\`\`\`${language}\n${text.replaceAll('```', "'''")}\n\`\`\``;
  if (entry.error) {
    body = fence(globalMasker.mask([entry.error, entry.details].filter(Boolean).join('\n\n')));
    if (entry.logUrl) body += `\n\nThe whole output: [the job's log](${entry.logUrl}).`;
  } else {
    const changes = resourceChanges(entry.plan);
    const lines = changes.flatMap((c) => [
      `${symbol(c.actions)} ${c.address} (${verb(c.actions)})`,
      ...c.attributes.map((a) => `    ${a}`),
    ]);
    body = changes.length === 0 ? 'No resource changes.' : fence(lines.join('\n'), 'diff');
  }
  return `<details><summary>${title.replaceAll('<', '&lt;')}</summary>\n\n${body}\n\n</details>\n`;
}

/** Renders the summary for `entries` (in the order given: the plan's dependency order). */
export function renderSummary(entries: PlanEntry[], options: SummaryOptions = {}): Summary {
  const limit = options.limit ?? COMMENT_LIMIT;
  const totals: PlanCounts = { add: 0, change: 0, destroy: 0 };
  const counted = entries.map((e) => (e.error ? undefined : countChanges(e.plan)));
  for (const c of counted) {
    if (!c) continue;
    totals.add += c.add;
    totals.change += c.change;
    totals.destroy += c.destroy;
  }
  const failed = entries.filter((e) => e.error).length;
  const head: string[] = [
    COMMENT_MARKER,
    `## strata plan: ${entries.length} affected instance${entries.length === 1 ? '' : 's'}${options.range ? ` (${options.range})` : ''}`,
    '',
    `**${headline(totals)}**${failed ? `, **${failed} plan${failed === 1 ? '' : 's'} failed**` : ''}`,
    '',
  ];
  const destroying = entries.filter((_, i) => (counted[i]?.destroy ?? 0) > 0);
  if (destroying.length > 0) {
    head.push(
      `> [!CAUTION]\n> **${totals.destroy} resource${totals.destroy === 1 ? '' : 's'} will be destroyed** in ${destroying.map((e) => code(`${e.component}@${e.stack}`)).join(', ')}`,
      '',
    );
  }
  if (entries.length > 0) {
    head.push('| | Component | Stack | Add | Change | Destroy |', '|---|---|---|---:|---:|---:|');
    entries.forEach((e, i) => {
      const c = counted[i];
      const mark = !c ? '❌' : c.destroy > 0 ? '🔴' : c.add + c.change > 0 ? '🟡' : '⚪';
      const cells = c ? [String(c.add), String(c.change), c.destroy > 0 ? `**${c.destroy}**` : '0'] : ['-', '-', '-'];
      head.push(`| ${mark} | ${code(e.component)} | ${code(e.stack)} | ${cells.join(' | ')} |`);
    });
    head.push('');
  }
  const top = `${head.join('\n')}\n`;
  const sections = entries.map((e, i) => details(e, counted[i]));
  const full = top + sections.join('\n');
  if (full.length <= limit) return { markdown: full, full, truncated: false, totals };
  const note = `\n_Details cut to fit the comment limit; the full summary is in the artifact ${code(options.artifactName ?? 'strata-plan-full.md')}._\n`;
  let markdown = top;
  let shown = 0;
  for (const section of sections) {
    if (markdown.length + section.length + 1 + note.length > limit) break;
    markdown += `${section}\n`;
    shown++;
  }
  markdown += note;
  if (markdown.length > limit) markdown = `${markdown.slice(0, limit - note.length - 1)}\n${note}`;
  return { markdown, full, truncated: shown < sections.length || markdown.length < full.length, totals };
}
