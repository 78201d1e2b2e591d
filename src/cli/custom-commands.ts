/**
 * Atmos's custom commands: `commands:` in atmos.yaml adds CLI verbs with arguments, flags, environment variables,
 * an optional described component (`component_config` -> `.ComponentConfig`) and shell steps rendered as Go
 * templates over `.Arguments`, `.Flags` and `.ComponentConfig`. Steps run with `sh -c` through strata's subprocess
 * runner, one after the other; the first that fails ends the command with its exit code.
 */
import type { Command } from 'commander';
import type { StrataConfig } from '../config/types.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { StrataError } from '../errors.ts';
import { run } from '../exec/index.ts';
import { describeComponent } from '../services/describe.ts';
import { openReadOnlyEngine } from '../services/engine.ts';
import { renderTemplate } from '../template/index.ts';

interface ArgumentSpec {
  name: string;
  description?: string;
  required?: boolean;
  default?: string;
}

interface FlagSpec {
  name: string;
  shorthand?: string;
  description?: string;
  type?: string;
  required?: boolean;
  default?: unknown;
}

interface EnvSpec {
  key: string;
  value?: string;
  valueCommand?: string;
}

interface CommandSpec {
  name: string;
  description?: string;
  arguments?: ArgumentSpec[];
  flags?: FlagSpec[];
  env?: EnvSpec[];
  steps?: string[];
  commands?: CommandSpec[];
  component_config?: { component?: string; stack?: string };
  verbose?: boolean;
}

const list = <T>(value: unknown): T[] => (Array.isArray(value) ? (value.filter(isPlainMap) as T[]) : []);

/** Adds atmos.yaml's custom commands to the program; `warn` hears about the ones that cannot be added. */
export function registerCustomCommands(program: Command, config: StrataConfig, warn: (text: string) => void): void {
  const raw = config.raw.commands;
  if (raw === undefined || raw === null) return;
  if (!Array.isArray(raw)) {
    warn('atmos.yaml: commands: must be a list of commands; it is ignored');
    return;
  }
  for (const spec of list<CommandSpec>(raw)) addCommand(program, spec, [], config, warn);
}

function addCommand(
  parent: Command,
  spec: CommandSpec,
  path: string[],
  config: StrataConfig,
  warn: (t: string) => void,
) {
  if (typeof spec.name !== 'string' || spec.name === '') {
    warn(`atmos.yaml: a custom command under '${path.join(' ') || 'commands'}' has no name; it is ignored`);
    return;
  }
  const fullPath = [...path, spec.name];
  const existing = parent.commands.find((c) => c.name() === spec.name || c.aliases().includes(spec.name));
  if (existing) {
    warn(`atmos.yaml: custom command '${fullPath.join(' ')}' has the name of a strata command; it is ignored`);
    return;
  }
  const command = parent
    .command(spec.name)
    .description(spec.description ?? `custom command from ${config.configFiles.at(-1) ?? 'atmos.yaml'}`);
  for (const argument of list<ArgumentSpec>(spec.arguments)) {
    const name = argument.required ? `<${argument.name}>` : `[${argument.name}]`;
    command.argument(name, argument.description ?? '', argument.default);
  }
  for (const flag of list<FlagSpec>(spec.flags)) {
    const short = flag.shorthand ? `-${flag.shorthand}, ` : '';
    const text = `${short}--${flag.name}${flag.type === 'bool' ? '' : ' <value>'}`;
    const fallback =
      flag.default === undefined ? undefined : flag.type === 'bool' ? flag.default === true : String(flag.default);
    if (flag.required && flag.type !== 'bool') command.requiredOption(text, flag.description ?? '', fallback as string);
    else command.option(text, flag.description ?? '', fallback as string | boolean | undefined);
  }
  for (const child of list<CommandSpec>(spec.commands)) addCommand(command, child, fullPath, config, warn);
  if (Array.isArray(spec.steps)) {
    command.allowExcessArguments(true);
    command.action(async (...args: unknown[]) => {
      const self = args[args.length - 1] as Command;
      const code = await runCustomCommand(spec, fullPath.join(' '), self, config);
      if (code !== 0) process.exitCode = code;
    });
  }
}

/** The template data of a step: `.Arguments`, `.Flags` (by the names atmos.yaml gives) and `.TrailingArgs`. */
function templateData(spec: CommandSpec, command: Command): PlainMap {
  const names = list<ArgumentSpec>(spec.arguments).map((a) => a.name);
  const Arguments: PlainMap = {};
  names.forEach((name, i) => {
    Arguments[name] = command.processedArgs[i] ?? '';
  });
  const options = command.opts() as PlainMap;
  const Flags: PlainMap = {};
  for (const flag of list<FlagSpec>(spec.flags)) {
    const key = flag.name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    Flags[flag.name] = options[key] ?? (flag.type === 'bool' ? false : '');
  }
  return { Arguments, Flags, TrailingArgs: command.args.slice(names.length).join(' ') };
}

async function runCustomCommand(spec: CommandSpec, name: string, command: Command, config: StrataConfig) {
  const data = templateData(spec, command);
  const render = (text: string, what: string) =>
    renderTemplate(String(text), data, { name: `custom command '${name}' ${what}`, missingkey: 'default' });
  if (isPlainMap(spec.component_config)) {
    const component = render(String(spec.component_config.component ?? ''), 'component_config.component');
    const stack = render(String(spec.component_config.stack ?? ''), 'component_config.stack');
    const engine = await openReadOnlyEngine({ configPath: config.configFiles.at(-1), basePath: config.basePath });
    data.ComponentConfig = JSON.parse(JSON.stringify((await describeComponent(engine, component, stack)).description));
  }
  const env: Record<string, string> = {};
  for (const entry of list<EnvSpec>(spec.env)) {
    if (entry.valueCommand) {
      const result = await run('sh', ['-c', render(entry.valueCommand, `env ${entry.key}`)], { stdio: 'capture' });
      if (result.exitCode !== 0) {
        throw new StrataError(
          `custom command '${name}': the valueCommand of ${entry.key} exited with ${result.exitCode}`,
          {
            details: result.stderr.trim(),
          },
        );
      }
      env[entry.key] = result.stdout.trim();
    } else env[entry.key] = render(String(entry.value ?? ''), `env ${entry.key}`);
  }
  for (const [index, step] of (spec.steps ?? []).entries()) {
    const text = render(step, `step ${index + 1}`);
    if (spec.verbose) process.stderr.write(`strata: ${name} step ${index + 1}: ${text}\n`);
    const result = await run('sh', ['-c', text], { stdio: 'inherit', env });
    if (result.exitCode !== 0) {
      process.stderr.write(`strata: custom command '${name}': step ${index + 1} exited with ${result.exitCode}\n`);
      return result.exitCode;
    }
  }
  return 0;
}
