/** `workflow <name> --dry-run --format mermaid|dot`: the steps to run, an arrow from each step to those that need it. */
import { topologicalLevels } from '../graph/index.ts';
import type { Diagram } from '../graph/render.ts';
import type { DryRunPlan } from '../util/plan.ts';

/** The command shown under a step's name, cut to keep the boxes readable. */
const COMMAND_CHARS = 60;

/**
 * The dry run's steps as a diagram. When steps may run side by side (some step lists `needs`), the steps that can run
 * together are grouped ("runs together: level n").
 */
export function planDiagram(plan: DryRunPlan): Diagram {
  const steps = plan.actions.filter((a) => a.subject !== undefined);
  const names = new Set(steps.map((a) => a.subject as string));
  const nodes = steps.map((a) => {
    const name = a.subject as string;
    const command = a.summary.startsWith(`${name}: `) ? a.summary.slice(name.length + 2) : a.summary;
    const short = command.length > COMMAND_CHARS ? `${command.slice(0, COMMAND_CHARS - 1)}…` : command;
    return { id: name, needs: (a.needs ?? []).filter((n) => names.has(n)), data: short };
  });
  const levels = topologicalLevels(nodes);
  const parallel = levels.some((level) => level.length > 1);
  const levelOf = new Map(levels.flatMap((level, i) => level.map((id) => [id, `level ${i}`])));
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      label: `${n.id}\n${n.data}`,
      group: parallel ? levelOf.get(n.id) : undefined,
    })),
    edges: nodes.flatMap((n) => n.needs.map((need) => ({ from: need, to: n.id }))),
    groups: parallel ? levels.map((_, i) => ({ id: `level ${i}`, label: `runs together: level ${i}` })) : undefined,
  };
}
