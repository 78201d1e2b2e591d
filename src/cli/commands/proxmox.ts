import type { Command } from 'commander';
import { StrataError, UsageError } from '../../errors.ts';
import type { StackContext } from '../../operator/index.ts';
import { loadSeedFile, startSimulator } from '../../proxmox/simulator/index.ts';
import { type OutputFormat, parseFormat, render } from '../output.ts';
import { SIMULATOR_ENV } from '../simulated-proxmox.ts';

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
    .option('--seed <project>', "serve a project's nodes, storages and image templates (every stack, or -s)")
    .option('-s, --stack <stack>', 'with --seed: only this stack')
    .option('--subnet <cidr>', 'subnet the simulated DHCP hands out', '10.77.0.0/24')
    .option('--status-lag-ms <ms>', 'how far /cluster/resources lags behind a VM (pvestatd), before scaling', '10000')
    .option('--no-tls', 'serve plain HTTP instead of HTTPS')
    .option('--format <format>', 'connection details as yaml or json, or env: shell exports (default with --seed)')
    .addHelpText(
      'after',
      `
Examples:
  strata pve-sim                                  # https://127.0.0.1:8006, prints token and fingerprint
  strata pve-sim --port 0 --latency-scale 0 --format json
  strata pve-sim --seed-file lab.yaml --latency-scale 0.1
  strata pve-sim --seed examples/homelab --latency-scale 0.1   # the example's node and templates; prints exports

--format env prints the exports that point strata at the simulator (PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN,
STRATA_PVE_FINGERPRINT, ${SIMULATOR_ENV}=1); run them in the shell where you run strata.

Control endpoints (no token needed): GET /_sim/state, POST /_sim/faults, DELETE /_sim/faults, GET /_sim/nested.
Stop with Ctrl-C (SIGINT) or SIGTERM.`,
    )
    .action(runSimulator);
}

/** Runs the simulator in the foreground until SIGINT or SIGTERM, with its connection details on stdout. */
async function runSimulator(opts: Record<string, string | boolean | undefined>): Promise<void> {
  const seeded = typeof opts.seed === 'string';
  if (opts.stack !== undefined && !seeded) throw new UsageError('-s/--stack needs --seed <project>');
  if (seeded && opts.seedFile !== undefined) throw new UsageError('use --seed or --seed-file, not both');
  const format = parseFormat(typeof opts.format === 'string' ? opts.format : seeded ? 'env' : 'yaml', [
    'yaml',
    'json',
    'env',
  ]) as string;
  const port = parseNumber('--port', String(opts.port), 0, 65535, true);
  const latencyScale = parseNumber('--latency-scale', String(opts.latencyScale), 0, 1000, false);
  const bootDelayMs = parseNumber('--boot-delay-ms', String(opts.bootDelayMs), 0, 3_600_000, true);
  const statusLagMs = parseNumber('--status-lag-ms', String(opts.statusLagMs), 0, 3_600_000, true);
  const options = {
    port,
    latencyScale,
    bootDelayMs,
    statusLagMs,
    subnet: String(opts.subnet),
    tls: opts.tls !== false,
  };
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  try {
    if (seeded) {
      const contexts = await projectContexts(String(opts.seed), opts.stack as string | undefined);
      sim = await (await import('../simulated-proxmox.ts')).startProjectSimulator(contexts, options);
    } else {
      const seed = typeof opts.seedFile === 'string' ? await loadSeedFile(opts.seedFile) : undefined;
      sim = await startSimulator({ ...options, seed });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StrataError(`Port ${port} on 127.0.0.1 is already in use`, {
        hint: 'Pick another with --port, or --port 0 for a free one.',
      });
    }
    throw error;
  }
  process.stdout.write(format === 'env' ? exportsOf(sim) : connectionDetails(sim, format as OutputFormat));
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

/** The stack contexts of the project in `dir` (its stacks with settings.proxmox, or the one named). */
async function projectContexts(dir: string, stack: string | undefined): Promise<StackContext[]> {
  const { openReadOnlyEngine } = await import('../../services/engine.ts');
  const { stackContext } = await import('../../operator/index.ts');
  const engine = await openReadOnlyEngine({ cwd: dir });
  const names = stack ? [stack] : await engine.stackNames();
  const contexts = await Promise.all(names.map((name) => stackContext(engine, name)));
  const withProxmox = contexts.filter((c) => c.settings.proxmox !== undefined || c.vars.proxmox !== undefined);
  if (withProxmox.length === 0) {
    throw new StrataError(`No stack of ${dir} has settings.proxmox`, {
      hint: 'Seed from a project whose stacks name a Proxmox node (settings.proxmox.node), or use --seed-file.',
    });
  }
  return withProxmox;
}

type Sim = Awaited<ReturnType<typeof startSimulator>>;

/** Shell exports that point strata's operator (and the proxmox Terraform provider's env) at the simulator. */
function exportsOf(sim: Sim): string {
  const quote = (value: string) => `'${value.replace(/'/g, "'\\''")}'`;
  const vars: Array<[string, string]> = [
    ['PROXMOX_VE_ENDPOINT', sim.url],
    ['PROXMOX_VE_API_TOKEN', `${sim.tokenId}=${sim.tokenSecret}`],
    ...(sim.fingerprint ? [['STRATA_PVE_FINGERPRINT', sim.fingerprint] as [string, string]] : []),
    [SIMULATOR_ENV, '1'],
  ];
  return vars.map(([name, value]) => `export ${name}=${quote(value)}\n`).join('');
}

function connectionDetails(sim: Sim, format: OutputFormat): string {
  return render(
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
  );
}
