/**
 * `validate config`: atmos.yaml / strata.yaml loads, its keys are ones Atmos knows (typos are errors), the stack
 * name settings are usable (a Go template in name_pattern, a pattern without tokens) and the folders exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { StrataConfig } from '../config/types.ts';
import { ATMOS_CONFIG_KEYS, unknownKeys } from '../validate/keys.ts';
import { lineOfKey, type ValidationProblem } from './problems.ts';

/** atmos.yaml sections Atmos acts on and strata reads but does nothing with: each is reported once. */
export const NOT_ACTED_ON = [
  'aliases',
  'containers',
  'devcontainer',
  'emulators',
  'mcp',
  'ai',
  'policies',
  'pro',
  'registries',
  'scaffolds',
  'toolchain',
];

const PATTERN_TOKENS = ['{namespace}', '{tenant}', '{environment}', '{stage}'];

/** `checkPaths: false` inside `validate stacks`, which reports missing folders per stack and component. */
export function validateConfig(config: StrataConfig, options: { checkPaths?: boolean } = {}): ValidationProblem[] {
  const file = config.configFiles[config.configFiles.length - 1];
  const source = file ? readFileSync(file, 'utf8') : '';
  const at = (key: string) => ({ file, line: file ? lineOfKey(source, key) : undefined });
  const problems: ValidationProblem[] = [];
  for (const unknown of unknownKeys(config.raw, ATMOS_CONFIG_KEYS)) {
    problems.push({
      severity: unknown.suggestion ? 'error' : 'warning',
      ...at(unknown.key),
      message: `unknown key '${unknown.path}' in the configuration`,
      hint: unknown.suggestion
        ? `Did you mean '${unknown.suggestion}'?`
        : 'strata ignores it (Atmos may know it from a newer version)',
    });
  }
  for (const key of NOT_ACTED_ON) {
    if (config.raw[key] === undefined || config.raw[key] === null) continue;
    problems.push({
      severity: 'warning',
      ...at(key),
      message: `'${key}' in the configuration is not acted on by strata`,
      hint: 'strata keeps it (describe config shows it) but does nothing with it; docs/stacks.md lists what strata does not implement',
    });
  }
  if (config.raw.profiles !== undefined) {
    problems.push({
      severity: 'warning',
      ...at('profiles'),
      message: 'profiles are not supported by strata: the configuration is read without them',
      hint: 'merge the profile you need into atmos.yaml, or import it (import: [profiles/ci.yaml])',
    });
  }
  problems.push(...stackNameProblems(config, at));
  if (options.checkPaths === false) return problems;
  if (file && !existsSync(config.stacks.basePath)) {
    problems.push({
      severity: 'warning',
      ...at('stacks'),
      message: `the stacks folder ${config.stacks.basePath} does not exist`,
      hint: 'check base_path and stacks.base_path',
    });
  }
  for (const [kind, kindConfig] of Object.entries(config.components)) {
    if (config.raw.components && kind in (config.raw.components as object) && !existsSync(kindConfig.basePath)) {
      problems.push({
        severity: 'warning',
        ...at(kind),
        message: `the ${kind} components folder ${kindConfig.basePath} does not exist`,
        hint: `check components.${kind}.base_path`,
      });
    }
  }
  return problems;
}

/** name_pattern takes `{tenant}-{stage}` tokens; a Go template there (Atmos's name_template syntax) names nothing. */
function stackNameProblems(
  config: StrataConfig,
  at: (key: string) => { file?: string; line?: number },
): ValidationProblem[] {
  const pattern = config.stacks.namePattern;
  if (!pattern || config.stacks.nameTemplate) return [];
  if (pattern.includes('{{')) {
    return [
      {
        severity: 'error',
        ...at('name_pattern'),
        message: `stacks.name_pattern '${pattern}' is a Go template; name_pattern only understands ${PATTERN_TOKENS.join(', ')} joined by '-'`,
        hint: `write name_template: "${pattern}" instead (or name_pattern: "{environment}")`,
      },
    ];
  }
  const parts = pattern.split('-');
  const unknown = parts.filter((p) => !PATTERN_TOKENS.includes(p));
  if (unknown.length === parts.length) {
    return [
      {
        severity: 'error',
        ...at('name_pattern'),
        message: `stacks.name_pattern '${pattern}' has none of the tokens ${PATTERN_TOKENS.join(', ')}: every stack would be named after its file`,
        hint: 'use e.g. "{tenant}-{environment}-{stage}", or name_template for anything else',
      },
    ];
  }
  if (unknown.length > 0) {
    return [
      {
        severity: 'warning',
        ...at('name_pattern'),
        message: `stacks.name_pattern '${pattern}': ${unknown.map((u) => `'${u}'`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} ignored (only ${PATTERN_TOKENS.join(', ')} count)`,
      },
    ];
  }
  return [];
}
