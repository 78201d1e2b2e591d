/** Tasks of a node: the list, one task's status and its log pages (the task's owner, or Sys.Audit on the node). */
import { parseUpid } from '../../client.ts';
import type { SimContext } from '../context.ts';
import type { Caller, Router } from '../http.ts';
import { can, need } from '../permissions.ts';
import { NODE_PATH, optionalBool, optionalInt, optionalString, vmid as vmidSpec } from '../schema.ts';
import type { SimTask } from '../state.ts';

function taskView(task: SimTask): Record<string, unknown> {
  const parsed = parseUpid(task.upid);
  return {
    upid: task.upid,
    node: task.node,
    pid: parsed.pid,
    pstart: parsed.pstart,
    starttime: task.starttime,
    type: task.type,
    id: task.id,
    user: task.user.split('!')[0],
    ...(task.user.includes('!') ? { tokenid: task.user.split('!')[1] } : {}),
  };
}

export function registerTaskRoutes(router: Router, sim: SimContext): void {
  const readable = (caller: Caller, node: string, upid: string): SimTask => {
    const task = sim.tasks.find(node, upid);
    if (task.user !== caller.name) need(caller, `/nodes/${task.node}`, 'Sys.Audit');
    return task;
  };
  const taskPath = { ...NODE_PATH, upid: { type: 'string' as const } };
  router.add('GET', '/nodes/{node}/tasks', {
    schema: {
      ...NODE_PATH,
      start: { ...optionalInt, minimum: 0 },
      limit: { ...optionalInt, minimum: 0 },
      vmid: { ...vmidSpec, optional: true },
      typefilter: optionalString,
      userfilter: optionalString,
      errors: optionalBool,
      source: { type: 'string', optional: true, enum: ['archive', 'active', 'all'] },
      since: optionalInt,
      until: optionalInt,
      statusfilter: optionalString,
    },
    handler: ({ caller, params, envelope }) => {
      const source = params.source ?? 'archive';
      const rows = sim.state.tasks
        .filter((t) => t.node === params.node)
        .filter((t) => t.user === caller.name || can(caller, `/nodes/${t.node}`, 'Sys.Audit'))
        .filter((t) =>
          source === 'active' ? t.status === 'running' : source === 'archive' ? t.status === 'stopped' : true,
        )
        .filter((t) => !params.vmid || t.id === params.vmid)
        .filter((t) => !params.typefilter || t.type === params.typefilter)
        .filter((t) => !params.userfilter || t.user.includes(params.userfilter))
        .filter((t) => params.errors !== '1' || (t.exitstatus !== undefined && t.exitstatus !== 'OK'))
        .filter((t) => !params.since || t.starttime >= Number(params.since))
        .filter((t) => !params.until || t.starttime <= Number(params.until))
        .reverse();
      envelope.total = rows.length;
      const start = Number(params.start ?? 0);
      return rows.slice(start, start + Number(params.limit ?? 50)).map((t) => ({
        ...taskView(t),
        ...(t.endtime !== undefined ? { endtime: t.endtime, status: t.exitstatus } : {}),
      }));
    },
  });
  router.add('GET', '/nodes/{node}/tasks/{upid}/status', {
    schema: taskPath,
    handler: ({ caller, params }) => {
      const task = readable(caller, params.node, params.upid);
      sim.tasks.poll(task);
      return {
        ...taskView(task),
        status: task.status,
        ...(task.exitstatus !== undefined ? { exitstatus: task.exitstatus } : {}),
      };
    },
  });
  router.add('GET', '/nodes/{node}/tasks/{upid}/log', {
    schema: {
      ...taskPath,
      start: { ...optionalInt, minimum: 0 },
      limit: { ...optionalInt, minimum: 0 },
      download: optionalBool,
    },
    handler: ({ caller, params, envelope }) => {
      const task = readable(caller, params.node, params.upid);
      const start = Number(params.start ?? 0);
      const limit = Number(params.limit ?? 50);
      envelope.total = task.log.length;
      return task.log.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
    },
  });
}
