/**
 * Library entry of the PVE simulator: start it, talk to it with PveClient, judge with `state`, break it with `inject`.
 */
import { type NestedEndpoint, PveSimulator, type SimFault, type SimulatorOptions } from './server.ts';

export type { NestedEndpoint, SimFault, SimulatorOptions } from './server.ts';
export { PveSimulator } from './server.ts';
export type { SimSeed } from './state.ts';
export { defaultSeed, loadSeedFile } from './state.ts';

export interface RunningSimulator {
  /** https://127.0.0.1:<port> (http:// with `tls: false`); PveClient appends /api2/json. */
  url: string;
  /** SHA-256 fingerprint of the node certificate (undefined without TLS). */
  fingerprint?: string;
  /** PEM of the simulator's root CA, for CA pinning (undefined without TLS). */
  ca?: string;
  /** A token of the first seeded user (root@pam!strata by default), privilege separation off. */
  tokenId: string;
  tokenSecret: string;
  /** That user and its password, for password (ticket) logins. */
  user: string;
  password: string;
  /** JSON snapshot of the whole simulated cluster, as GET /_sim/state returns it. */
  readonly state: Record<string, unknown>;
  inject(fault: SimFault): number;
  clearFaults(): void;
  /** Endpoints of nested PVE hosts that are up (VMs tagged `pve` after boot). */
  nested(): NestedEndpoint[];
  simulator: PveSimulator;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const sim = new PveSimulator(options);
  await sim.listen();
  const user = sim.state.users.find((u) => u.tokens.length > 0);
  const token = user?.tokens[0];
  return {
    url: sim.url,
    fingerprint: sim.certificate?.fingerprint,
    ca: sim.certificate?.ca,
    tokenId: user && token ? `${user.userid}!${token.id}` : '',
    tokenSecret: token?.secret ?? '',
    user: user?.userid ?? '',
    password: user?.password ?? '',
    get state() {
      return sim.snapshot();
    },
    inject: (fault) => sim.inject(fault),
    clearFaults: () => sim.clearFaults(),
    nested: () => sim.nestedEndpoints(),
    simulator: sim,
    close: () => sim.close(),
  };
}
