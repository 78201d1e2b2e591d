import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { StrataError, UsageError } from '../../errors.ts';
import { ciInit, FORGES, type Forge, upsertComment } from '../../gitops/ci.ts';
import { fetchReviewedPlans, writeGatheredSummary } from '../../gitops/ci-plans.ts';
import { parseFormat, render } from '../output.ts';
import { globals, out, subcommand } from '../shared.ts';

function forgeOf(name: string): Forge {
  if (!(FORGES as readonly string[]).includes(name)) {
    throw new UsageError(`unknown forge '${name}'`, { hint: `use one of: ${FORGES.join(', ')}` });
  }
  return name as Forge;
}

/** The forge API and token the pipelines hand over in STRATA_FORGE_API / STRATA_FORGE_TOKEN. */
function forgeAccess(forge: Forge): { api: string; token: string } {
  const token = process.env.STRATA_FORGE_TOKEN;
  if (!token)
    throw new UsageError('STRATA_FORGE_TOKEN is not set', { hint: 'pass the CI token in STRATA_FORGE_TOKEN' });
  const api = process.env.STRATA_FORGE_API ?? (forge === 'github' ? 'https://api.github.com' : '');
  if (!api) {
    throw new UsageError('STRATA_FORGE_API is not set', {
      hint: 'e.g. https://gitea.example/api/v1 or $CI_API_V4_URL',
    });
  }
  return { api, token };
}

const FORGE_ENV = '\nEnvironment: STRATA_FORGE_TOKEN (required), STRATA_FORGE_API (default https://api.github.com)\n';

/** The folder holding atmos.yaml, relative to the repository root ('' when it is the root or not found). */
function configFolder(cmd: Command, root: string): string {
  try {
    const g = globals(cmd);
    const folder = relative(root, loadConfig({ configPath: g.config, basePath: g.basePath }).configDir);
    return folder.startsWith('..') ? '' : folder;
  } catch {
    return '';
  }
}

export function register(program: Command): void {
  const ci = subcommand(program, 'ci', 'CI integration: pipelines, the request comment, reviewed plans');
  ci.command('init')
    .description('Write a CI pipeline: plan affected instances on pull requests, apply the reviewed plans on merge')
    .argument('<forge>', FORGES.join(' | '))
    .option(
      '--max-parallel <n>',
      'plan jobs at once (matrix max-parallel; GitLab: parallel shards)',
      (v) => Number(v),
      4,
    )
    .option('--package <spec>', 'what the pipeline installs with npm (default: strata-iac at this version)')
    .option('--branch <branch>', 'the branch that is applied', 'main')
    .option('--force', 'overwrite an existing workflow file')
    .option('--dry-run', 'print the files instead of writing them')
    .addHelpText('after', '\nExamples:\n  strata ci init github\n  strata ci init gitlab --max-parallel 8 --dry-run\n')
    .action(async (forge: string, opts, cmd: Command) => {
      if (!Number.isInteger(opts.maxParallel) || opts.maxParallel < 1) {
        throw new UsageError(`invalid --max-parallel '${opts.maxParallel}'`, { hint: 'a whole number >= 1' });
      }
      const { repoRoot } = await import('../../gitops/git.ts');
      const dir = await repoRoot(process.cwd()).catch(() => process.cwd());
      const files = ciInit({
        forge,
        dir,
        force: opts.force,
        dryRun: opts.dryRun,
        workingDirectory: configFolder(cmd, dir),
        strataPackage: opts.package,
        maxParallel: opts.maxParallel,
        branch: opts.branch,
      });
      for (const f of files) out(opts.dryRun ? `# ${f.path}\n${f.content}` : `wrote ${f.path}`);
    });

  ci.command('comment')
    .description('Create or update the single strata summary comment on a pull/merge request')
    .argument('<forge>', FORGES.join(' | '))
    .requiredOption('--repo <repo>', 'owner/name (GitHub, Gitea) or project id/path (GitLab)')
    .requiredOption('--pr <number>', 'pull/merge request number', (v) => Number.parseInt(v, 10))
    .requiredOption('--file <file>', 'the markdown summary (from strata plan --summary or strata ci summary)')
    .addHelpText('after', FORGE_ENV)
    .action(async (name: string, opts) => {
      const forge = forgeOf(name);
      const access = forgeAccess(forge);
      if (!existsSync(opts.file)) {
        throw new StrataError(`${opts.file} does not exist`, {
          hint: 'run strata plan --affected --summary <file> first',
        });
      }
      const body = readFileSync(opts.file, 'utf8');
      const result = await upsertComment({ forge, ...access, repo: opts.repo, pr: opts.pr, body });
      out(`${result.action} comment ${result.id}`);
    });

  ci.command('summary')
    .description('Gather the plans of several CI jobs (a matrix or shards) into one markdown summary')
    .option('--plans-dir <dir>', 'where the jobs\u2019 plans were collected (searched recursively)', '.strata/plans')
    .option('--summary <file>', 'write the summary here (overflow goes to <file>-full.md)', 'strata-plan.md')
    .addHelpText('after', '\nExample:\n  strata ci summary --plans-dir .strata/plans --summary strata-plan.md\n')
    .action((opts: { plansDir: string; summary: string }) => {
      if (!existsSync(opts.plansDir)) {
        throw new StrataError(`${opts.plansDir} does not exist`, {
          hint: 'download the plan jobs\u2019 artifacts there',
        });
      }
      out(writeGatheredSummary(opts.plansDir, opts.summary).markdown);
    });

  ci.command('fetch-plans')
    .description('Download the plans reviewed in the pull/merge request a commit came from (for apply --require-plan)')
    .argument('<forge>', FORGES.join(' | '))
    .requiredOption('--repo <repo>', 'owner/name (GitHub, Gitea) or project id/path (GitLab)')
    .requiredOption('--commit <sha>', 'the commit on the default branch being applied')
    .option('--out <dir>', 'where the plans go', '.strata/plans')
    .option('--format <format>', 'yaml or json', 'yaml')
    .addHelpText(
      'after',
      `${FORGE_ENV}\nExample:\n  strata ci fetch-plans github --repo acme/infra --commit "$GITHUB_SHA"\n`,
    )
    .action(async (name: string, opts) => {
      const forge = forgeOf(name);
      const format = parseFormat(opts.format);
      const fetched = await fetchReviewedPlans({ forge, ...forgeAccess(forge), ...opts });
      out(render(fetched, format));
    });
}
