/**
 * Shell completion. `strata completion bash|zsh|fish` prints a script whose TAB runs `strata __complete <words>`;
 * that answers from a small cache (the command tree plus the repository's stack, component, workflow and manifest
 * names) without loading the CLI or the stacks, so a TAB costs little more than starting node. The cache is one
 * JSON file per working folder and global options under `$XDG_CACHE_HOME/strata/completion/` (default
 * `~/.cache/...`); it records the size and modification time of every file and folder its names came from
 * (atmos.yaml, the stacks, workflows and manifests folders) and of strata's version, and is rebuilt on the first TAB
 * after any of them changes (completion-cache.ts). This module loads nothing but node's built-ins.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { strataCacheDir } from '../util/cache-dir.ts';
import { VERSION } from '../util/version.ts';

/** What a word can be completed with. `any` and `file` give no candidates (the shell offers files). */
export type ValueKind = 'stack' | 'component' | 'workflow' | 'workflow-file' | 'manifest' | 'file' | 'any';

export interface OptionSpec {
  names: string[];
  /** Absent for a flag without a value. */
  value?: ValueKind;
  choices?: string[];
}

export interface ArgSpec {
  value: ValueKind;
  choices?: string[];
  variadic?: boolean;
}

export interface CompletionNode {
  name: string;
  aliases?: string[];
  /** Component kind of a toolchain command (`terraform`): its component arguments complete that kind only. */
  kind?: string;
  options: OptionSpec[];
  args: ArgSpec[];
  commands: CompletionNode[];
}

export interface CompletionValues {
  stacks: string[];
  /** Concrete (not abstract) component names by kind, then by stack. */
  components: Record<string, Record<string, string[]>>;
  workflows: Array<{ file: string; name: string }>;
  manifests: string[];
}

export interface CompletionCache {
  version: string;
  /** [path, size, mtimeMs] of every file and folder the values were read from. */
  inputs: Array<[string, number, number]>;
  tree: CompletionNode;
  values: CompletionValues;
}

const invocation = (command: string[]) => command.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');

const SCRIPTS: Record<string, (command: string[]) => string> = {
  bash: (command) => `# strata completion for bash. Add to ~/.bashrc:  source <(strata completion bash)
_strata_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(${invocation(command)} __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _strata_complete strata
`,
  zsh: (command) => `# strata completion for zsh. Add to ~/.zshrc:  source <(strata completion zsh)
_strata() {
  local -a candidates
  candidates=("\${(@f)$(${invocation(command)} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=(\${candidates:#})
  if (( \${#candidates} )); then compadd -a candidates; else _files; fi
}
compdef _strata strata
`,
  fish: (command) => `# strata completion for fish:  strata completion fish > ~/.config/fish/completions/strata.fish
function __strata_complete
    set -l words (commandline -opc) (commandline -ct)
    ${invocation(command)} __complete $words[2..-1] 2>/dev/null
end
complete -c strata -f -a '(__strata_complete)'
`,
};

export const SHELLS = Object.keys(SCRIPTS);

/** The script for `shell`; TAB runs `command` (the strata that printed the script, by absolute path). */
export function completionScript(shell: string, command: string[]): string {
  const script = SCRIPTS[shell];
  if (!script) throw new UsageError(`no completion for shell '${shell}'`, { hint: `use one of: ${SHELLS.join(', ')}` });
  return script(command);
}

/** The global options that change which repository strata reads, wherever they appear in the words. */
export function repositoryOptions(words: string[]): Record<string, string | undefined> {
  const options: Record<string, string | undefined> = {
    ATMOS_CLI_CONFIG_PATH: process.env.ATMOS_CLI_CONFIG_PATH,
    ATMOS_BASE_PATH: process.env.ATMOS_BASE_PATH,
  };
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === '--config' || words[i] === '--base-path') options[words[i]] = words[i + 1];
  }
  return options;
}

/** The cache file for the current folder and options. */
export function cachePath(words: string[], cwd = process.cwd()): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ cwd: resolve(cwd), ...repositoryOptions(words) }))
    .digest('hex')
    .slice(0, 24);
  return join(strataCacheDir('completion'), `${key}.json`);
}

/** The cache if it is there and nothing it was built from changed since. */
export function freshCache(path: string): CompletionCache | undefined {
  let cache: CompletionCache;
  try {
    cache = JSON.parse(readFileSync(path, 'utf8')) as CompletionCache;
  } catch {
    return undefined;
  }
  if (cache.version !== VERSION) return undefined;
  for (const [file, size, mtimeMs] of cache.inputs) {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat || stat.size !== size || stat.mtimeMs !== mtimeMs) return undefined;
  }
  return cache;
}

interface Walk {
  path: CompletionNode[];
  positionals: number;
  stack?: string;
  component?: string;
  workflowFile?: string;
  /** The option whose value the current word is. */
  pending?: OptionSpec;
}

function findOption(path: CompletionNode[], word: string): OptionSpec | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const found = path[i].options.find((o) => o.names.includes(word));
    if (found) return found;
  }
  return undefined;
}

/** Follows the words before the current one down the command tree, noting the stack, component and file given. */
function walk(tree: CompletionNode, words: string[]): Walk {
  const state: Walk = { path: [tree], positionals: 0 };
  for (const word of words) {
    const node = state.path[state.path.length - 1];
    if (state.pending) {
      if (state.pending.value === 'stack') state.stack = word;
      if (state.pending.value === 'workflow-file') state.workflowFile = word;
      state.pending = undefined;
    } else if (word.startsWith('-')) {
      const [flag, inline] = word.split('=', 2);
      const option = findOption(state.path, flag);
      if (option?.value && inline === undefined) state.pending = option;
      else if (option?.value === 'stack') state.stack = inline;
    } else {
      const sub = state.positionals === 0 && node.commands.find((c) => c.name === word || c.aliases?.includes(word));
      if (sub) {
        state.path.push(sub);
        state.positionals = 0;
      } else {
        const arg = node.args[Math.min(state.positionals, node.args.length - 1)];
        if (arg?.value === 'component') state.component = word;
        state.positionals++;
      }
    }
  }
  return state;
}

function kindOf(path: CompletionNode[]): string | undefined {
  return [...path].reverse().find((n) => n.kind)?.kind;
}

function valuesOf(
  kind: ValueKind | undefined,
  choices: string[] | undefined,
  state: Walk,
  values: CompletionValues,
): string[] {
  if (choices) return choices;
  const componentKind = kindOf(state.path);
  const kinds = componentKind ? [componentKind] : Object.keys(values.components);
  switch (kind) {
    case 'stack': {
      if (!state.component) return values.stacks;
      const component = state.component;
      return values.stacks.filter((s) => kinds.some((k) => values.components[k]?.[s]?.includes(component)));
    }
    case 'component':
      return kinds.flatMap((k) =>
        Object.entries(values.components[k] ?? {})
          .filter(([stack]) => !state.stack || stack === state.stack)
          .flatMap(([, names]) => names),
      );
    case 'workflow':
      return values.workflows.filter((w) => !state.workflowFile || w.file === state.workflowFile).map((w) => w.name);
    case 'workflow-file':
      return values.workflows.map((w) => w.file);
    case 'manifest':
      return values.manifests;
    default:
      return [];
  }
}

/** Candidates for the last of `words` (the word being typed, maybe empty), sorted and without duplicates. */
export function complete(cache: CompletionCache, words: string[]): string[] {
  const current = words[words.length - 1] ?? '';
  const state = walk(cache.tree, words.slice(0, -1));
  const node = state.path[state.path.length - 1];
  let candidates: string[];
  if (state.pending) {
    candidates = valuesOf(state.pending.value, state.pending.choices, state, cache.values);
  } else if (current.startsWith('-')) {
    const global = state.path.length > 1 ? cache.tree.options.filter((o) => !o.names.includes('--version')) : [];
    candidates = [...node.options, ...global].flatMap((o) => o.names);
  } else {
    const subs = state.positionals === 0 ? node.commands.map((c) => c.name) : [];
    const arg = node.args[state.positionals] ?? (node.args.at(-1)?.variadic ? node.args.at(-1) : undefined);
    candidates = [...subs, ...(arg ? valuesOf(arg.value, arg.choices, state, cache.values) : [])];
  }
  return [...new Set(candidates.filter((c) => c.startsWith(current)))].sort();
}
