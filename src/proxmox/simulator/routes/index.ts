/** Every route of the simulated /api2/json API, one module per resource. */
import type { SimContext } from '../context.ts';
import { Router } from '../http.ts';
import { registerAccessRoutes } from './access.ts';
import { registerAgentRoutes } from './agent.ts';
import { registerCloneRoutes } from './clone.ts';
import { registerClusterRoutes } from './cluster.ts';
import { registerConfigRoutes } from './config.ts';
import { registerNodeRoutes } from './nodes.ts';
import { registerQemuRoutes } from './qemu.ts';
import { registerSnapshotRoutes } from './snapshots.ts';
import { registerTaskRoutes } from './tasks.ts';

export function apiRoutes(sim: SimContext): Router {
  const router = new Router();
  registerClusterRoutes(router, sim);
  registerNodeRoutes(router, sim);
  registerAccessRoutes(router, sim);
  registerQemuRoutes(router, sim);
  registerCloneRoutes(router, sim);
  registerConfigRoutes(router, sim);
  registerSnapshotRoutes(router, sim);
  registerAgentRoutes(router, sim);
  registerTaskRoutes(router, sim);
  return router;
}
