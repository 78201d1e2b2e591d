/**
 * `plan --affected` and `apply --affected`: Terraform for exactly the instances a change affects, in dependency
 * order, through the toolchain's runner. Each saved plan is kept with a digest of its inputs (var values, backend,
 * workspace and the component's files); apply refuses a saved plan whose inputs changed since.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { contextPrefix, terraformPlanfileName } from '../components/common.ts';
import { countChanges, type PlanCounts, showPlan } from '../components/terraform/extra.ts';
import { backendDocument, workspaceName } from '../components/terraform/files.ts';
import { dependencyGraph, instanceId, runTerraformMany } from '../components/terraform/multi.ts';
import { runTerraform } from '../components/terraform/runner.ts';
import type { StrataConfig } from '../config/types.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { StrataError } from '../errors.ts';
import { runGraph, topologicalLevels } from '../graph/index.ts';
import { loadEngine } from '../stacks/index.ts';
import { LockedError, openStore, withRunLock } from '../store/index.ts';
import { writeFileAtomicSync } from '../util/fs.ts';
import { type AffectedItem, type AffectedOptions, canonicalJson, describeAffectedReport } from './affected.ts';
import { repoRoot } from './git.ts';
import { ciLogUrl, commitRange, type PlanEntry, renderSummary, type Summary } from './summary.ts';
import { planReportHtml } from './summary-html.ts';

/** Files strata writes into a component folder from the stack (they are inputs through vars/backend already). */
const GENERATED = [/\.planfile$/, /\.terraform\.tfvars\.json$/, /^backend\.tf\.json$/, /_override\.tf\.json$/];
const SKIPPED_DIRS = new Set(['.terraform', 'terraform.tfstate.d']);

function componentFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) out.push(...componentFiles(dir, path));
    } else if (
      entry.isFile() &&
      !entry.name.startsWith('terraform.tfstate') &&
      !GENERATED.some((re) => re.test(entry.name))
    )
      out.push(path);
  }
  return out.sort();
}

/** The digest of everything a plan was made from. */
export function planInputsDigest(config: StrataConfig, instance: ComponentInstance): string {
  const h = createHash('sha256');
  const workspace = workspaceName(config, instance);
  h.update(
    canonicalJson({
      vars: instance.description.vars ?? {},
      backend: instance.description.backend_type ? backendDocument(instance, workspace) : null,
      workspace,
      env: instance.description.env ?? {},
    }),
  );
  for (const file of componentFiles(instance.componentDir)) {
    h.update(`\n${file}\n`);
    h.update(readFileSync(join(instance.componentDir, file)));
  }
  return h.digest('hex');
}

export interface PlanAffectedOptions extends AffectedOptions {
  /** Where plans, their JSON and digests are kept (default <repo>/.strata/plans). */
  plansDir?: string;
  /** Only these of the affected instances (`component@stack`): one CI matrix job's share. */
  instances?: string[];
  /** Only every `total`-th affected instance, starting at the `index`-th (1-based): one of `total` CI jobs. */
  shard?: { index: number; total: number };
  maxConcurrency?: number;
  /** Write the markdown summary here (and `<name>-full.md` when it had to be cut). */
  summaryFile?: string;
  /** Write the HTML report (summary, plan timeline, dependency graph) here. */
  htmlFile?: string;
  /** Where Terraform's grouped output goes (default: nowhere; the CLI sends it to stderr, so --format json stays clean). */
  write?: (text: string) => void;
}

export interface PlannedInstance extends PlanCounts {
  component: string;
  stack: string;
  result: string;
  planFile?: string;
  digest?: string;
  error?: string;
}

export interface PlanAffectedResult {
  base: string;
  head: string;
  instances: PlannedInstance[];
  skipped: Array<{ component: string; stack: string; reason: string }>;
  summary: Summary;
  exitCode: number;
}

/** The affected items a plan run takes: all, the named instances, or one shard (in a stable order). */
function selectItems(items: AffectedItem[], options: Pick<PlanAffectedOptions, 'instances' | 'shard'>): AffectedItem[] {
  const id = (item: AffectedItem) => `${item.component}@${item.stack}`;
  let selected = options.instances ? items.filter((item) => options.instances?.includes(id(item))) : items;
  const { shard } = options;
  if (shard) {
    selected = [...selected]
      .sort((a, b) => id(a).localeCompare(id(b)))
      .filter((_, i) => i % shard.total === shard.index - 1);
  }
  return selected;
}

async function setup(options: PlanAffectedOptions, plansDir: string | undefined) {
  const cwd = resolve(options.cwd ?? process.cwd());
  const report = await describeAffectedReport(options);
  report.items = selectItems(report.items, options);
  const engine = await loadEngine({
    cwd,
    configPath: options.configPath,
    basePath: options.basePath,
    env: options.env,
    resolvers: options.resolvers,
  });
  const skipped: PlanAffectedResult['skipped'] = [];
  const instances: ComponentInstance[] = [];
  for (const item of report.items) {
    const why = skipReason(item);
    if (why) skipped.push({ component: item.component, stack: item.stack, reason: why });
    else instances.push(await engine.describeComponent(item.component, item.stack, { kind: 'terraform' }));
  }
  const dir = resolve(cwd, plansDir ?? join(await repoRoot(cwd), '.strata', 'plans'));
  // Dependency order, so results, the summary and the apply log read in the order things happen.
  const rank = new Map(topologicalLevels(dependencyGraph(instances)).flatMap((level, i) => level.map((id) => [id, i])));
  instances.sort((a, b) => (rank.get(instanceId(a)) ?? 0) - (rank.get(instanceId(b)) ?? 0));
  return { report, engine, instances, skipped, dir };
}

function skipReason(item: AffectedItem): string | undefined {
  if (item.deleted) return `deleted from the ${item.deletion_type}: destroy it before removing it from the stacks`;
  if (item.component_type !== 'terraform') return `${item.component_type} component: not planned by terraform`;
  return undefined;
}

/** `strata plan --affected`. */
export async function planAffected(options: PlanAffectedOptions = {}): Promise<PlanAffectedResult> {
  const { report, engine, instances, skipped, dir } = await setup(options, options.plansDir);
  mkdirSync(dir, { recursive: true });
  const write = options.write ?? (() => undefined);
  const many =
    instances.length > 0
      ? await runTerraformMany(engine.config, instances, {
          verb: 'plan',
          maxConcurrency: options.maxConcurrency,
          onError: 'continue',
          write,
        })
      : { results: [], exitCode: 0 };
  const byId = new Map(instances.map((i) => [instanceId(i), i]));
  const logUrl = ciLogUrl(options.env ?? process.env);
  const entries: PlanEntry[] = [];
  const planned: PlannedInstance[] = [];
  for (const r of many.results) {
    const instance = byId.get(`${r.component}@${r.stack}`) as ComponentInstance;
    const row: PlannedInstance = {
      component: r.component,
      stack: r.stack,
      result: r.result,
      add: r.add ?? 0,
      change: r.change ?? 0,
      destroy: r.destroy ?? 0,
    };
    if (r.result === 'succeeded') {
      const source = join(instance.componentDir, terraformPlanfileName(instance));
      const plan = await showPlan(engine.config, instance, source);
      const prefix = contextPrefix(instance);
      const planFile = join(dir, `${prefix}.planfile`);
      copyFileSync(source, planFile);
      const digest = planInputsDigest(engine.config, instance);
      rmSync(join(dir, `${prefix}.failed.json`), { force: true });
      writeFileSync(join(dir, `${prefix}.plan.json`), JSON.stringify(plan));
      writeFileSync(
        join(dir, `${prefix}.digest.json`),
        `${JSON.stringify({ component: r.component, stack: r.stack, digest, base: report.base, head: report.head }, null, 2)}\n`,
      );
      Object.assign(row, countChanges(plan), { planFile: relative(process.cwd(), planFile), digest });
      entries.push({ component: r.component, stack: r.stack, plan });
    } else {
      row.error = r.error ?? r.result;
      entries.push({ component: r.component, stack: r.stack, error: row.error, details: r.details, logUrl });
      // Kept with the plans, so a summary gathered from several CI jobs shows the failure too.
      for (const stale of ['planfile', 'plan.json', 'digest.json']) {
        rmSync(join(dir, `${contextPrefix(instance)}.${stale}`), { force: true });
      }
      writeFileSync(
        join(dir, `${contextPrefix(instance)}.failed.json`),
        `${JSON.stringify({ component: r.component, stack: r.stack, error: row.error, details: r.details, logUrl, base: report.base, head: report.head }, null, 2)}\n`,
      );
    }
    planned.push(row);
  }
  const summaryFile = options.summaryFile ? resolve(options.summaryFile) : undefined;
  const artifact = summaryFile ? summaryFile.replace(/(\.md)?$/, '-full.md') : undefined;
  const range = commitRange(report.base, report.head);
  const summary = renderSummary(entries, {
    range,
    artifactName: artifact ? relative(process.cwd(), artifact) : undefined,
  });
  if (summaryFile) {
    writeFileSync(summaryFile, summary.markdown);
    if (summary.truncated && artifact) writeFileSync(artifact, summary.full);
  }
  if (options.htmlFile) {
    const edges = dependencyGraph(instances).flatMap((n) => n.needs.map((need) => ({ from: need, to: n.id })));
    const input = { range, entries, runs: many.results, edges, skipped };
    writeFileAtomicSync(resolve(options.htmlFile), planReportHtml(input));
  }
  return { base: report.base, head: report.head, instances: planned, skipped, summary, exitCode: many.exitCode };
}

export interface ApplyAffectedOptions extends AffectedOptions {
  plansDir?: string;
  /** Refuse instances without a saved plan (default: plan and apply them in one go, as `deploy` does). */
  requirePlan?: boolean;
  maxConcurrency?: number;
  dryRun?: boolean;
  /** Where each apply's output goes (default: nowhere; the CLI sends it to stderr). */
  write?: (text: string) => void;
}

export interface AppliedInstance {
  component: string;
  stack: string;
  /** `locked`: another run holds the instance's lock (error names it); nothing was applied. */
  result: 'applied' | 'failed' | 'interrupted' | 'locked' | 'refused' | 'skipped' | 'would apply';
  fromPlan: boolean;
  error?: string;
}

/** A locked apply's record: its status from terraform's exit code, not from strata having run it. */
function applyOutcome(result: { exitCode: number; interrupted: boolean }) {
  const status = result.interrupted ? 'interrupted' : result.exitCode === 0 ? 'succeeded' : 'failed';
  return { status, details: { exitCode: result.exitCode } } as const;
}

/** `strata apply --affected --ref <before-merge>`. */
export async function applyAffected(options: ApplyAffectedOptions = {}): Promise<{
  base: string;
  head: string;
  instances: AppliedInstance[];
  skipped: PlanAffectedResult['skipped'];
  exitCode: number;
}> {
  const { report, engine, instances, skipped, dir } = await setup(options, options.plansDir);
  const write = options.write ?? (() => undefined);
  const runnable = instances.filter((i) => {
    if (!i.locked) return true;
    skipped.push({ component: i.name, stack: i.stack, reason: 'metadata.locked: true' });
    return false;
  });
  const results = new Map<string, AppliedInstance>();
  const store = options.dryRun ? undefined : await openStore({ dir: await repoRoot(engine.config.basePath) });
  try {
    const execute = async (instance: ComponentInstance) => {
      const id = instanceId(instance);
      const prefix = contextPrefix(instance);
      const digestFile = join(dir, `${prefix}.digest.json`);
      const planFile = join(dir, `${prefix}.planfile`);
      const fromPlan = existsSync(digestFile) && existsSync(planFile);
      // Nothing counts as applied until terraform says so.
      const row: AppliedInstance = { component: instance.name, stack: instance.stack, result: 'failed', fromPlan };
      results.set(id, row);
      if (fromPlan) {
        const recorded = (JSON.parse(readFileSync(digestFile, 'utf8')) as { digest: string }).digest;
        if (recorded !== planInputsDigest(engine.config, instance)) {
          row.result = 'refused';
          row.error = `the inputs of ${id} changed since its plan was made (var values, backend or component files)`;
          throw new StrataError(row.error, { hint: 'plan again: strata plan --affected' });
        }
      } else if (options.requirePlan) {
        row.result = 'refused';
        row.error = `no saved plan for ${id} in ${dir}`;
        throw new StrataError(row.error, { hint: 'run strata plan --affected first, or drop --require-plan' });
      }
      if (options.dryRun) {
        row.result = 'would apply';
        return;
      }
      const lines: string[] = [];
      const apply = () =>
        runTerraform(engine.config, instance, {
          verb: 'deploy',
          fromPlan,
          planFile: fromPlan ? planFile : undefined,
          interactive: false,
          color: false,
          onLine: (line) => lines.push(line),
        });
      const lock = { operation: 'apply', outcome: applyOutcome };
      const result = await withRunLock(store as NonNullable<typeof store>, id, lock, apply).catch((error) => {
        // The lock is someone else's (or the store failed): say so, and nothing was applied.
        row.result = error instanceof LockedError ? 'locked' : 'failed';
        row.error = (error as Error).message;
        throw error;
      });
      write(`\n==> ${id}: terraform apply${fromPlan ? ' (saved plan)' : ''}\n${lines.map((l) => `${l}\n`).join('')}`);
      if (result.interrupted) {
        row.result = 'interrupted';
        row.error = `terraform apply was interrupted (exit code ${result.exitCode})`;
        throw new StrataError(`${id}: ${row.error}`);
      }
      if (result.exitCode !== 0) {
        row.error = `terraform apply failed (exit code ${result.exitCode})`;
        throw new StrataError(`${id}: ${row.error}`);
      }
      row.result = 'applied';
    };
    const nodes = dependencyGraph(runnable);
    await runGraph(nodes, (node) => execute(node.data), { maxConcurrency: options.maxConcurrency ?? 1 });
  } finally {
    await store?.close();
  }
  const ordered = runnable.map(
    (i) =>
      results.get(instanceId(i)) ?? {
        component: i.name,
        stack: i.stack,
        result: 'skipped' as const,
        fromPlan: false,
        error: 'not started: an instance it depends on (or an earlier one) failed',
      },
  );
  const exitCode = ordered.some((r) => r.result !== 'applied' && r.result !== 'would apply') ? 1 : 0;
  return { base: report.base, head: report.head, instances: ordered, skipped, exitCode };
}
