/**
 * Resource limits for reading stack input (docs/stacks.md, "Limits"): the engine runs in PR CI and on every
 * controller reload, so a hostile or careless stack must end in a clear error, never in a hang or gigabytes of RAM.
 * The numbers come from atmos.yaml / strata.yaml `limits:`; every one has a safe default.
 */
import { type BigIntStats, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { StrataError } from '../errors.ts';

export interface EngineLimits {
  /** Bytes per stack file and per `!include` target. */
  maxFileBytes: number;
  /** Values (maps, lists, scalars) in one parsed file once YAML aliases are expanded (billion laughs). */
  maxYamlValues: number;
  /** Nesting depth of one parsed file. */
  maxYamlDepth: number;
  /** Characters one template render may produce. */
  maxTemplateOutput: number;
  /** `range` iterations plus elements made by `until`/`seq`/`untilStep` in one render. */
  maxTemplateIterations: number;
  /** Milliseconds one template render may take (a regular expression included). */
  templateTimeoutMs: number;
  /** Files in one import chain and bases in one inheritance chain. */
  maxChainDepth: number;
  /** `!include` may read files outside the repository (CLI runs only; never in `strata serve`). */
  includeOutsideRepository: boolean;
  /** `!exec` runs during describe/list/validate too (it always runs for toolchain commands; never in serve). */
  execInDescribe: boolean;
}

export const DEFAULT_LIMITS: Readonly<EngineLimits> = Object.freeze({
  maxFileBytes: 8 * 1024 * 1024,
  maxYamlValues: 2_000_000,
  maxYamlDepth: 1000,
  maxTemplateOutput: 8 * 1024 * 1024,
  maxTemplateIterations: 1_000_000,
  templateTimeoutMs: 2000,
  maxChainDepth: 200,
  includeOutsideRepository: false,
  execInDescribe: false,
});

/** The `limits:` keys of atmos.yaml / strata.yaml and the field each sets. */
type NumericLimit = Exclude<keyof EngineLimits, 'includeOutsideRepository' | 'execInDescribe'>;
const CONFIG_KEYS: Record<string, NumericLimit> = {
  max_file_bytes: 'maxFileBytes',
  max_yaml_values: 'maxYamlValues',
  max_yaml_depth: 'maxYamlDepth',
  max_template_output: 'maxTemplateOutput',
  max_template_iterations: 'maxTemplateIterations',
  template_timeout_ms: 'templateTimeoutMs',
  max_chain_depth: 'maxChainDepth',
};
const BOOLEAN_KEYS: Record<string, 'includeOutsideRepository' | 'execInDescribe'> = {
  include_outside_repository: 'includeOutsideRepository',
  exec_in_describe: 'execInDescribe',
};

/** Limits from the config's `limits:` section over the defaults; a value that is no positive integer is an error. */
export function limitsFrom(section: unknown, file?: string): EngineLimits {
  const limits: EngineLimits = { ...DEFAULT_LIMITS };
  const unknownKey = Object.keys(isMap(section) ? section : {}).find((k) => !CONFIG_KEYS[k] && !BOOLEAN_KEYS[k]);
  if (unknownKey) {
    throw new StrataError(`unknown key limits.${unknownKey} in the configuration`, {
      location: file ? { file } : undefined,
      hint: `known: ${[...Object.keys(CONFIG_KEYS), ...Object.keys(BOOLEAN_KEYS)].join(', ')}`,
    });
  }
  if (section === undefined || section === null) return limits;
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new StrataError('limits in the configuration must be a map', { location: file ? { file } : undefined });
  }
  for (const [key, value] of Object.entries(section)) {
    const flag = BOOLEAN_KEYS[key];
    if (flag) {
      if (typeof value !== 'boolean') {
        throw new StrataError(`limits.${key} must be true or false, found ${JSON.stringify(value)}`, {
          location: file ? { file } : undefined,
        });
      }
      limits[flag] = value;
      continue;
    }
    const field = CONFIG_KEYS[key];
    if (!field) continue;
    if (!Number.isSafeInteger(value) || (value as number) <= 0) {
      throw new StrataError(`limits.${key} must be a positive whole number, found ${JSON.stringify(value)}`, {
        location: file ? { file } : undefined,
      });
    }
    limits[field] = value as number;
  }
  return limits;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class LimitError extends StrataError {}

/**
 * Reads a file as UTF-8, refusing it past `maxBytes` without reading more than one byte beyond the limit: a device
 * (`/dev/zero`), a FIFO or a huge file never ends up in memory. `what` names the file in the error. `onStat` is
 * given the stat of the file opened, taken before anything is read (the result cache's file stamps).
 */
export function readFileBounded(
  path: string,
  maxBytes: number,
  what: string,
  onStat?: (stat: BigIntStats) => void,
): string {
  // O_NONBLOCK: opening a FIFO waits for a writer otherwise, so a named pipe in the repository would hang strata.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd, { bigint: true });
    onStat?.(stat);
    const size = Number(stat.size);
    if (stat.isFIFO() || stat.isSocket()) {
      throw new LimitError(`${what} is a named pipe or socket, not a file`, {
        hint: 'strata reads only regular files (and bounded reads of devices): replace it with a file',
      });
    }
    if (stat.isFile() && size > maxBytes) throw tooBig(what, `${size} bytes, over`, maxBytes);
    const chunks: Buffer[] = [];
    let total = 0;
    // A regular file is read in one go (its size is known; a short read is its end, which saves a read per file of
    // a repository of thousands); devices and pipes in chunks up to the limit.
    const regular = stat.isFile();
    const chunk = regular ? size + 1 : 64 * 1024;
    for (;;) {
      const buffer = Buffer.allocUnsafe(Math.min(chunk, maxBytes + 1 - total));
      const read = readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) break;
      chunks.push(buffer.subarray(0, read));
      total += read;
      if (total > maxBytes) throw tooBig(what, 'over', maxBytes);
      if (regular && read < buffer.length) break;
    }
    return chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function tooBig(what: string, size: string, maxBytes: number): LimitError {
  return new LimitError(`${what} is too large: ${size} the limit of ${maxBytes} bytes (limits.max_file_bytes)`, {
    hint: 'split the file, or raise limits.max_file_bytes in atmos.yaml / strata.yaml if it is really meant to be this big',
  });
}
