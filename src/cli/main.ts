import { Command, CommanderError } from 'commander';
import { formatError, StrataError } from '../errors.ts';
import { paint } from './output.ts';

/** Each concern adds its commands here; the CLI stays a thin layer over the library. */
type Registrar = (program: Command) => void;

async function registrars(): Promise<Registrar[]> {
  const modules = await Promise.all([
    import('./commands/stacks.ts'),
    import('./commands/toolchains.ts'),
    import('./commands/workflows.ts'),
    import('./commands/operator.ts'),
    import('./commands/proxmox.ts'),
    import('./commands/secrets.ts'),
    import('./commands/controller.ts'),
    import('./commands/gitops.ts'),
  ]);
  return modules.map((m) => m.register);
}

export async function buildProgram(): Promise<Command> {
  const program = new Command('strata')
    .description(
      'Orchestrate infrastructure as code: Atmos-compatible stacks, Terraform/OpenTofu, Packer, Kubernetes, Ansible, workflows and a Proxmox operator.',
    )
    .version('0.1.0', '--version')
    .option('--config <path>', 'atmos.yaml / strata.yaml file or the folder that holds it')
    .option('--base-path <path>', 'base path for stacks, components and workflows (overrides base_path)')
    .option('--no-color', 'disable colours (also NO_COLOR=1)')
    .showSuggestionAfterError(true)
    .exitOverride();
  program.hook('preAction', (cmd) => {
    if (cmd.opts().color === false) process.env.NO_COLOR = '1';
  });
  for (const register of await registrars()) register(program);
  program.configureHelp({ sortSubcommands: true });
  return program;
}

/** Finds or creates a parent command such as `describe` or `list`, so several concerns can add subcommands. */
export function subcommand(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing) return existing;
  return program.command(name).description(description).exitOverride();
}

/** Runs the CLI and returns the exit code: 0 ok, 1 user error or failed run, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error);
  }
}

export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed the message; help and version are not failures.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    if (error.code === 'commander.help') return 0;
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof StrataError) {
    process.stderr.write(`${paint(formatError(error), 'red', process.stderr)}\n`);
    return error.exitCode;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`Internal error (please report it): ${text}\n`);
  return 1;
}
