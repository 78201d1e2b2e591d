import { realpathSync } from 'node:fs';
import type { Command } from 'commander';

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

/** How to run this same strata again: the single executable alone, or node with the script it was started from. */
export function selfInvocation(): string[] {
  if (process.getBuiltinModule('node:sea')?.isSea()) return [process.execPath];
  return [process.execPath, realpathSync(process.argv[1])];
}
