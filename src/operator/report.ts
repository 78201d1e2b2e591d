/** Test reports: `reports/YYYYMMDD-HHMMSS.{passed|failed}.{json,md,html}`, as the seed names them (html on request). */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../util/fs.ts';
import { globalMasker } from '../util/mask.ts';
import type { Manifest } from './manifest.ts';
import { reportHtml } from './report-html.ts';
import type { LeftoverVm, RunResult } from './types.ts';

/** Report files: the seed's JSON, a markdown summary for people and a self-contained HTML page with pictures. */
export type ReportFormat = 'json' | 'md' | 'html';

export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'md', 'html'];

function stamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export function reportMarkdown(result: RunResult, date: Date): string {
  const icon = { passed: '✅', failed: '❌', skipped: '⏭️' } as const;
  const lines = [
    `# ${result.scenario}`,
    '',
    `**Manifest**: ${result.manifest}  `,
    `**Stack**: ${result.stack || '(none)'}  `,
    `**Host**: ${hostname()}  `,
    `**Status**: ${result.success ? 'PASSED' : 'FAILED'}  `,
    `**Date**: ${date.toISOString()}  `,
    `**Duration**: ${result.duration_seconds.toFixed(1)}s`,
    '',
    '## Phases',
    '',
    '| Phase | Status | Duration | Message |',
    '|---|---|---|---|',
    ...result.phases.map(
      (p) =>
        `| ${p.name} | ${icon[p.status]} ${p.status} | ${p.duration.toFixed(1)}s | ${(p.message ?? '').replace(/\|/g, '\\|')} |`,
    ),
    '',
    '## Nodes',
    '',
    '| Node | Status | VM id | IP | Duration | Error |',
    '|---|---|---|---|---|---|',
    ...result.nodes.map(
      (n) =>
        `| ${n.name} | ${n.status} | ${n.vm_id ?? ''} | ${n.ip ?? ''} | ${n.duration === undefined ? '' : `${n.duration.toFixed(1)}s`} | ${(n.error ?? '').replace(/\|/g, '\\|')} |`,
    ),
  ];
  if (result.leftover?.length) {
    lines.push('', '## Left behind', '', 'Their destroy failed; remove them by hand or run destroy again:', '');
    for (const vm of result.leftover) lines.push(`- ${leftoverLine(vm)}`);
  }
  if (result.error) lines.push('', '## Error', '', '```', result.error, '```');
  lines.push('', `Generated: ${new Date().toISOString()}`, '');
  return globalMasker.mask(lines.join('\n'));
}

/** `VM 303 (node c) on https://pve:8006: <why>`: one VM a destroy left, for reports and stderr. */
export function leftoverLine(vm: LeftoverVm): string {
  const ids = vm.vm_ids.length > 0 ? `VM ${vm.vm_ids.join(', ')}` : 'its VM (id unknown)';
  return `${ids} (node ${vm.node}) on ${vm.host}: ${vm.error.split('\n')[0]}`;
}

/**
 * Writes the reports (JSON and markdown unless `formats` says otherwise); returns their paths by format. The
 * manifest gives the HTML report its graph (parent links).
 */
export async function writeReports<F extends ReportFormat = ReportFormat>(
  dir: string,
  result: RunResult,
  date = new Date(),
  formats: readonly F[] = ['json', 'md'] as F[],
  manifest?: Pick<Manifest, 'nodes'>,
): Promise<Record<F, string>> {
  const base = join(dir, `${stamp(date)}.${result.success ? 'passed' : 'failed'}`);
  const paths = {} as Record<F, string>;
  for (const format of formats) {
    const path = `${base}.${format}`;
    if (format === 'json') {
      const body = {
        ...result,
        host: hostname(),
        started_at: new Date(date.getTime() - result.duration_seconds * 1000).toISOString(),
        finished_at: date.toISOString(),
      };
      writeFileAtomicSync(path, `${globalMasker.mask(JSON.stringify(body, null, 2))}\n`);
    } else if (format === 'html') writeFileAtomicSync(path, reportHtml(result, date, manifest));
    else writeFileAtomicSync(path, reportMarkdown(result, date));
    paths[format] = path;
  }
  return paths;
}
