import type { Command } from 'commander';
import { StrataError, UsageError } from '../../errors.ts';
import { loadSeedFile, startSimulator } from '../../proxmox/simulator/index.ts';
import { parseFormat, render } from '../output.ts';

function parseNumber(flag: string, value: string, min: number, max: number, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`invalid ${flag} '${value}'`, {
      hint: `use ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
    });
  }
  return n;
}

/** Commands of the proxmox concern: the PVE API simulator. */
export function register(program: Command): void {
  program
    .command('pve-sim')
    .description(
      'Run a Proxmox VE API simulator on 127.0.0.1 (HTTPS, API tokens and tickets, async tasks, guest agent, nested hosts)',
    )
    .option('--port <port>', 'TCP port (0 picks a free one)', '8006')
    .option('--latency-scale <factor>', 'multiply task durations and boot time (0 = instant)', '1')
    .option('--boot-delay-ms <ms>', 'time from VM start until the guest agent answers, before scaling', '8000')
    .option('--seed-file <yaml>', 'initial nodes, storages, VMs and users (see docs/proxmox-simulator.md)')
    .option('--subnet <cidr>', 'subnet the simulated DHCP hands out', '10.77.0.0/24')
    .option('--status-lag-ms <ms>', 'how far /cluster/resources lags behind a VM (pvestatd), before scaling', '10000')
    .option('--no-tls', 'serve plain HTTP instead of HTTPS')
    .option('--format <format>', 'output format of the connection details: yaml or json', 'yaml')
    .addHelpText(
      'after',
      `
Examples:
  strata pve-sim                                  # https://127.0.0.1:8006, prints token and fingerprint
  strata pve-sim --port 0 --latency-scale 0 --format json
  strata pve-sim --seed-file lab.yaml --latency-scale 0.1

Control endpoints (no token needed): GET /_sim/state, POST /_sim/faults, DELETE /_sim/faults, GET /_sim/nested.
Stop with Ctrl-C (SIGINT) or SIGTERM.`,
    )
    .action(runSimulator);
}

/** Runs the simulator in the foreground until SIGINT or SIGTERM, with its connection details on stdout. */
async function runSimulator(opts: Record<string, string | boolean | undefined>): Promise<void> {
  const format = parseFormat(String(opts.format));
  const port = parseNumber('--port', String(opts.port), 0, 65535, true);
  const latencyScale = parseNumber('--latency-scale', String(opts.latencyScale), 0, 1000, false);
  const bootDelayMs = parseNumber('--boot-delay-ms', String(opts.bootDelayMs), 0, 3_600_000, true);
  const statusLagMs = parseNumber('--status-lag-ms', String(opts.statusLagMs), 0, 3_600_000, true);
  const seed = typeof opts.seedFile === 'string' ? await loadSeedFile(opts.seedFile) : undefined;
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  try {
    sim = await startSimulator({
      port,
      latencyScale,
      bootDelayMs,
      statusLagMs,
      seed,
      subnet: String(opts.subnet),
      tls: opts.tls !== false,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StrataError(`Port ${port} on 127.0.0.1 is already in use`, {
        hint: 'Pick another with --port, or --port 0 for a free one.',
      });
    }
    throw error;
  }
  process.stdout.write(
    render(
      {
        url: sim.url,
        tokenId: sim.tokenId,
        tokenSecret: sim.tokenSecret,
        fingerprint: sim.fingerprint ?? null,
        authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`,
        user: sim.user,
        password: sim.password,
        state: `${sim.url}/_sim/state`,
        ca: sim.ca ?? null,
      },
      format,
    ),
  );
  process.stderr.write('PVE simulator running; press Ctrl-C to stop.\n');
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sim.close();
  process.stderr.write('PVE simulator stopped.\n');
}
