/**
 * `strata terraform <verb> --all | --components a,b`: many component instances in dependency order
 * (`settings.depends_on` / `dependencies.components`), independent ones in parallel. Output is live by default:
 * each line as it comes, prefixed with `stack/component`; `output: 'grouped'` keeps each component's block whole.
 */
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { StrataError } from '../../errors.ts';
import { type GraphNode, runGraph } from '../../graph/index.ts';
import { dependenciesOf } from '../../stacks/index.ts';
import { renderPlanText } from '../../util/plan.ts';
import { ansi, type Color } from '../../util/terminal.ts';
import { section, withFolderLock } from '../common.ts';
import { countChanges, type PlanCounts, showPlan } from './extra.ts';
import { runTerraform } from './runner.ts';

export type ComponentOutcome = 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'disabled';

export interface ComponentRunSummary {
  component: string;
  stack: string;
  result: ComponentOutcome;
  exitCode?: number;
  add?: number;
  change?: number;
  destroy?: number;
  /** When it started, in ms after the run started (shows what ran in parallel). */
  startedMs?: number;
  durationMs: number;
  error?: string;
  /** Terraform's own words when it failed: its error block, masked and trimmed (errorExcerpt). */
  details?: string;
}

export interface ManyOptions {
  verb: string;
  args?: string[];
  maxConcurrency?: number;
  skipInit?: boolean;
  dryRun?: boolean;
  /** stop (default): start nothing new after a failure; continue: skip only what depends on it. */
  onError?: 'stop' | 'continue';
  /** Colour in Terraform's output and in the line prefixes (the CLI decides: a terminal, NO_COLOR unset). */
  color?: boolean;
  /** stream (default): every line as it comes, prefixed; grouped: each component's block when it finishes. */
  output?: 'stream' | 'grouped';
  /** Where the output goes (default: nowhere; the CLI passes stdout or stderr). */
  write?: (text: string) => void;
}

export interface ManyResult {
  results: ComponentRunSummary[];
  exitCode: number;
  durationMs: number;
  maxConcurrency: number;
}

const RECENT_LINES = 400;

/**
 * What a reviewer needs from a failed run's output: from Terraform's first `Error:` to the end (its boxes drawn
 * with │ ╷ ╵ taken off), or the last lines when there is no such block; at most `maxLines` lines and `maxChars`.
 */
export function errorExcerpt(lines: string[], maxLines = 40, maxChars = 4000): string | undefined {
  const plain = lines.map((line) => line.replace(/^\s*[│╷╵]\s?/, '').trimEnd());
  const first = plain.findIndex((line) => /^Error: /.test(line));
  let excerpt = (first >= 0 ? plain.slice(first) : plain.slice(-15)).filter(
    (line, i, all) => line !== '' || (i > 0 && all[i - 1] !== ''),
  );
  if (excerpt.length > maxLines) excerpt = [...excerpt.slice(0, maxLines), `… ${excerpt.length - maxLines} more lines`];
  const text = excerpt.join('\n').trim();
  if (text === '') return undefined;
  return text.length > maxChars ? `${text.slice(0, maxChars)}\n…` : text;
}

export function instanceId(instance: Pick<ComponentInstance, 'name' | 'stack'>): string {
  return `${instance.name}@${instance.stack}`;
}

const CONTEXT_KEYS = ['namespace', 'tenant', 'environment', 'stage'] as const;

/**
 * Which selected instances each instance needs, from `settings.depends_on` / `dependencies.components` (read by
 * the stack engine's dependenciesOf). An entry names a component in the same stack, or in `stack:`, or (Atmos's
 * older form) in the stack whose vars match the given namespace/tenant/environment/stage.
 * Dependencies outside the selection are not run, so they add no edge.
 */
export function dependencyGraph(instances: ComponentInstance[]): GraphNode<ComponentInstance>[] {
  const byId = new Map(instances.map((i) => [instanceId(i), i]));
  return instances.map((instance) => {
    const needs = new Set<string>();
    for (const entry of dependenciesOf(instance)) {
      const component = entry.component;
      let stacks: string[];
      if (typeof entry.stack === 'string' && entry.stack !== '') stacks = [entry.stack];
      else if (CONTEXT_KEYS.some((k) => entry[k] !== undefined)) {
        const own = section(instance.description.vars);
        stacks = instances
          .filter(
            (other) =>
              other.name === component &&
              CONTEXT_KEYS.every((k) => (entry[k] ?? own[k]) === section(other.description.vars)[k]),
          )
          .map((other) => other.stack);
      } else stacks = [instance.stack];
      for (const stack of stacks) {
        const id = `${component}@${stack}`;
        if (byId.has(id) && id !== instanceId(instance)) needs.add(id);
      }
    }
    return { id: instanceId(instance), needs: [...needs], data: instance };
  });
}

/** Dependents go first when tearing down. */
function reversed(nodes: GraphNode<ComponentInstance>[]): GraphNode<ComponentInstance>[] {
  const needs = new Map(nodes.map((n) => [n.id, [] as string[]]));
  for (const node of nodes) for (const need of node.needs) needs.get(need)?.push(node.id);
  return nodes.map((n) => ({ ...n, needs: needs.get(n.id) ?? [] }));
}

/** Counts from Terraform's closing line (`Apply complete! Resources: 1 added, 0 changed, 0 destroyed.`). */
export function countsFromOutput(text: string): PlanCounts | undefined {
  const apply = /Resources: (\d+) added, (\d+) changed, (\d+) destroyed/.exec(text);
  if (apply) return { add: Number(apply[1]), change: Number(apply[2]), destroy: Number(apply[3]) };
  const destroy = /Destroy complete! Resources: (\d+) destroyed/.exec(text);
  if (destroy) return { add: 0, change: 0, destroy: Number(destroy[1]) };
  return undefined;
}

const PREFIX_COLORS: Color[] = ['cyan', 'magenta', 'yellow', 'blue', 'green'];

/** `stack/component | `, padded to the longest label so the lines align; a colour per component when asked. */
function linePrefixes(nodes: GraphNode<ComponentInstance>[], color: boolean): Map<string, string> {
  const labels = nodes.map((n) => `${n.data.stack}/${n.data.name}`);
  const width = Math.max(...labels.map((l) => l.length));
  return new Map(
    nodes.map((n, i) => {
      const label = labels[i].padEnd(width);
      return [n.id, `${color ? ansi(label, PREFIX_COLORS[i % PREFIX_COLORS.length]) : label} | `];
    }),
  );
}

export async function runTerraformMany(
  config: StrataConfig,
  instances: ComponentInstance[],
  options: ManyOptions,
): Promise<ManyResult> {
  const started = Date.now();
  const write = options.write ?? (() => undefined);
  const maxConcurrency = options.maxConcurrency ?? 4;
  const verb = options.verb;
  let nodes = dependencyGraph(instances);
  if (verb === 'destroy') nodes = reversed(nodes);
  const summaries = new Map<string, ComponentRunSummary>();
  const live = options.output !== 'grouped';
  // The grouped form (kept for those who want it) streams when one runs at a time.
  const grouped = !live && maxConcurrency > 1;
  const prefixes = linePrefixes(nodes, options.color === true);

  const runOne = async (node: GraphNode<ComponentInstance>): Promise<void> => {
    const instance = node.data;
    const began = Date.now();
    const prefix = prefixes.get(node.id) ?? '';
    const header = live
      ? `${prefix}==> terraform ${verb}\n`
      : `\n==> ${instance.name} (stack ${instance.stack}): terraform ${verb}\n`;
    const lines: string[] = [];
    // The last lines, for the error excerpt of a failure (the lines arrive masked).
    const recent: string[] = [];
    const show = grouped
      ? (line: string) => lines.push(line)
      : (line: string) => write(`${live ? prefix : ''}${line}\n`);
    const emit = (line: string) => {
      if (recent.push(line) > RECENT_LINES) recent.shift();
      show(line);
    };
    if (!grouped) write(header);
    const summary: ComponentRunSummary = {
      component: instance.name,
      stack: instance.stack,
      result: 'succeeded',
      startedMs: began - started,
      durationMs: 0,
    };
    summaries.set(node.id, summary);
    try {
      const result = await runTerraform(config, instance, {
        verb,
        args: options.args,
        skipInit: options.skipInit,
        dryRun: options.dryRun,
        color: options.color === true,
        interactive: false,
        onLine: emit,
      });
      summary.exitCode = result.exitCode;
      if (result.skipped) {
        summary.result = 'disabled';
        emit(result.skipped);
      } else if (result.dryRun !== undefined) {
        for (const line of renderPlanText(result.dryRun).replace(/\n$/, '').split('\n')) emit(line);
      } else if (result.exitCode !== 0 && !(verb === 'plan' && result.exitCode === 2 && !result.interrupted)) {
        // `plan -detailed-exitcode` exits 2 for "changes present": that is a successful plan.
        summary.result = 'failed';
        // The hint (who holds the state lock, a broken backend) goes with the failure into summaries and PR comments.
        const why = result.hint ? `: ${result.hint.replace(/^strata: /, '')}` : '';
        throw new StrataError(
          `terraform ${verb} failed for ${instanceId(instance)} (exit code ${result.exitCode})${why}`,
        );
      } else {
        const output = result.main?.stdout ?? '';
        let counts = countsFromOutput(output);
        if (verb === 'plan' && result.planned.savesPlan) {
          counts = countChanges(await showPlan(config, instance, result.planned.planfile));
        }
        if (counts) Object.assign(summary, counts);
      }
    } catch (error) {
      summary.result = 'failed';
      summary.error = error instanceof Error ? error.message : String(error);
      summary.details = errorExcerpt(recent);
      if (!(error instanceof StrataError && /^terraform .* failed for/.test(error.message)))
        emit(`Error: ${summary.error}`);
      throw error;
    } finally {
      summary.durationMs = Date.now() - began;
      if (grouped) write(`${header}${lines.map((l) => `${l}\n`).join('')}`);
      if (live) write(`${prefix}<== ${summary.result} in ${(summary.durationMs / 1000).toFixed(1)}s\n`);
    }
  };
  // Instances of one component folder share `.terraform/` and backend.tf.json: they run one at a time.
  const execute = (node: GraphNode<ComponentInstance>) => withFolderLock(node.data.componentDir, () => runOne(node));

  const graph = await runGraph(nodes, execute, { maxConcurrency, onError: options.onError ?? 'stop' });
  const results = nodes.map((node) => {
    const summary = summaries.get(node.id);
    if (summary) return summary;
    const outcome = graph.outcomes.get(node.id)?.outcome;
    return {
      component: node.data.name,
      stack: node.data.stack,
      result: (outcome === 'skipped' ? 'skipped' : 'cancelled') as ComponentOutcome,
      durationMs: 0,
    };
  });
  const failed = results.find((r) => r.result === 'failed');
  const incomplete = results.some((r) => r.result === 'skipped' || r.result === 'cancelled');
  return {
    results,
    exitCode: failed ? failed.exitCode || 1 : incomplete ? 1 : 0,
    durationMs: Date.now() - started,
    maxConcurrency,
  };
}
