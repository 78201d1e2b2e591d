/**
 * Create: nodes parents first, siblings in parallel (the shared graph scheduler), each through its provisioner. A
 * node completed by an earlier run whose VM still runs is kept; on failure, on_error decides: stop, continue with
 * the independent nodes, or roll back what this run created.
 */
import { StrataError } from '../errors.ts';
import { type GraphNode, runGraph } from '../graph/index.ts';
import { PveApiError } from '../proxmox/client.ts';
import { vmName } from './context.ts';
import { delegate } from './delegation.ts';
import { destroyFailures, destroyNode } from './destroy.ts';
import { createVm, type ResumePoint, type Target } from './provisioners/proxmox-api.ts';
import { runTofu, tofuCommands, tofuDir, writeModule } from './provisioners/tofu.ts';
import { message, now, type OperatorRun } from './run.ts';
import type { NodeState } from './state.ts';
import type { PhaseOutcome } from './types.ts';

/** The recorded VM runs under this node's name. Name and status come from the VM itself: /cluster/resources lags. */
async function vmAlive(run: OperatorRun, target: Target, state: NodeState): Promise<boolean> {
  if (state.vm_id === undefined) return false;
  const vm = (await target.client.listVms()).find((v) => v.vmid === state.vm_id);
  if (!vm) return false;
  const current = await target.client.vmStatus(vm.node, vm.vmid).catch((error: unknown) => {
    // Gone between the two calls: not alive.
    if (error instanceof PveApiError && /does not exist/.test(error.pveMessage)) return undefined;
    throw error;
  });
  return current?.name === vmName(run.manifest.name, state.name) && current?.status === 'running';
}

interface Provisioned {
  vmid?: number;
  ip?: string;
  pveNode: string;
}

async function provisionWithTofu(run: OperatorRun, name: string, target: Target): Promise<Provisioned> {
  const dir = tofuDir(run.o.workDir, run.manifest.name, run.stack, name);
  await writeModule(dir, run.tofuInput(run.node(name), target));
  await run.transition(name, { phase: 'apply' });
  const result = await runTofu(
    tofuCommands(dir, 'apply', { TF_VAR_api_token: run.apiToken(target) }, run.o.tofuBinary),
    { prefix: `[${name}] `, signal: run.o.signal, timeoutMs: run.waits.taskMs * 2 },
  );
  return { vmid: result.vmid, ip: result.ip, pveNode: result.pveNode ?? target.node };
}

async function provisionWithApi(
  run: OperatorRun,
  name: string,
  target: Target,
  resume: ResumePoint,
): Promise<Provisioned> {
  const created = await createVm(
    target,
    run.node(name),
    run.identity(name),
    run.allocator(target.url),
    run.waits,
    (phase, change) => run.transition(name, { phase, ...change }),
    resume,
  );
  if (created.adopted) run.log(`${name}: adopted VM ${created.vmid} left by an interrupted run`);
  const files = run.o.guestFiles?.(run.node(name)) ?? [];
  if (files.length > 0) await run.transition(name, { phase: 'handover' });
  for (const file of files) await target.client.agentFileWrite(created.pveNode, created.vmid, file.path, file.content);
  return { vmid: created.vmid, ip: created.ip, pveNode: created.pveNode };
}

/** Creates one node (and, for a nested PVE host with children, delegates to it); records every step. */
export async function createNode(run: OperatorRun, name: string): Promise<void> {
  const node = run.node(name);
  const target = run.targetOf(name);
  if (!target) throw new StrataError(`Node '${name}': its parent's API is not available`);
  const state = run.store.node(name);
  const delegates = node.type === 'pve' && (run.children.get(name) ?? []).length > 0;
  const provisioner = run.provisionerOf(node);
  if (state.status === 'completed' && provisioner === 'proxmox-api' && (await vmAlive(run, target, state))) {
    // Completed by an earlier run: keep it; a nested host only needs its API handle again.
    run.emit({ node: name, status: 'completed', phase: 'kept', vm_id: state.vm_id, ip: state.ip });
    if (delegates && state.ip && state.vm_id !== undefined) await delegate(run, name, state.ip, state.vm_id, target);
    return;
  }
  // Where an interrupted run left this node (a clone may still be in flight under the recorded vm_id).
  const resume: ResumePoint = { task: state.task, vmid: state.vm_id };
  await run.transition(name, {
    status: 'running',
    started_at: now(),
    completed_at: undefined,
    error: undefined,
    endpoint: target.url,
    phase: 'lookup',
  });
  try {
    const { vmid, ip, pveNode } =
      provisioner === 'tofu'
        ? await provisionWithTofu(run, name, target)
        : await provisionWithApi(run, name, target, resume);
    await run.transition(name, { vm_id: vmid, ip, pve_node: pveNode });
    if (delegates) {
      if (!ip || vmid === undefined) throw new StrataError(`Nested PVE '${name}' has no IP to reach its API`);
      await run.transition(name, { phase: 'delegate' });
      await delegate(run, name, ip, vmid, target);
    }
    await run.transition(name, { status: 'completed', phase: 'done', task: undefined, completed_at: now() });
    run.created.push(name);
  } catch (error) {
    await run.transition(name, { status: 'failed', error: message(error), completed_at: now() });
    throw error;
  }
}

/** Creates every node; never throws for a failed node (the result says what happened). */
export async function runCreate(run: OperatorRun): Promise<PhaseOutcome> {
  const onError = run.o.onError ?? run.manifest.settings.onError;
  const nodes: GraphNode<undefined>[] = run.plan.create_order.map((name) => {
    const parent = run.resolved.get(name)?.parent;
    return { id: name, needs: parent === undefined ? [] : [parent], data: undefined };
  });
  // Nodes that were running when an earlier run died start again from "lookup": mark them pending first.
  for (const name of run.plan.create_order) {
    const state = run.store.node(name);
    if (state.status !== 'completed') state.status = 'pending';
  }
  await run.store.save();
  const result = await runGraph(nodes, (node) => createNode(run, node.id), {
    maxConcurrency: run.maxConcurrency,
    onError: onError === 'continue' ? 'continue' : 'stop',
    signal: run.o.signal,
  });
  for (const [name, outcome] of result.outcomes) {
    if (outcome.outcome === 'skipped') {
      const parent = run.resolved.get(name)?.parent;
      await run.transition(name, { status: 'skipped', error: `not created: '${parent}' (or an ancestor) failed` });
    }
  }
  run.store.state.completed_at = now();
  await run.store.save();
  if (result.failed.length === 0 && !run.o.signal?.aborted) {
    const completed = run.plan.create_order.filter((name) => run.store.node(name).status === 'completed');
    return { ok: true, message: `${completed.length} node(s) created` };
  }
  const first = result.failed[0];
  const error = first
    ? `Failed node(s): ${result.failed.join(', ')} (${first}: ${message(result.outcomes.get(first)?.error)})`
    : 'Interrupted';
  const left = onError === 'rollback' ? await rollback(run) : [];
  return { ok: false, error: left.length > 0 ? `${error}; rollback: ${destroyFailures(left)}` : error };
}

/**
 * Destroys what this run created plus the failed nodes' half-created VMs, children before parents. A destroy that
 * fails does not stop the others; the failures are returned (the VMs left are in run.leftover).
 */
async function rollback(run: OperatorRun): Promise<string[]> {
  run.discovered.clear();
  const undo = new Set(run.created);
  for (const name of run.plan.create_order) {
    const state = run.store.node(name);
    if (state.status === 'failed' && state.vm_id !== undefined) undo.add(name);
  }
  const failures: string[] = [];
  for (const name of run.plan.destroy_order) {
    if (!undo.has(name)) continue;
    try {
      await destroyNode(run, name, { rollback: true });
    } catch (error) {
      failures.push(`${name}: ${message(error)}`);
    }
  }
  return failures;
}
