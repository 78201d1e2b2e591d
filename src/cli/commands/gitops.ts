import type { Command } from 'commander';
import { StrataError, UsageError } from '../../errors.ts';
import { defaultResolvers, readOnlyResolvers } from '../../services/engine.ts';
import { parseFormat, render } from '../output.ts';
import { evaluationFlags, evaluationOptions, globals, out, subcommand } from '../shared.ts';

async function storeDir(cmd: Command): Promise<string> {
  const { repoRoot } = await import('../../gitops/git.ts');
  return repoRoot(process.cwd()).catch(() => {
    const g = globals(cmd);
    return g.basePath ?? process.cwd();
  });
}

interface AffectedRunFlags {
  ref?: string;
  sha?: string;
  includeUncommitted?: boolean;
  plansDir?: string;
  maxConcurrency?: number;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function parseShard(text: string): { index: number; total: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const [index, total] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (index < 1 || index > total) {
    throw new UsageError(`invalid --shard '${text}'`, { hint: 'give i/n with 1 <= i <= n, e.g. --shard 2/4' });
  }
  return { index, total };
}

/** The options `plan` and `apply` share: where the repository is, which change, where plans live. */
function affectedRunOptions(opts: AffectedRunFlags, cmd: Command) {
  const g = globals(cmd);
  return {
    configPath: g.config,
    basePath: g.basePath,
    ref: opts.ref,
    sha: opts.sha,
    includeUncommitted: opts.includeUncommitted,
    plansDir: opts.plansDir,
    maxConcurrency: opts.maxConcurrency,
    resolvers: defaultResolvers,
    // Terraform's output: on stderr, so stdout holds only the summary or the --format data.
    write: (text: string) => process.stderr.write(text),
  };
}

// Each command loads its own modules when it runs: `describe affected` is on every pull request's path, and the plan,
// doctor and lock code (Terraform runner, S3, PostgreSQL store) would cost it tens of milliseconds of start-up.
const affectedModule = () => import('../../gitops/affected.ts');
const openStore: typeof import('../../store/index.ts').openStore = async (options) =>
  (await import('../../store/index.ts')).openStore(options);

export function register(program: Command): void {
  const describe = subcommand(program, 'describe', 'Show the merged configuration of stacks, components and the CLI');
  evaluationFlags(describe.command('affected'))
    .description('List the component instances a change affects (between a base commit and HEAD), with reasons')
    .option('--ref <ref>', 'base git ref (default: merge-base of HEAD and the default branch)')
    .option('--sha <sha>', 'base commit SHA (wins over --ref)')
    .option('--repo-path <dir>', 'an already checked-out base tree instead of a commit')
    .option('--include-dependents', 'add the recursive dependents of each item')
    .option('--include-settings', "add each item's settings section")
    .option('--exclude-locked', 'leave out components with metadata.locked: true')
    .option('--include-uncommitted', 'compare the working tree (uncommitted and untracked files) instead of HEAD')
    .option('-s, --stack <stack>', 'only items in this stack')
    .option('--format <format>', 'json, yaml or matrix (a CI job matrix)', 'json')
    .addHelpText(
      'after',
      '\nExamples:\n  strata describe affected --ref main --include-dependents\n  strata describe affected --format matrix   # {"include":[{"stack":...,"component":...}]}\n',
    )
    .action(async (opts, cmd: Command) => {
      const format = parseFormat(opts.format, ['json', 'yaml', 'matrix']) as string;
      const g = globals(cmd);
      const { affectedMatrix, describeAffectedReport } = await affectedModule();
      const report = await describeAffectedReport({
        configPath: g.config,
        basePath: g.basePath,
        ref: opts.ref,
        sha: opts.sha,
        repoPath: opts.repoPath,
        includeDependents: opts.includeDependents,
        includeSettings: opts.includeSettings,
        excludeLocked: opts.excludeLocked,
        includeUncommitted: opts.includeUncommitted,
        stack: opts.stack,
        resolvers: readOnlyResolvers,
        ...evaluationOptions(opts),
      });
      const items = report.items;
      if (report.base === report.head) {
        process.stderr.write(
          `strata: the base ${opts.sha ?? opts.ref ?? '(merge-base)'} is HEAD (${report.head.slice(0, 7)}): no commits to compare; add --include-uncommitted to compare your working tree\n`,
        );
      }
      if (format === 'matrix') out(JSON.stringify(affectedMatrix(items)));
      else out(render(items, format as 'json' | 'yaml'));
    });

  const generate = subcommand(program, 'generate', 'Generate files from stacks');
  generate
    .command('env')
    .description('Write every generated input of a stack (var files, backends, inventories, values) + metadata.json')
    .requiredOption('-s, --stack <stack>', 'the stack')
    .requiredOption('--out <dir>', 'output folder')
    .option('--format <format>', 'print the metadata as json or yaml', 'yaml')
    .addHelpText('after', '\nExample:\n  strata generate env -s prod --out generated/prod\n')
    .action(async (opts, cmd: Command) => {
      const format = parseFormat(opts.format);
      const g = globals(cmd);
      const { generateEnv } = await import('../../gitops/generate-env.ts');
      const metadata = await generateEnv({
        configPath: g.config,
        basePath: g.basePath,
        stack: opts.stack,
        out: opts.out,
        resolvers: defaultResolvers,
      });
      out(render(metadata, format));
    });

  const lock = subcommand(program, 'lock', 'Show and clear run locks (team mode: STRATA_DATABASE_URL, else .strata/)');
  lock
    .command('list')
    .description('List run locks: who holds each component instance, what for, until when')
    .option('--format <format>', 'yaml or json', 'yaml')
    .addHelpText(
      'after',
      '\nExample:\n  STRATA_DATABASE_URL=postgres://strata@db/strata strata lock list --format json\n',
    )
    .action(async (opts, cmd: Command) => {
      const format = parseFormat(opts.format);
      const store = await openStore({ dir: await storeDir(cmd) });
      try {
        const now = Date.now();
        const locks = (await store.list()).map((l) => ({
          id: l.id,
          holder: l.holder,
          operation: l.operation,
          acquired_at: l.acquiredAt,
          expires_at: l.expiresAt,
          expired: Date.parse(l.expiresAt) <= now,
        }));
        out(render({ store: store.kind, locks }, format));
      } finally {
        await store.close();
      }
    });
  lock
    .command('release')
    .description('Clear the lock of a component instance (component@stack), e.g. after a crashed run')
    .argument('<id>', 'component@stack, as `strata lock list` shows it')
    .option('--dry-run', 'show what would be released')
    .addHelpText('after', '\nExample:\n  strata lock release vpc@prod\n')
    .action(async (id: string, opts, cmd: Command) => {
      if (!id.includes('@')) throw new UsageError(`'${id}' is not component@stack`, { hint: 'e.g. vpc@prod' });
      const store = await openStore({ dir: await storeDir(cmd) });
      try {
        const held = (await store.list()).find((l) => l.id === id);
        if (!held) {
          const { didYouMean } = await import('../../util/suggest.ts');
          const ids = (await store.list()).map((l) => l.id);
          throw new StrataError(`no lock on '${id}'`, {
            hint: didYouMean(id, ids) ?? (ids.length ? `locks: ${ids.join(', ')}` : 'there are no locks'),
          });
        }
        if (opts.dryRun) out(`would release ${id} (held by ${held.holder} for ${held.operation})`);
        else {
          await store.release(id);
          out(`released ${id} (was held by ${held.holder} for ${held.operation})`);
        }
      } finally {
        await store.close();
      }
    });

  const affectedFlags = (cmd: Command) =>
    cmd
      .option('--affected', 'every instance the change affects (required: the only selection these commands take)')
      .option('--ref <ref>', 'base git ref (default: merge-base of HEAD and the default branch)')
      .option('--sha <sha>', 'base commit SHA')
      .option('--include-uncommitted', 'compare the working tree instead of HEAD')
      .option('--plans-dir <dir>', 'where saved plans and their digests live (default .strata/plans)')
      .option('--max-concurrency <n>', 'instances run at once when independent', (v) => Number.parseInt(v, 10));

  affectedFlags(
    program
      .command('plan')
      .description('terraform plan for every affected instance in dependency order, with a PR summary'),
  )
    .option('--summary <file>', 'write the markdown PR summary here (overflow goes to <file>-full.md)')
    .option(
      '--html <file>',
      'write an HTML report here: summary, plan timeline, dependency graph (one self-contained file)',
    )
    .option('--format <format>', 'markdown (the summary) or json', 'markdown')
    .option('--instance <component@stack>', 'only this affected instance (repeatable: one CI matrix job)', collect, [])
    .option('--shard <i/n>', 'only the i-th of n shares of the affected instances (one of n parallel CI jobs)')
    .addHelpText(
      'after',
      '\nExamples:\n  strata plan --affected --ref origin/main --summary strata-plan.md\n  strata plan --affected --ref origin/main --html strata-plan.html\n',
    )
    .action(async (opts, cmd: Command) => {
      if (!opts.affected)
        throw new UsageError('plan needs --affected', {
          hint: 'for one component use: strata terraform plan <component> -s <stack>',
        });
      const format = parseFormat(opts.format, ['markdown', 'json']) as string;
      const { planAffected } = await import('../../gitops/plan.ts');
      const result = await planAffected({
        ...affectedRunOptions(opts, cmd),
        summaryFile: opts.summary,
        htmlFile: opts.html,
        instances: opts.instance.length > 0 ? opts.instance : undefined,
        shard: opts.shard ? parseShard(opts.shard) : undefined,
      });
      if (format === 'json') {
        const { summary, ...rest } = result;
        out(render({ ...rest, totals: summary.totals, summary_truncated: summary.truncated }, 'json'));
      } else out(result.summary.markdown);
      process.exitCode = result.exitCode;
    });

  affectedFlags(
    program
      .command('apply')
      .description('Apply exactly the instances a merged change affects; refuses saved plans whose inputs changed'),
  )
    .option('--require-plan', 'refuse instances that have no saved plan')
    .option('--dry-run', 'show what would be applied')
    .option('--format <format>', 'yaml or json', 'yaml')
    .addHelpText('after', '\nExample (CI, after a merge to main):\n  strata apply --affected --ref "$BEFORE_SHA"\n')
    .action(async (opts, cmd: Command) => {
      if (!opts.affected)
        throw new UsageError('apply needs --affected', {
          hint: 'for one component use: strata terraform apply <component> -s <stack>',
        });
      if (!opts.ref && !opts.sha)
        throw new UsageError('apply --affected needs --ref or --sha', {
          hint: 'pass the commit before the merge, e.g. --ref "$BEFORE_SHA"',
        });
      const format = parseFormat(opts.format);
      const { applyAffected } = await import('../../gitops/plan.ts');
      const result = await applyAffected({
        ...affectedRunOptions(opts, cmd),
        requirePlan: opts.requirePlan,
        dryRun: opts.dryRun,
      });
      out(render(result, format));
      // Why each instance was not applied, where scripts and people look for it.
      for (const i of result.instances)
        if (i.error) process.stderr.write(`strata: ${i.component}@${i.stack}: ${i.error}\n`);
      process.exitCode = result.exitCode;
    });

  const doctor = subcommand(program, 'doctor', 'Check that the things strata relies on really work');
  doctor
    .command('backend')
    .description("Prove a component's Terraform backend locks state: take a lock, see a second taker refused, release")
    .argument('<component>', 'terraform component')
    .requiredOption('-s, --stack <stack>', 'stack')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('--bootstrap', 's3: first create the bucket (versioned) and the DynamoDB lock table if missing')
    .option('--print', 's3: with --bootstrap, only print the Terraform that creates them')
    .addHelpText(
      'after',
      '\nExamples:\n  strata doctor backend vpc -s prod\n  strata doctor backend vpc -s prod --bootstrap [--print]\n',
    )
    .action(async (component: string, opts, cmd: Command) => {
      const format = parseFormat(opts.format);
      const g = globals(cmd);
      const target = { configPath: g.config, basePath: g.basePath, component, stack: opts.stack };
      if (opts.print && !opts.bootstrap) throw new UsageError('--print goes with --bootstrap');
      const { bootstrapBackend, doctorBackend } = await import('../../gitops/doctor.ts');
      let bootstrap: unknown;
      if (opts.bootstrap) {
        const created = await bootstrapBackend({ ...target, print: opts.print === true });
        if (created.terraform !== undefined) return out(created.terraform);
        bootstrap = created.steps;
      }
      const report = await doctorBackend({ ...target, resolvers: readOnlyResolvers, ...evaluationOptions(opts) });
      out(render(bootstrap ? { bootstrap, ...report } : report, format));
      process.exitCode = report.ok ? 0 : 1;
    });
}
