/**
 * `.sops.yaml` creation rules, as sops reads them: the nearest `.sops.yaml` at or above the file's folder; the
 * first rule whose `path_regex` matches the file's path relative to that folder (a rule without one matches all).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { StrataError } from '../errors.ts';
import { yaml } from '../util/yaml-lib.ts';
import type { SopsRules } from './sops.ts';

export interface CreationRule {
  /** The .sops.yaml the rule came from and its position among the rules (1-based), for messages. */
  configFile: string;
  index: number;
  recipients: string[];
  rules: SopsRules;
}

/** The nearest `.sops.yaml` (or `.sops.yml`) from `dir` upwards, or undefined. */
export function findSopsConfig(dir: string): string | undefined {
  let current = resolve(dir);
  for (;;) {
    for (const name of ['.sops.yaml', '.sops.yml']) {
      const candidate = join(current, name);
      if (existsSync(candidate)) return candidate;
    }
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

function recipientsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  return list.map((r) => r.trim()).filter((r) => r !== '');
}

/** The creation rule for `file`, or undefined when there is no .sops.yaml or no rule matches. */
export function creationRuleFor(
  file: string,
  configFile = findSopsConfig(dirname(resolve(file))),
): CreationRule | undefined {
  if (!configFile) return undefined;
  let config: { creation_rules?: Record<string, unknown>[] } | null;
  try {
    config = yaml().parse(readFileSync(configFile, 'utf8'));
  } catch (error) {
    throw new StrataError(`cannot parse ${configFile}: ${(error as Error).message.split('\n')[0]}`, {
      location: { file: configFile },
    });
  }
  const rules = config?.creation_rules ?? [];
  const path = relative(dirname(configFile), resolve(file)).split('\\').join('/');
  for (const [i, rule] of rules.entries()) {
    const regex = typeof rule.path_regex === 'string' ? rule.path_regex : '';
    let matches: boolean;
    try {
      matches = regex === '' || new RegExp(regex).test(path);
    } catch (error) {
      throw new StrataError(
        `${configFile}: creation rule ${i + 1} has an invalid path_regex: ${(error as Error).message}`,
        {
          location: { file: configFile },
        },
      );
    }
    if (!matches) continue;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    return {
      configFile,
      index: i + 1,
      recipients: recipientsOf(rule.age),
      rules: {
        unencryptedSuffix: str(rule.unencrypted_suffix),
        encryptedSuffix: str(rule.encrypted_suffix),
        unencryptedRegex: str(rule.unencrypted_regex),
        encryptedRegex: str(rule.encrypted_regex),
        macOnlyEncrypted: rule.mac_only_encrypted === true ? true : undefined,
      },
    };
  }
  return undefined;
}
