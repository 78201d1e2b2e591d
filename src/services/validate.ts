/**
 * `validate stacks` and `validate component` as typed functions: problems are returned, not printed.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { globSync } from 'tinyglobby';
import { manifestsDir } from '../config/index.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { parseYaml } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import type { StackEngine } from '../stacks/engine.ts';
import { STACK_EXTENSIONS } from '../stacks/manifests.ts';
import { didYouMean } from '../util/suggest.ts';
import { checkInstanceVariables } from '../validate/variables.ts';
import { describeComponent } from './describe.ts';
import type { ValidationProblem } from './problems.ts';
import {
  backendProblems,
  dependencyProblems,
  manifestKeyProblems,
  noValueProblems,
  selfReferenceProblems,
  workflowProblems,
} from './validate-checks.ts';
import { validateConfig } from './validate-config.ts';

export type { ValidationProblem } from './problems.ts';

/**
 * `validate stacks`: every YAML file under the stacks folder parses, every stack assembles and every component
 * evaluates; problems are collected (not just the first) so one run shows them all.
 */
export async function validateStacks(
  engine: StackEngine,
  options: { stack?: string; checkVariables?: boolean } = {},
): Promise<ValidationProblem[]> {
  const problems: ValidationProblem[] = validateConfig(engine.config, { checkPaths: false });
  const record = (error: unknown) => {
    if (!(error instanceof StrataError)) throw error;
    problems.push({
      severity: 'error',
      file: error.location?.file,
      line: error.location?.line,
      col: error.location?.col,
      message: error.message,
      hint: error.hint,
    });
  };
  // Every manifest under the stacks folder, imported or not, as Atmos validates them all against its schema.
  const base = engine.config.stacks.basePath;
  const files = globSync(
    STACK_EXTENSIONS.filter((e) => !e.endsWith('.tmpl')).map((e) => `**/*${e}`),
    { cwd: base, onlyFiles: true, ignore: foldersOfOtherFiles(engine, base) },
  ).sort();
  const kinds = new Set(Object.keys(engine.config.components));
  for (const file of files) {
    try {
      const path = join(base, file);
      problems.push(...manifestKeyProblems(parseYaml(readFileSync(path, 'utf8'), path), path, kinds));
    } catch (error) {
      record(error);
    }
  }
  if (problems.some((p) => p.severity === 'error' && p.file?.startsWith(base))) return problems;
  try {
    const instances = await engine.instances(options.stack ? { stack: options.stack } : {});
    if (engine.stacksNotice) problems.push({ severity: 'warning', message: engine.stacksNotice });
    // A misspelt --stack must not validate nothing and succeed: this throws the unknown-stack error.
    if (options.stack && instances.length === 0) await engine.stackVars(options.stack);
    problems.push(...duplicateProblems(instances));
    problems.push(...missingComponentFolders(engine, instances));
    problems.push(...stackNameTemplateProblems(engine, instances));
    for (const instance of instances) {
      problems.push(
        ...noValueProblems(engine, instance),
        ...selfReferenceProblems(engine, instance),
        ...backendProblems(engine, instance),
      );
    }
    problems.push(...dependencyProblems(engine, instances));
    problems.push(...ignoredSectionProblems(instances));
    if (options.checkVariables !== false) {
      for (const instance of instances) {
        for (const problem of await checkInstanceVariables(instance))
          problems.push({ ...problem, message: `${problem.component}@${problem.stack}: ${problem.message}` });
      }
    }
  } catch (error) {
    record(error);
  }
  problems.push(...workflowProblems(engine));
  return problems;
}

/** Component sections Atmos acts on that strata passes through without acting on them. */
const IGNORED_SECTIONS: Array<[string, (d: PlainMap) => boolean, string]> = [
  ['hooks', (d) => isPlainMap(d.hooks) && Object.keys(d.hooks).length > 0, 'hooks are not run after apply'],
  [
    'source',
    (d) => (isPlainMap(d.source) ? Object.keys(d.source).length > 0 : Boolean(d.source)),
    'components are not vendored just in time; run strata vendor pull',
  ],
  [
    'dependencies.tools',
    (d) => isPlainMap(d.dependencies) && d.dependencies.tools !== undefined,
    'tools are not installed; put them on PATH',
  ],
];

/** One warning per section strata does not act on, naming the key and how many components set it. */
function ignoredSectionProblems(instances: ComponentInstance[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const [key, isSet, why] of IGNORED_SECTIONS) {
    const users = instances.filter((i) => !i.abstract && isSet(i.description as PlainMap));
    if (users.length === 0) continue;
    problems.push({
      severity: 'warning',
      message: `'${key}' is set on ${users.length} component${users.length === 1 ? '' : 's'} (first: ${users[0].name}@${users[0].stack}) and is not acted on by strata`,
      hint: why,
    });
  }
  return problems;
}

/** The workflows and operator manifests folders when they sit inside the stacks folder: they hold no stack manifests. */
function foldersOfOtherFiles(engine: StackEngine, base: string): string[] {
  return [engine.config.workflows.basePath, manifestsDir(engine.config)].flatMap((dir) => {
    const rel = relative(base, dir);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? [`${rel.split(sep).join('/')}/**`] : [];
  });
}

/** The same component in the same stack configured differently by two top-level manifests. */
function duplicateProblems(instances: ComponentInstance[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const seen = new Map<string, ComponentInstance>();
  for (const instance of instances) {
    const key = `${instance.kind}/${instance.name}@${instance.stack}`;
    const previous = seen.get(key);
    if (previous && previous.description.atmos_manifest !== instance.description.atmos_manifest) {
      if (
        JSON.stringify(previous.description.vars) !== JSON.stringify(instance.description.vars) ||
        JSON.stringify(previous.description.settings) !== JSON.stringify(instance.description.settings)
      ) {
        problems.push({
          severity: 'error',
          message: `the component '${instance.name}' in the stack '${instance.stack}' is defined differently in the manifests ${previous.description.atmos_manifest} and ${instance.description.atmos_manifest}`,
          hint: 'a component may be configured in only one top-level manifest per stack',
        });
      }
    }
    seen.set(key, instance);
  }
  return problems;
}

/** A name_template that renders nothing for a manifest (strata, like Atmos, then names the stack after the file). */
function stackNameTemplateProblems(engine: StackEngine, instances: ComponentInstance[]): ValidationProblem[] {
  const template = engine.config.stacks.nameTemplate;
  if (!template) return [];
  const reported = new Set<string>();
  const problems: ValidationProblem[] = [];
  for (const instance of instances) {
    const manifest = engine.origin(instance)?.manifest;
    if (!manifest || typeof manifest.doc.name === 'string' || instance.stack !== manifest.key) continue;
    if (reported.has(manifest.key)) continue;
    reported.add(manifest.key);
    problems.push({
      severity: 'error',
      file: manifest.path,
      message: `stacks.name_template '${template}' renders nothing usable for ${manifest.key}, so the stack is named after its file`,
      hint: 'set the vars the template reads in this manifest (or a file it imports), or give the manifest a name:',
    });
  }
  return problems;
}

/**
 * Components whose code folder does not exist (seed properties 4 and 12). A warning, not an error: Atmos does not
 * check this, and repositories that vendor their components in CI have no folders until then.
 */
function missingComponentFolders(engine: StackEngine, instances: ComponentInstance[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const reported = new Set<string>();
  for (const instance of instances) {
    if (instance.abstract || !instance.enabled || existsSync(instance.componentDir)) continue;
    const kindBase = engine.config.components[instance.kind]?.basePath;
    const folder = relative(kindBase ?? engine.config.basePath, instance.componentDir);
    const key = `${instance.kind}/${folder}@${instance.stack}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const existing =
      kindBase && existsSync(kindBase)
        ? readdirSync(kindBase, { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .map((e) => e.name)
        : [];
    problems.push({
      severity: 'warning',
      stack: instance.stack,
      component: instance.name,
      file: engine.origin(instance)?.manifest.path,
      message: `${instance.name}@${instance.stack}: the ${instance.kind} component folder '${folder}' does not exist in ${relative(engine.config.basePath, kindBase ?? '') || '.'}`,
      hint: didYouMean(folder, existing) ?? 'check metadata.component (or the component name), or vendor the component',
    });
  }
  return problems;
}

export interface ComponentValidation {
  name: string;
  schemaType: string;
  schemaPath: string;
  ok: boolean;
  skipped?: string;
  errors: string[];
}

/** `validate component <c> -s <stack>`: runs each `settings.validation` JSON Schema against the described component. */
export async function validateComponent(
  engine: StackEngine,
  component: string,
  stack: string,
  adhoc?: { schemaPath: string; schemaType: string },
): Promise<ComponentValidation[]> {
  const { description } = await describeComponent(engine, component, stack);
  const settings = description.settings as PlainMap;
  const entries: Array<[string, PlainMap]> = adhoc
    ? [['command line', { schema_type: adhoc.schemaType, schema_path: adhoc.schemaPath }]]
    : Object.entries(isPlainMap(settings.validation) ? settings.validation : {}).filter((e): e is [string, PlainMap] =>
        isPlainMap(e[1]),
      );
  const results: ComponentValidation[] = [];
  for (const [name, entry] of entries) {
    if (entry.disabled === true) continue;
    const schemaType = String(entry.schema_type ?? 'jsonschema');
    const schemaPath = String(entry.schema_path ?? '');
    if (schemaType !== 'jsonschema') {
      results.push({
        name,
        schemaType,
        schemaPath,
        ok: true,
        skipped: `${schemaType} policies are not supported by strata (no OPA engine); only jsonschema is checked`,
        errors: [],
      });
      continue;
    }
    const file = isAbsolute(schemaPath) ? schemaPath : join(engine.config.schemas.jsonschemaBasePath, schemaPath);
    if (!existsSync(file)) {
      throw new StrataError(`schema file for validation '${name}' not found: ${file}`, {
        hint: 'schema_path is relative to schemas.jsonschema.base_path in atmos.yaml',
      });
    }
    const schema = JSON.parse(readFileSync(file, 'utf8')) as PlainMap;
    const draft2020 = typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
    const ajv = draft2020
      ? new Ajv2020({ allErrors: true, strict: false })
      : new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    const data = JSON.parse(JSON.stringify(description));
    const ok = validate(data) === true;
    const errors = ok
      ? []
      : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    results.push({ name, schemaType, schemaPath, ok, errors });
  }
  return results;
}
