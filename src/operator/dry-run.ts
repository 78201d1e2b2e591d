/**
 * Dry run: what create, destroy or test would do, node by node in run order, as a DryRunPlan. For the tofu
 * provisioner the dry run also writes each node's module (so it can be read and checked) and lists its commands.
 */
import type { DryRunPlan, PlannedAction, PlannedCommand } from '../util/plan.ts';
import { proxmoxSettings, vmName } from './context.ts';
import { describeCommands, type TofuCommand, tofuCommands, tofuDir, writeModule } from './provisioners/tofu.ts';
import type { OperatorRun } from './run.ts';
import type { Verb } from './types.ts';

/** A tofu command as the plan shows it: the token as a reference to the variable that holds it. */
function plannedCommand(command: TofuCommand): PlannedCommand {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(command.env)) {
    env[key] = key === 'TF_VAR_api_token' ? '$PROXMOX_VE_API_TOKEN' : value;
  }
  return { program: command.command, args: command.args, cwd: command.cwd, env };
}

function nodeAction(run: OperatorRun, verb: Verb, name: string, level: number): PlannedAction {
  const node = run.node(name);
  const where = node.parent ? `on nested PVE '${node.parent}'` : 'on the stack host';
  const vm = vmName(run.manifest.name, name);
  const children = run.children.get(name) ?? [];
  if (verb === 'destroy') {
    return {
      kind: 'call',
      subject: name,
      depth: 1,
      needs: children.length > 0 ? children : undefined,
      summary: `[${level}] ${name}: destroy VM '${vm}' ${where}`,
    };
  }
  const size = [
    node.cores !== undefined ? `${node.cores} cores` : undefined,
    node.memory !== undefined ? `${node.memory} MiB` : undefined,
    node.disk !== undefined ? `${node.disk} GB disk` : undefined,
  ].filter(Boolean);
  const id = node.vmid !== undefined ? `vmid ${node.vmid}` : 'next free vmid';
  const image = node.image
    ? `clone '${node.imageRef.templateVmid ?? node.imageRef.template}' (image ${node.image})`
    : 'clone (no image: template from the provisioner)';
  return {
    kind: 'call',
    subject: name,
    depth: 1,
    needs: node.parent ? [node.parent] : undefined,
    summary: `[${level}] ${name}: ${node.type} ${where} via ${run.provisionerOf(node)}: ${image} -> VM '${vm}', ${id}${size.length ? `, ${size.join(', ')}` : ''}; start; wait for IP`,
    details: children.length > 0 ? [`delegates ${children.join(', ')}: API token on the nested host`] : undefined,
  };
}

/** The nodes in run order with their level, then (for test) the verify and destroy that follow. */
function graphActions(run: OperatorRun, verb: Verb): PlannedAction[] {
  const level = new Map<string, number>();
  run.plan.levels.forEach((names, i) => {
    for (const n of names) level.set(n, i);
  });
  const order = verb === 'destroy' ? run.plan.destroy_order : run.plan.create_order;
  const actions = order.map((name) => nodeAction(run, verb, name, level.get(name) as number));
  if (verb === 'test') {
    const { verifySsh, verifyPort } = run.manifest.settings;
    actions.push(
      {
        kind: 'wait',
        depth: 1,
        summary: `verify: ${verifySsh ? `TCP port ${verifyPort} on every node's IP` : 'IP of every node'}`,
      },
      { kind: 'call', depth: 1, summary: `destroy: ${run.plan.destroy_order.join(', ')}` },
    );
  }
  return actions;
}

/** Writes each tofu node's module and lists the commands that would run in it. */
async function tofuActions(run: OperatorRun, verb: Verb): Promise<PlannedAction[]> {
  const actions: PlannedAction[] = [];
  const proxmox = run.o.context ? proxmoxSettings(run.o.context) : {};
  const endpoint = run.connection?.endpoint;
  for (const name of run.plan.create_order) {
    const node = run.node(name);
    if (run.provisionerOf(node) !== 'tofu') continue;
    const dir = tofuDir(run.o.workDir, run.manifest.name, run.stack, name);
    const url = node.parent
      ? `<API of nested PVE '${node.parent}'>`
      : String(
          endpoint?.url ??
            run.env.STRATA_PVE_ENDPOINT ??
            run.env.PROXMOX_VE_ENDPOINT ??
            proxmox.endpoint ??
            '<endpoint>',
        );
    await writeModule(dir, {
      node,
      id: run.identity(name),
      endpoint: { url, insecure: endpoint?.insecure ?? proxmox.insecure === true },
      pveNode: node.parent ? `<node of '${node.parent}'>` : String(proxmox.node ?? '<node>'),
      target: {
        storage: typeof proxmox.storage === 'string' ? proxmox.storage : undefined,
        bridge: typeof proxmox.bridge === 'string' ? proxmox.bridge : 'vmbr0',
        ciuser: typeof proxmox.ciuser === 'string' ? proxmox.ciuser : undefined,
        sshKeys: Array.isArray(proxmox.ssh_keys) ? proxmox.ssh_keys.map(String) : [],
      },
    });
    actions.push({ kind: 'write', subject: name, depth: 1, path: dir, summary: `${name}: module ${dir}` });
    const verbs: Array<'apply' | 'destroy'> =
      verb === 'create' ? ['apply'] : verb === 'destroy' ? ['destroy'] : ['apply', 'destroy'];
    for (const v of verbs) {
      const commands = tofuCommands(dir, v, { TF_VAR_api_token: '' }, run.o.tofuBinary);
      const lines = describeCommands(commands);
      commands.forEach((command, i) => {
        actions.push({ kind: 'run', subject: name, depth: 2, summary: lines[i], command: plannedCommand(command) });
      });
    }
  }
  return actions;
}

export async function dryRunPlan(run: OperatorRun, verb: Verb): Promise<DryRunPlan> {
  return {
    title: `DRY-RUN ${verb.toUpperCase()}: ${run.manifest.name}${run.stack ? ` (stack ${run.stack})` : ''}`,
    notes: [`Pattern: ${run.manifest.pattern}, on_error: ${run.o.onError ?? run.manifest.settings.onError}`],
    actions: [...graphActions(run, verb), ...(await tofuActions(run, verb))],
  };
}
