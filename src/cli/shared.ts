import { realpathSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';

/** The global options every command may be given (`strata --config x describe ...` or after the command). */
export interface GlobalOptions {
  config?: string;
  basePath?: string;
}

export function globals(cmd: Command): GlobalOptions {
  const opts = cmd.optsWithGlobals() as GlobalOptions;
  return { config: opts.config, basePath: opts.basePath };
}

/** Writes command output to stdout, ending it with exactly one newline. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

/** Finds or creates a parent command such as `describe` or `list`, so several concerns can add subcommands. */
export function subcommand(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing) return existing;
  return program.command(name).description(description).exitOverride();
}

/** What `--process-templates`, `--process-functions` and `--skip` ask of the engine. */
export interface EvaluationFlags {
  processTemplates?: boolean;
  processFunctions?: boolean;
  skipFunctions?: string[];
}

function parseBool(flag: string): (value: string) => boolean {
  return (value) => {
    if (value === 'true') return true;
    if (value === 'false') return false;
    throw new UsageError(`${flag} takes true or false, not '${value}'`, { hint: `write ${flag}=false` });
  };
}

/**
 * Atmos's `--process-templates`, `--process-functions` (true|false) and `--skip <function>` (repeatable) on a
 * command; `functionsByDefault` is what happens without the flag (validate stacks only merges).
 */
export function evaluationFlags(command: Command, functionsByDefault = true): Command {
  return command
    .option('--process-templates <bool>', 'evaluate Go templates (true|false)', parseBool('--process-templates'))
    .option(
      '--process-functions <bool>',
      `evaluate YAML functions (true|false, default ${functionsByDefault})`,
      parseBool('--process-functions'),
    )
    .option(
      '--skip <function>',
      'leave this YAML function unevaluated, e.g. terraform.output (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    );
}

/** The engine options the evaluation flags give. */
export function evaluationOptions(
  opts: { processTemplates?: boolean; processFunctions?: boolean; skip?: string[] },
  functionsByDefault = true,
): EvaluationFlags {
  return {
    // true keeps atmos.yaml's templates.settings.enabled in charge, as in Atmos.
    processTemplates: opts.processTemplates === false ? false : undefined,
    processFunctions: opts.processFunctions ?? functionsByDefault,
    skipFunctions: opts.skip,
  };
}

/** How to run this same strata again: the single executable alone, or node with the script it was started from. */
export function selfInvocation(): string[] {
  if (process.getBuiltinModule('node:sea')?.isSea()) return [process.execPath];
  return [process.execPath, realpathSync(process.argv[1])];
}
