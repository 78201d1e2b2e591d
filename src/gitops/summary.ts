/**
 * The pull-request summary: one markdown comment with a table of add/change/destroy per instance (destroys
 * highlighted) and a collapsible list of resource changes per instance. It stays under GitHub's comment limit;
 * when the details do not fit, they are cut and the whole summary goes to an artifact file.
 */
import { countChanges, type PlanCounts } from '../components/terraform/extra.ts';
import { COMMENT_MARKER } from './ci.ts';

/** GitHub's limit is 65,536 characters; a margin leaves room for the forge's own additions. */
export const COMMENT_LIMIT = 65_000;

export interface PlanEntry {
  component: string;
  stack: string;
  /** `terraform show -json` of the saved plan; absent when the plan failed. */
  plan?: unknown;
  error?: string;
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

export interface ResourceChange {
  address: string;
  actions: string[];
}

export function resourceChanges(plan: unknown): ResourceChange[] {
  const changes = (plan as { resource_changes?: unknown })?.resource_changes;
  if (!Array.isArray(changes)) return [];
  return changes
    .map((c) => ({
      address: String((c as { address?: unknown }).address ?? '?'),
      actions: ((c as { change?: { actions?: unknown } }).change?.actions as string[] | undefined) ?? [],
    }))
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
  if (entry.error) body = `\`\`\`\n${entry.error.replaceAll('```', "'''")}\n\`\`\``;
  else {
    const changes = resourceChanges(entry.plan);
    body =
      changes.length === 0
        ? 'No resource changes.'
        : `\`\`\`diff\n${changes.map((c) => `${symbol(c.actions)} ${c.address} (${verb(c.actions)})`).join('\n')}\n\`\`\``;
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
