import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { vendorPull } from '../../vendor/index.ts';
import { parseFormat, render } from '../output.ts';
import { globals, out, subcommand } from '../shared.ts';

export function register(program: Command): void {
  const vendor = subcommand(program, 'vendor', 'Pull component code from vendor.yaml / component.yaml sources');
  vendor
    .command('pull')
    .description('Copy each vendor source (local folder or git repository) into its targets')
    .option('-c, --component <component>', 'only this component (its vendor.yaml entry, else its component.yaml)')
    .option('--tags <list>', 'only sources with one of these tags (comma-separated)')
    .option('-f, --format <format>', 'text, json or yaml', 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  strata vendor pull\n  strata vendor pull -c vpc\n  strata vendor pull --tags networking\n',
    )
    .action(async (opts: { component?: string; tags?: string; format: string }, cmd: Command) => {
      const g = globals(cmd);
      const config = loadConfig({ configPath: g.config, basePath: g.basePath });
      const pulled = await vendorPull(config, {
        component: opts.component,
        tags: opts.tags
          ?.split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      });
      if (opts.format !== 'text') return out(render(pulled, parseFormat(opts.format)));
      for (const p of pulled) {
        process.stderr.write(`✓ ${p.component}: ${p.files} files from ${p.source} into ${p.target}\n`);
      }
    });
}
