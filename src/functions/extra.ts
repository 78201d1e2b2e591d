/**
 * Atmos's smaller YAML functions: `!git.*` (the repository strata runs in), `!version` (versions.lock.yaml),
 * `!labels`/`!tags` (the component's metadata), `!random`; and the ones strata does not run (cloud and emulator
 * lookups), which fail with a message naming the function instead of a YAML error.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { StrataConfig } from '../config/types.ts';
import { DEFAULT_LIMITS, LimitError, readFileBounded } from '../data/limits.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import type { YamlFunction } from '../data/yaml.ts';
import { parseYaml } from '../data/yaml.ts';
import type { StrataError } from '../errors.ts';
import { splitArgs } from './args.ts';

/** What the functions here read; a subset of FunctionContext. */
export interface ExtraContext {
  config: StrataConfig;
  section: PlainMap;
  stack: string;
  component: string;
  /** The stack's `version.track` (Atmos's managed versions), when it sets one. */
  versionTrack?: string;
}

type Fail = (message: string, hint?: string) => StrataError;
type Extra = (fn: YamlFunction, context: ExtraContext, fail: Fail) => unknown;

const argText = (fn: YamlFunction): string => (typeof fn.args === 'string' ? fn.args : fn.args.map(String).join(' '));

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** `https://github.com/org/repo.git` or `git@github.com:org/repo.git` as host, owner and name. */
function remoteParts(url: string): { host: string; owner: string; name: string } | undefined {
  const match = /^(?:[a-z+]+:\/\/)?(?:[^@/]+@)?([^/:]+)[:/](?:\d+\/)?(.+?)\/([^/]+?)(?:\.git)?\/?$/.exec(url);
  return match ? { host: match[1], owner: match[2], name: match[3] } : undefined;
}

/** A git value, or the function's default argument, or an error naming what is missing. */
function gitValue(read: (cwd: string) => string | undefined, what: string): Extra {
  return (fn, context, fail) => {
    const value = read(context.config.basePath);
    if (value) return value;
    const fallback = splitArgs(argText(fn));
    if (fallback.length > 0) return fallback.join(' ');
    throw fail(
      `cannot find the ${what} of the git repository at ${context.config.basePath}`,
      'run strata inside a git repository, or give a default: !git.root /some/path',
    );
  };
}

const remote = (cwd: string) => {
  const url = git(['config', '--get', 'remote.origin.url'], cwd);
  return url ? { url, ...remoteParts(url) } : undefined;
};

/** Parsed lock files by path; null when there is none (looked up once: templates ask for every component). */
const lockFiles = new Map<string, PlainMap | null>();

/** `versions.lock.yaml` at base_path: name -> version for one track (`default` when none is set). */
export function lockedVersions(config: StrataConfig, track: string | undefined): Record<string, string> | undefined {
  const path = join(config.basePath, 'versions.lock.yaml');
  let lock = lockFiles.get(path);
  if (lock === undefined) {
    let text: string | undefined;
    try {
      text = readFileBounded(path, DEFAULT_LIMITS.maxFileBytes, path);
    } catch (error) {
      if (error instanceof LimitError) throw error;
      text = undefined;
    }
    const parsed = text === undefined ? null : parseYaml(text, path);
    lock = text === undefined ? null : isPlainMap(parsed) ? parsed : {};
    lockFiles.set(path, lock);
  }
  if (lock === null) return undefined;
  const configured = isPlainMap(config.raw.version) ? config.raw.version.track : undefined;
  const name = track || (typeof configured === 'string' && configured) || 'default';
  const tracks = isPlainMap(lock.tracks) ? lock.tracks : {};
  const entries = isPlainMap(tracks[name]) ? tracks[name] : {};
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(entries))
    if (isPlainMap(entry) && entry.version !== undefined) out[key] = String(entry.version);
  return out;
}

const metadataOf = (context: ExtraContext): PlainMap =>
  isPlainMap(context.section.metadata) ? context.section.metadata : {};
const labelsOf = (context: ExtraContext): Record<string, string> => {
  const labels = metadataOf(context).labels;
  return isPlainMap(labels) ? Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])) : {};
};

function unsupported(why: string, hint: string): Extra {
  return (_fn, _context, fail) => {
    throw fail(why, hint);
  };
}

const cloud = unsupported(
  'AWS lookups are not supported by strata (no cloud SDK or credentials)',
  'pass the value in with !env or !exec, or read it from a component with !terraform.state',
);

export const EXTRA_FUNCTIONS: Record<string, Extra> = {
  'git.root': gitValue((cwd) => git(['rev-parse', '--show-toplevel'], cwd), 'root'),
  'git.sha': gitValue((cwd) => git(['rev-parse', 'HEAD'], cwd), 'HEAD commit'),
  'git.branch': gitValue((cwd) => git(['rev-parse', '--abbrev-ref', 'HEAD'], cwd), 'branch'),
  'git.ref': gitValue((cwd) => git(['symbolic-ref', '-q', 'HEAD'], cwd) ?? git(['rev-parse', 'HEAD'], cwd), 'ref'),
  'git.url': gitValue((cwd) => remote(cwd)?.url, 'origin URL'),
  'git.host': gitValue((cwd) => remote(cwd)?.host, 'origin host'),
  'git.owner': gitValue((cwd) => remote(cwd)?.owner, 'origin owner'),
  'git.name': gitValue((cwd) => remote(cwd)?.name, 'repository name'),
  'git.repository': gitValue((cwd) => {
    const parts = remote(cwd);
    return parts?.owner && parts.name ? `${parts.owner}/${parts.name}` : undefined;
  }, 'owner/name'),
  version(fn, context, fail) {
    const [name] = splitArgs(argText(fn));
    if (!name) throw fail('missing the name of the version', 'write !version <name>');
    const versions = lockedVersions(context.config, context.versionTrack);
    if (!versions)
      throw fail(
        `no versions.lock.yaml at ${context.config.basePath}`,
        'create the lock file (Atmos: atmos version track lock)',
      );
    const value = versions[name];
    if (value === undefined) {
      throw fail(
        `'${name}' is not in versions.lock.yaml for track '${context.versionTrack || 'default'}'`,
        `locked names: ${Object.keys(versions).join(', ') || '(none)'}`,
      );
    }
    return value;
  },
  labels(fn, context) {
    const labels = labelsOf(context);
    const [key, ...fallback] = splitArgs(argText(fn));
    if (!key) return labels;
    return labels[key] ?? (fallback.length > 0 ? fallback.join(' ') : null);
  },
  'labels.keys': (_fn, context) => Object.keys(labelsOf(context)).sort(),
  'labels.values': (_fn, context) => {
    const labels = labelsOf(context);
    return Object.keys(labels)
      .sort()
      .map((k) => labels[k]);
  },
  tags: (_fn, context) => {
    const tags = metadataOf(context).tags;
    return Array.isArray(tags) ? tags.map(String) : [];
  },
  random(fn, _context, fail) {
    const numbers = splitArgs(argText(fn)).map(Number);
    if (numbers.some((n) => !Number.isInteger(n)) || numbers.length > 2)
      throw fail('expects no argument, a maximum, or a minimum and a maximum (integers)', 'write !random 1024 65535');
    const [min, max] = numbers.length === 2 ? numbers : [0, numbers[0] ?? 65535];
    if (max < min) throw fail(`the maximum ${max} is below the minimum ${min}`);
    return randomInt(min, max + 1);
  },
  'aws.account_id': cloud,
  'aws.caller_identity_arn': cloud,
  'aws.caller_identity_user_id': cloud,
  'aws.region': cloud,
  'aws.organization_id': cloud,
  'aws.cloudformation.output': cloud,
  emulator: unsupported(
    'emulators are not supported by strata (Atmos starts local cloud emulators in containers)',
    'give the endpoint directly, or with !env',
  ),
  cel: unsupported('CEL expressions are not supported by strata', 'use a Go template or !template'),
  starlark: unsupported('Starlark functions are not supported by strata', 'use a Go template or !exec'),
  'ci.labels': unsupported('CI review labels are not supported by strata', 'pass them in with !env'),
};
