/**
 * Splits `strata <kind> <verb> <component> -s <stack> [native args] [-- native args]`.
 *
 * Hand-written on purpose: commander reads `-state=x` as `-s tate=x` and `-var` as `-v ar`
 * (see the notes on commander's single-dash hazard), and any generic parser would do the same. Here only the
 * exact spellings of strata's own flags are recognised; every other word keeps its place in the native args.
 */
import { UsageError } from '../../errors.ts';
import { editDistance } from '../../util/suggest.ts';

export type FlagKind = 'boolean' | 'string';

export interface FlagSpec {
  /** Long name without dashes, e.g. `stack`, `dry-run`. */
  name: string;
  kind: FlagKind;
  /** A single-letter alias such as `s` for `-s` / `-s=x` (never matches `-state`). */
  short?: string;
}

export interface SplitArgs {
  /** Positional words before the first unknown option, in order (verb, component, ...). */
  positionals: string[];
  /** strata's own flags: booleans are `true`, strings their value. */
  flags: Record<string, string | boolean>;
  /** Everything else, in the order given, including words after `--`. */
  native: string[];
}

/** Flags every toolchain command accepts (the global --config / --base-path too, wherever they appear). */
export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'stack', kind: 'string', short: 's' },
  { name: 'dry-run', kind: 'boolean' },
  { name: 'config', kind: 'string' },
  { name: 'base-path', kind: 'string' },
  { name: 'no-color', kind: 'boolean' },
];

/**
 * `maxPositionals` is how many leading bare words belong to strata (verb + component, or verb + kind +
 * component for `generate varfile vpc`); later bare words are native (`terraform import vpc -s dev addr id`).
 */
export function splitArgs(argv: string[], specs: FlagSpec[], maxPositionals: number): SplitArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const result: SplitArgs = { positionals: [], flags: {}, native: [] };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') {
      result.native.push(...argv.slice(i + 1));
      break;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      spec = byLong.get(eq === -1 ? word.slice(2) : word.slice(2, eq));
      if (eq !== -1) inline = word.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(word) || /^-[A-Za-z]=/.test(word)) {
      spec = byShort.get(word[1]);
      if (word.length > 2) inline = word.slice(3);
    }
    if (spec) {
      if (spec.kind === 'boolean') {
        if (inline !== undefined && !['true', 'false'].includes(inline)) {
          throw new UsageError(`--${spec.name} takes no value (got '${inline}')`);
        }
        result.flags[spec.name] = inline !== 'false';
        continue;
      }
      let value = inline;
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined || value === '--') {
          throw new UsageError(`--${spec.name} needs a value`, { hint: `e.g. --${spec.name} <value>` });
        }
        i++;
      }
      result.flags[spec.name] = value;
      continue;
    }
    if (!word.startsWith('-') && result.positionals.length < maxPositionals && result.native.length === 0) {
      result.positionals.push(word);
      continue;
    }
    result.native.push(word);
  }
  return result;
}

/** Finds where a command's own words start in the program's raw argv, skipping strata's global options. */
export function wordsAfterCommand(rawArgs: readonly string[], commandNames: readonly string[]): string[] {
  const valued = new Set(['--config', '--base-path']);
  for (let i = 0; i < rawArgs.length; i++) {
    const word = rawArgs[i];
    if (valued.has(word)) {
      i++;
      continue;
    }
    if (commandNames.includes(word)) return rawArgs.slice(i + 1);
  }
  return [];
}

/**
 * Refuses a `--word` (before any `--`) that is not one of strata's flags but is a near miss of one (`--dryrun`,
 * `--component`), so a typo fails at once instead of reaching the tool after init. `toolFlags` are the tool's own
 * flag names, never refused (`--state` is Terraform's, not a misspelt `--stack`).
 */
export function rejectMisspeltFlags(words: string[], specs: FlagSpec[], toolFlags: ReadonlySet<string>): void {
  const names = specs.map((s) => s.name);
  const end = words.indexOf('--');
  for (const word of end === -1 ? words : words.slice(0, end)) {
    if (!word.startsWith('--') || word === '--') continue;
    const name = word.slice(2).split('=')[0];
    if (names.includes(name) || toolFlags.has(name)) continue;
    const squashed = name.replace(/[-_]/g, '').toLowerCase();
    const near = names.find((candidate) => {
      const limit = candidate.length <= 5 ? 1 : 2;
      return candidate.replace(/-/g, '') === squashed || editDistance(name.toLowerCase(), candidate) <= limit;
    });
    if (near) throw new UsageError(`unknown flag '--${name}'`, { hint: `Did you mean '--${near}'?` });
  }
}
