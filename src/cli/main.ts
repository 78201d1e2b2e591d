import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Argument, Command, CommanderError } from 'commander';
import { formatError, StrataError, UsageError } from '../errors.ts';
import { paint } from '../util/terminal.ts';
import { VERSION } from '../util/version.ts';
import { completionScript, SHELLS } from './completion.ts';
import { addHelpExamples } from './help-examples.ts';
import { dropOutputOnClosedPipe } from './pipes.ts';
import { selfInvocation } from './shared.ts';

/** Each concern adds its commands here; the CLI stays a thin layer over the library. */
type Registrar = (program: Command) => void;

const MODULES = {
  stacks: () => import('./commands/stacks.ts'),
  toolchains: () => import('./commands/toolchains.ts'),
  workflows: () => import('./commands/workflows.ts'),
  operator: () => import('./commands/operator.ts'),
  proxmox: () => import('./commands/proxmox.ts'),
  secrets: () => import('./commands/secrets.ts'),
  controller: () => import('./commands/controller.ts'),
  gitops: () => import('./commands/gitops.ts'),
  version: () => import('./commands/version.ts'),
  ci: () => import('./commands/ci.ts'),
  vendor: () => import('./commands/vendor.ts'),
  iacdriver: () => import('./commands/iacdriver.ts'),
} as const;
type ModuleName = keyof typeof MODULES;

/**
 * Which modules define each command, so a run loads only what it needs (start-up time is a feature): the first two
 * words (`list stacks`), else the first. A command missing here still works: unknown words load every module.
 */
const COMMAND_MODULES: Record<string, ModuleName[]> = {
  'describe affected': ['gitops'],
  'describe workflows': ['workflows'],
  'describe component': ['stacks'],
  'describe stacks': ['stacks'],
  'describe manifest': ['stacks'],
  'describe dependents': ['stacks'],
  'describe graph': ['stacks'],
  'describe locals': ['stacks'],
  'describe config': ['stacks'],
  describe: ['stacks', 'workflows', 'gitops'],
  'list stacks': ['stacks'],
  'list components': ['stacks'],
  'list workflows': ['workflows'],
  list: ['stacks', 'workflows'],
  validate: ['stacks'],
  workflow: ['workflows'],
  terraform: ['toolchains'],
  packer: ['toolchains'],
  kubernetes: ['toolchains'],
  ansible: ['toolchains'],
  manifest: ['operator'],
  preflight: ['operator'],
  'pve-sim': ['proxmox'],
  secrets: ['secrets'],
  serve: ['controller'],
  generate: ['gitops'],
  lock: ['gitops'],
  plan: ['gitops'],
  apply: ['gitops'],
  ci: ['ci'],
  doctor: ['gitops'],
  version: ['version'],
  vendor: ['vendor'],
  scenario: ['iacdriver'],
  config: ['iacdriver'],
  server: ['iacdriver'],
  token: ['iacdriver'],
};

async function registrars(argv: string[]): Promise<Registrar[]> {
  const [first, second] = argv.filter((arg) => !arg.startsWith('-'));
  if (first === 'completion') return [];
  const wanted =
    COMMAND_MODULES[`${first} ${second}`] ?? COMMAND_MODULES[first] ?? (Object.keys(MODULES) as ModuleName[]);
  const modules = await Promise.all(wanted.map((name) => MODULES[name]()));
  return modules.map((m) => m.register);
}

/** True unless the first word is one of strata's commands: only then are atmos.yaml's `commands:` read. */
function mayNameCustomCommand(argv: string[]): boolean {
  const [first] = argv.filter((arg) => !arg.startsWith('-'));
  return first === undefined || first === 'help' || !(first in COMMAND_MODULES || first === 'completion');
}

/** The value of `--name x` / `--name=x` in argv. */
function flagValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

/** atmos.yaml's custom commands; a configuration that does not load adds none (the command reports it). */
async function addCustomCommands(program: Command, argv: string[]): Promise<void> {
  const [{ loadConfig }, { registerCustomCommands }] = await Promise.all([
    import('../config/index.ts'),
    import('./custom-commands.ts'),
  ]);
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ configPath: flagValue(argv, '--config'), basePath: flagValue(argv, '--base-path') });
  } catch {
    return;
  }
  registerCustomCommands(program, config, (text) =>
    process.stderr.write(`${paint('!', 'yellow', process.stderr)} ${text}\n`),
  );
}

export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('strata')
    .description(
      'Orchestrate infrastructure as code: Atmos-compatible stacks, Terraform/OpenTofu, Packer, Kubernetes, Ansible, workflows and a Proxmox operator.',
    )
    .version(VERSION, '--version')
    .option('-C, --chdir <dir>', 'run as if started in this folder (also ATMOS_CHDIR); before anything else is read')
    .option('--config <path>', 'atmos.yaml / strata.yaml file or the folder that holds it')
    .option('--base-path <path>', 'base path for stacks, components and workflows (overrides base_path)')
    .option('--no-color', 'disable colours (also NO_COLOR=1)')
    .option(
      '--no-cache',
      'neither read nor write the caches of parsed stack manifests and HCL files (also STRATA_NO_CACHE=1)',
    )
    .option('--verbose', 'say on standard error how many manifests were parsed or cached and calls evaluated or reused')
    .showSuggestionAfterError(true)
    .exitOverride();
  program.hook('preAction', (cmd) => {
    if (cmd.opts().color === false) process.env.NO_COLOR = '1';
    if (cmd.opts().cache === false) process.env.STRATA_NO_CACHE = '1';
    changeDirectory(cmd.opts().chdir ?? process.env.ATMOS_CHDIR);
  });
  for (const register of await registrars(argv)) register(program);
  if (mayNameCustomCommand(argv)) await addCustomCommands(program, argv);
  program
    .command('completion')
    .description('Print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      '\nExamples:\n  source <(strata completion bash)\n  strata completion fish > ~/.config/fish/completions/strata.fish',
    )
    .action((shell: string) => {
      process.stdout.write(completionScript(shell, selfInvocation()));
    });
  program.configureHelp({ sortSubcommands: true });
  addHelpExamples(program);
  return program;
}

/** `--chdir/-C` (Atmos's flag, or ATMOS_CHDIR): the working directory for discovery and relative paths. */
function changeDirectory(dir: string | undefined): void {
  if (!dir) return;
  const target = resolve(dir);
  if (!statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--chdir: '${dir}' is not a folder`, { hint: `looked for ${target}` });
  }
  process.chdir(target);
}

/** Runs the CLI and returns the exit code: 0 ok, 1 user error or failed run, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  dropOutputOnClosedPipe(process.stdout);
  dropOutputOnClosedPipe(process.stderr);
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    if (program.opts().verbose === true) await printEngineStats();
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error);
  }
}

/** `--verbose`: what the stack engine did in this run. */
async function printEngineStats(): Promise<void> {
  const { engineStatsLine } = await import('../stacks/stats.ts');
  process.stderr.write(`${engineStatsLine()}\n`);
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
