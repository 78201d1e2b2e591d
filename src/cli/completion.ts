/**
 * Shell completion: `strata completion bash|zsh|fish` prints a script that asks `strata __complete <words>` for
 * candidates. Candidates come from the command tree itself (so every concern's commands complete without extra
 * work) and, for `-s/--stack` and component arguments, from the stacks of the current repository.
 */
import type { Command, Option } from 'commander';
import { UsageError } from '../errors.ts';

const SCRIPTS: Record<string, string> = {
  bash: `# strata completion for bash: add to ~/.bashrc:  source <(strata completion bash)
_strata_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(strata __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _strata_complete strata
`,
  zsh: `# strata completion for zsh: add to ~/.zshrc:  source <(strata completion zsh)
_strata() {
  local -a candidates
  candidates=("\${(@f)$(strata __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _strata strata
`,
  fish: `# strata completion for fish: strata completion fish > ~/.config/fish/completions/strata.fish
complete -c strata -f -a '(strata __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
};

export function completionScript(shell: string): string {
  const script = SCRIPTS[shell];
  if (!script)
    throw new UsageError(`no completion for shell '${shell}'`, {
      hint: `use one of: ${Object.keys(SCRIPTS).join(', ')}`,
    });
  return script;
}

function visibleCommands(command: Command): Command[] {
  return command.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

function optionNames(command: Command): string[] {
  return (command.options as Option[]).flatMap((o) => [o.long, o.short].filter((n): n is string => Boolean(n)));
}

/**
 * Candidates for the last word, given the words before it. `valuesFor` supplies dynamic values (stacks, components).
 */
export async function complete(
  program: Command,
  words: string[],
  valuesFor: (kind: 'stack' | 'component', stack?: string) => Promise<string[]>,
): Promise<string[]> {
  const current = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  let command = program;
  let positionals = 0;
  let stack: string | undefined;
  for (let i = 0; i < before.length; i++) {
    const word = before[i];
    if (word === '-s' || word === '--stack') {
      stack = before[i + 1];
      i++;
      continue;
    }
    if (word.startsWith('-')) continue;
    const sub = visibleCommands(command).find((c) => c.name() === word || c.aliases().includes(word));
    if (sub) {
      command = sub;
      positionals = 0;
    } else positionals++;
  }
  const previous = before[before.length - 1];
  let candidates: string[];
  if (previous === '-s' || previous === '--stack') candidates = await valuesFor('stack');
  else if (current.startsWith('-')) candidates = optionNames(command);
  else {
    const subs = visibleCommands(command).map((c) => c.name());
    const takesComponent = (command.registeredArguments ?? []).some((a) => /component/i.test(a.name()));
    candidates =
      subs.length > 0 ? subs : takesComponent && positionals === 0 ? await valuesFor('component', stack) : [];
  }
  return candidates.filter((c) => c.startsWith(current)).sort();
}
