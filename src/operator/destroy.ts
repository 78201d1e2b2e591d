/**
 * Destroy: children before their host, siblings in parallel. VMs are found on each host by name and strata's marker,
 * so destroy works from the Proxmox API alone when the execution state is gone; a node whose host's API is out of
 * reach goes away with its host.
 */
import { type GraphNode, runGraph } from '../graph/index.ts';
import type { PveVmSummary } from '../proxmox/client.ts';
import { vmMarker, vmName } from './context.ts';
import { reopenDelegations } from './delegation.ts';
import { namedVms } from './provisioners/placement.ts';
import { destroyVm, ownedBy, type Target } from './provisioners/proxmox-api.ts';
import { hasTofuState, runTofu, tofuCommands, tofuDir, writeModule } from './provisioners/tofu.ts';
import { message, now, type OperatorRun } from './run.ts';
import type { PhaseOutcome } from './types.ts';

/** VMs of this manifest on a host, by name and marker: the API as the source of truth when the state is gone. */
async function discover(run: OperatorRun, target: Target): Promise<Map<string, PveVmSummary[]>> {
  const names = new Map<string, string>();
  for (const node of run.manifest.nodes) names.set(vmName(run.manifest.name, node.name), node.name);
  const found = new Map<string, PveVmSummary[]>();
  for (const vm of await namedVms(target.client)) {
    const node = names.get(vm.name);
    if (vm.template || node === undefined) continue;
    if (!(await ownedBy(target, vm, vmMarker(run.manifest.name, run.stack, node)))) continue;
    const list = found.get(node) ?? [];
    list.push(vm);
    found.set(node, list);
  }
  return found;
}

function discoverOnce(run: OperatorRun, target: Target): Promise<Map<string, PveVmSummary[]>> {
  let found = run.discovered.get(target.url);
  if (!found) {
    found = discover(run, target);
    run.discovered.set(target.url, found);
    // A failed listing is not cached: the next node asks again.
    found.catch(() => run.discovered.delete(target.url));
  }
  return found;
}

/** A tofu node with applied state is destroyed by tofu first; whatever VM is left is deleted through the API. */
async function destroyWithTofu(run: OperatorRun, name: string, target: Target): Promise<void> {
  const dir = tofuDir(run.o.workDir, run.manifest.name, run.stack, name);
  if (!(await hasTofuState(dir))) return;
  await writeModule(dir, run.tofuInput(run.node(name), target));
  await runTofu(tofuCommands(dir, 'destroy', { TF_VAR_api_token: run.apiToken(target) }, run.o.tofuBinary), {
    prefix: `[${name}] `,
    signal: run.o.signal,
    timeoutMs: run.waits.taskMs,
  });
}

export async function destroyNode(run: OperatorRun, name: string, options: { rollback?: boolean } = {}): Promise<void> {
  const node = run.node(name);
  const target = run.targetOf(name);
  if (!target) {
    // No API handle for the nested host (state lost): the VM lives inside its host and goes away with it.
    await run.transition(name, { status: 'destroyed', phase: 'with_host', error: undefined, completed_at: now() });
    run.log(`${name}: removed together with its host '${node.parent}'`);
    return;
  }
  await run.transition(name, { phase: 'destroy', error: undefined });
  // What is still on the host if this fails: the VMs found for the node, or the one the state knows.
  const state = run.store.node(name);
  let remaining: number[] = state.vm_id === undefined ? [] : [state.vm_id];
  try {
    if (run.provisionerOf(node) === 'tofu') await destroyWithTofu(run, name, target);
    const vms = (await discoverOnce(run, target)).get(name) ?? [];
    const ids = new Map<number, string>(vms.map((v) => [v.vmid, v.node]));
    remaining = [...ids.keys()];
    for (const [vmid, pveNode] of ids) {
      await destroyVm(target, pveNode, vmid, run.waits);
      remaining = remaining.filter((id) => id !== vmid);
    }
    run.leftover.delete(name);
    if (node.type === 'pve') {
      run.inner.delete(name);
      delete run.store.state.delegations[name];
    }
    await run.transition(name, {
      status: 'destroyed',
      phase: options.rollback ? 'rolled_back' : 'destroyed',
      vm_id: undefined,
      ip: undefined,
      completed_at: now(),
    });
  } catch (error) {
    await run.transition(name, { status: 'failed', error: message(error), completed_at: now() });
    run.leftover.set(name, { node: name, vm_ids: remaining, host: target.url, error: message(error) });
    throw error;
  }
}

/** `Destroy failed for a: …; b: …` (the run's error when VMs are left). */
export function destroyFailures(failures: string[]): string {
  return `Destroy failed for ${failures.join('; ')}`;
}

/** Destroys every node; a host is destroyed even when one of its children could not be (it goes away with it). */
export async function runDestroy(run: OperatorRun): Promise<PhaseOutcome> {
  run.discovered.clear();
  await reopenDelegations(run);
  // Reverse graph: a node waits for its children; siblings are destroyed in parallel.
  const nodes: GraphNode<undefined>[] = run.plan.destroy_order.map((name) => ({
    id: name,
    needs: run.children.get(name) ?? [],
    data: undefined,
  }));
  const failures: string[] = [];
  await runGraph(
    nodes,
    async (node) => {
      try {
        await destroyNode(run, node.id);
      } catch (error) {
        failures.push(`${node.id}: ${message(error)}`);
      }
    },
    { maxConcurrency: run.maxConcurrency, signal: run.o.signal },
  );
  run.store.state.completed_at = now();
  await run.store.save();
  if (failures.length > 0) return { ok: false, error: destroyFailures(failures) };
  if (run.o.signal?.aborted) return { ok: false, error: 'Interrupted' };
  return { ok: true };
}
