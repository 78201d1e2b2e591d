/** What route handlers reach of a running simulator: its state and the machinery that changes it. */
import type { Guests } from './guests.ts';
import type { Flocks } from './lookup.ts';
import type { ResolvedOptions } from './options.ts';
import type { TicketSigner } from './permissions.ts';
import type { SimState } from './state.ts';
import type { TaskRunner } from './tasks.ts';
import type { SimCertificate } from './tls.ts';

export interface SimContext {
  readonly state: SimState;
  readonly options: ResolvedOptions;
  readonly tasks: TaskRunner;
  readonly guests: Guests;
  readonly signer: TicketSigner;
  /** The flock-style locks PVE takes around config changes (lock_config_shared/full), by VM id. */
  readonly flocks: Flocks;
  /** The node certificate (undefined without TLS, or before the first listen()). */
  certificate(): SimCertificate | undefined;
}
