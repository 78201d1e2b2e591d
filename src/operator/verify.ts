/**
 * Verify (`test`): every created node must have an IP and a guest agent that answers; with verify_ssh its port must
 * answer the connection's port probe. An endpoint whose guests cannot be reached from here (the simulator's have no
 * network stack) says so, and the agent answer is the whole check.
 */
import { sleep } from '../util/fs.ts';
import { message, type OperatorRun } from './run.ts';
import type { PhaseOutcome } from './types.ts';

/** Why `name` does not pass yet, or undefined when it does. */
async function problemOf(run: OperatorRun, name: string, checkPort: boolean): Promise<string | undefined> {
  const state = run.store.node(name);
  const target = run.targetOf(name);
  try {
    if (!target || !(await target.client.agentPing(state.pve_node ?? target.node, state.vm_id as number))) {
      return `${name}: guest agent not answering`;
    }
  } catch (error) {
    return `${name}: ${message(error)}`;
  }
  const { verifyPort } = run.manifest.settings;
  const open = run.portProbe.open;
  if (checkPort && open && !(await open(state.ip as string, verifyPort, 3000))) {
    return `${name} (${state.ip}): port ${verifyPort} not reachable`;
  }
  return undefined;
}

export async function runVerify(run: OperatorRun): Promise<PhaseOutcome> {
  const settings = run.manifest.settings;
  const nodes = run.plan.create_order.map((n) => run.store.node(n)).filter((n) => n.status === 'completed');
  const missing = nodes.filter((n) => !n.ip).map((n) => n.name);
  if (missing.length > 0) return { ok: false, error: `No IP for node(s): ${missing.join(', ')}` };
  const deadline = Date.now() + settings.timeouts.verify * 1000;
  const probe = run.portProbe;
  const checkPort = settings.verifySsh && probe.open !== undefined;
  const pending = new Set(nodes.map((n) => n.name));
  const problems = new Map<string, string>();
  while (pending.size > 0) {
    await Promise.all(
      [...pending].map(async (name) => {
        const problem = await problemOf(run, name, checkPort);
        if (problem !== undefined) {
          problems.set(name, problem);
          return;
        }
        problems.delete(name);
        pending.delete(name);
      }),
    );
    if (pending.size === 0) break;
    if (Date.now() > deadline) return { ok: false, error: `Verify failed: ${[...problems.values()].join('; ')}` };
    await sleep(run.waits.pollMs, run.o.signal);
  }
  const what = checkPort
    ? `guest agent up and port ${settings.verifyPort} reachable`
    : settings.verifySsh && probe.unreachable
      ? `guest agent up (${probe.unreachable}, port check skipped)`
      : 'guest agent up';
  return { ok: true, message: `All ${nodes.length} node(s) verified: ${what}` };
}
