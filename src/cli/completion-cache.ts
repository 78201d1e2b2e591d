/**
 * `strata __complete`: answers from the completion cache (completion.ts), building it first when it is missing or
 * stale. Building loads the whole CLI (every command module, for the command tree) and the repository's stacks,
 * workflows and manifests, which is why it happens once, not on every TAB. Everything a build needs is imported
 * when it builds, so an answer from the cache loads only this module and completion.ts.
 */
import { mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import type { Argument, Command, Option } from 'commander';
import { VERSION } from '../util/version.ts';
import {
  type ArgSpec,
  type CompletionCache,
  type CompletionNode,
  type CompletionValues,
  cachePath,
  complete,
  freshCache,
  type OptionSpec,
  repositoryOptions,
  SHELLS,
  type ValueKind,
} from './completion.ts';

const TOOLCHAINS = ['terraform', 'packer', 'kubernetes', 'ansible'];
const FORMAT_WORDS = ['text', 'json', 'yaml', 'markdown', 'matrix'];
const FILE_OPTIONS =
  /^--(manifest-file|out|output|report-dir|plans-dir|summary|seed-file|cert|key|signing-key|site-token-file|site-config|repo|schema-path|vault-password-file|file)$/;

/** `strata __complete <words>`: prints the candidates for the last word. */
export async function completeCommand(words: string[]): Promise<number> {
  const typed = words.length > 0 ? words : [''];
  const path = cachePath(typed);
  const cache = freshCache(path) ?? (await buildCompletionCache(path, typed));
  const candidates = complete(cache, typed);
  if (candidates.length > 0) process.stdout.write(`${candidates.join('\n')}\n`);
  return 0;
}

function optionValue(option: Option, command: string[]): ValueKind {
  const long = option.long ?? '';
  if (long === '--stack') return 'stack';
  if (long === '--component') return 'component';
  if (long === '--manifest') return 'manifest';
  if (long === '--file' && (command.includes('workflow') || command.includes('workflows'))) return 'workflow-file';
  return FILE_OPTIONS.test(long) ? 'file' : 'any';
}

function optionSpec(option: Option, command: string[]): OptionSpec {
  const names = [option.short, option.long].filter((n): n is string => Boolean(n));
  if (!option.required && !option.optional) return { names };
  const formats = option.long === '--format' ? FORMAT_WORDS.filter((w) => option.description.includes(w)) : [];
  const choices = option.argChoices ?? (formats.length > 0 ? formats : undefined);
  return { names, value: optionValue(option, command), ...(choices ? { choices } : {}) };
}

function argSpec(argument: Argument, command: string[], choicesByName: Record<string, readonly string[]>): ArgSpec {
  const name = argument.name();
  const value: ValueKind = /component/.test(name)
    ? 'component'
    : /manifest/.test(name)
      ? 'manifest'
      : command.at(-1) === 'workflow' && name === 'name'
        ? 'workflow'
        : /file|path/.test(name)
          ? 'file'
          : 'any';
  const choices = argument.argChoices ?? choicesByName[name];
  return { value, variadic: argument.variadic, ...(choices ? { choices: [...choices] } : {}) };
}

/** `strata terraform plan <component>`: the toolchain's verbs as commands, each taking a component. */
async function toolchainNode(kind: string, command: Command): Promise<CompletionNode> {
  const { toolchainWords } = await import('./toolchains/command.ts');
  const words = toolchainWords(kind);
  const options = words.flags.map((f) => ({
    names: [...(f.short ? [`-${f.short}`] : []), `--${f.name}`],
    ...(f.kind === 'boolean' ? {} : { value: f.name === 'stack' ? ('stack' as const) : ('any' as const) }),
  }));
  const component: ArgSpec = { value: 'component' };
  const verb = (name: string): CompletionNode => ({
    name,
    options,
    args: words.subverbs[name] ? [] : [component],
    commands: (words.subverbs[name] ?? []).map((sub) => ({ name: sub, options, args: [component], commands: [] })),
  });
  const verbs = [...new Set([...words.verbs, ...Object.keys(words.subverbs)])];
  return { name: kind, aliases: command.aliases(), kind, options, args: [], commands: verbs.map(verb) };
}

async function nodeOf(command: Command, path: string[]): Promise<CompletionNode> {
  const { FORGES } = await import('../gitops/ci.ts');
  const choicesByName = { shell: SHELLS, forge: FORGES };
  const name = command.name();
  if (TOOLCHAINS.includes(name) && path.length === 1) return toolchainNode(name, command);
  const visible = command.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  return {
    name,
    ...(command.aliases().length > 0 ? { aliases: command.aliases() } : {}),
    options: [
      ...(command.options as Option[]).filter((o) => !o.hidden).map((o) => optionSpec(o, path)),
      { names: ['-h', '--help'] },
    ],
    args: command.registeredArguments.map((a) => argSpec(a, path, choicesByName)),
    commands: await Promise.all(visible.map((c) => nodeOf(c, [...path, c.name()]))),
  };
}

/** Files and folders under `dir` (the folders too: adding or removing a file changes its folder's mtime). */
function inputsUnder(dir: string, out: Array<[string, number, number]>, depth = 0): void {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) return;
  out.push([dir, stat.size, stat.mtimeMs]);
  if (!stat.isDirectory() || depth > 8) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === '.git' || entry.name === '.terraform') continue;
    inputsUnder(join(dir, entry.name), out, depth + 1);
  }
}

/** Names from the repository, and the files they came from; empty outside a repository. */
async function repositoryValues(options: Record<string, string | undefined>) {
  const values: CompletionValues = { stacks: [], components: {}, workflows: [], manifests: [] };
  const inputs: Array<[string, number, number]> = [];
  // The working folder itself (an atmos.yaml created in it changes its mtime), and strata's own entry file (a new
  // install or build of the same version may have other commands).
  inputsUnder(process.cwd(), inputs, Number.POSITIVE_INFINITY);
  const sea = process.getBuiltinModule('node:sea')?.isSea();
  inputsUnder(sea ? process.execPath : realpathSync(process.argv[1]), inputs);
  try {
    const { openEngine } = await import('../services/engine.ts');
    const engine = await openEngine({
      configPath: options['--config'],
      basePath: options['--base-path'],
      processFunctions: false,
      processTemplates: false,
    });
    const config = engine.config;
    for (const file of config.configFiles) inputsUnder(file, inputs);
    values.stacks = await engine.stackNames();
    for (const instance of await engine.instances()) {
      if (instance.abstract) continue;
      const byStack = (values.components[instance.kind] ??= {});
      (byStack[instance.stack] ??= []).push(instance.name);
    }
    const { describeWorkflows } = await import('../workflows/index.ts');
    values.workflows = describeWorkflows(config.workflows.basePath, {
      basePath: config.basePath,
      onProblem: () => {},
    }).map((w) => ({ file: w.file.slice(0, -extname(w.file).length), name: w.workflow }));
    const { listManifests, manifestsDir } = await import('../operator/index.ts');
    values.manifests = await listManifests(manifestsDir(config));
    for (const dir of new Set([config.stacks.basePath, config.workflows.basePath, manifestsDir(config)])) {
      inputsUnder(dir, inputs);
    }
  } catch {
    // Not in a stacks repository (or a broken one): commands and flags still complete.
  }
  return { values, inputs };
}

/** Builds the cache for the current folder and writes it to `path`. */
export async function buildCompletionCache(path: string, words: string[]): Promise<CompletionCache> {
  const { buildProgram } = await import('./main.ts');
  const program = await buildProgram([]);
  const { values, inputs } = await repositoryValues(repositoryOptions(words));
  const cache: CompletionCache = { version: VERSION, inputs, tree: await nodeOf(program, []), values };
  try {
    const { writeFileAtomicSync } = await import('../util/fs.ts');
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomicSync(path, JSON.stringify(cache));
  } catch {
    // A read-only cache folder costs speed, not answers.
  }
  return cache;
}
