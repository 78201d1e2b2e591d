/** A task's status and log pages, readable by the task's owner or with Sys.Audit on its node. */
import { parseUpid } from '../../client.ts';
import type { SimContext } from '../context.ts';
import type { Caller, Router } from '../http.ts';
import { findNode } from '../lookup.ts';
import { need } from '../permissions.ts';
import type { SimTask } from '../state.ts';

export function registerTaskRoutes(router: Router, sim: SimContext): void {
  const readable = (caller: Caller, node: string, upid: string): SimTask => {
    findNode(sim.state, node);
    const task = sim.tasks.find(node, upid);
    if (task.user !== caller.name) need(caller, `/nodes/${task.node}`, 'Sys.Audit');
    return task;
  };
  router.add('GET', '/nodes/{node}/tasks/{upid}/status', ({ caller, path }) => {
    const task = readable(caller, path.node, path.upid);
    sim.tasks.poll(task);
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
      status: task.status,
      ...(task.exitstatus !== undefined ? { exitstatus: task.exitstatus } : {}),
    };
  });
  router.add('GET', '/nodes/{node}/tasks/{upid}/log', ({ caller, path, params, envelope }) => {
    const task = readable(caller, path.node, path.upid);
    const start = Number(params.start ?? 0);
    const limit = Number(params.limit ?? 50);
    envelope.total = task.log.length;
    return task.log.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
  });
}
