import type { Command } from 'commander';
import { versionReport } from '../../services/version.ts';
import { parseFormat, render } from '../output.ts';
import { out } from '../shared.ts';

export function register(program: Command): void {
  program
    .command('version')
    .description('Show the versions of strata, Node.js and the tools strata drives (terraform, tofu, packer, ...)')
    .option('--format <format>', 'text, json or yaml', 'text')
    .addHelpText('after', '\nExamples:\n  strata version\n  strata version --format json')
    .action(async (opts: { format: string }) => {
      const format = opts.format === 'text' ? 'text' : parseFormat(opts.format, ['text', 'json', 'yaml']);
      const report = await versionReport();
      if (format !== 'text') return out(render(report, format));
      const rows: Array<[string, string]> = [
        ['strata', `${report.strata}${report.singleExecutable ? ' (single executable)' : ''}`],
        ['node', `${report.node} (${report.platform})`],
        ...report.tools.map((t): [string, string] => [t.tool, t.version ?? `- (${t.problem})`]),
      ];
      const width = Math.max(...rows.map(([name]) => name.length));
      out(rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n'));
    });
}
