/**
 * The checks of `validate stacks` beyond "everything evaluates": what runs would trip on later. Unknown keys in every
 * manifest, template references that render `<no value>`, dependencies on components that do not exist and
 * dependency cycles, workflow steps that would run a command that is none, unknown component kinds.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { ComponentInstance } from '../data/instance.ts';
import { isPlainMap } from '../data/merge.ts';
import { StrataError } from '../errors.ts';
import { contextStack, dependenciesOf } from '../stacks/dependencies.ts';
import type { StackEngine } from '../stacks/engine.ts';
import { lineOf } from '../stacks/manifests.ts';
import { closestNames } from '../util/suggest.ts';
import { COMPONENT_KEYS, MANIFEST_KEYS, unknownKeys } from '../validate/keys.ts';
import { listWorkflowFiles } from '../workflows/discover.ts';
import { readManifest, stepCommandProblem } from '../workflows/model.ts';
import { lineOfKey, type ValidationProblem } from './problems.ts';

/** Unknown keys of one parsed manifest (top level, and each component's section). */
export function manifestKeyProblems(data: unknown, file: string, kinds: Set<string>): ValidationProblem[] {
  if (!isPlainMap(data)) return [];
  const source = readFileSync(file, 'utf8');
  const problems: ValidationProblem[] = [];
  const report = (path: string, key: string, suggestion: string | undefined, where: string) =>
    problems.push({
      severity: suggestion ? 'error' : 'warning',
      file,
      line: lineOfKey(source, key),
      message: `unknown key '${path}' in ${where}`,
      hint: suggestion ? `Did you mean '${suggestion}'?` : 'strata ignores it',
    });
  for (const u of unknownKeys(data, MANIFEST_KEYS)) report(u.path, u.key, u.suggestion, 'the stack manifest');
  const components = isPlainMap(data.components) ? data.components : {};
  for (const kind of Object.keys(components)) {
    if (!kinds.has(kind)) {
      problems.push({
        severity: 'warning',
        file,
        line: lineOfKey(source, kind),
        message: `components.${kind}: '${kind}' is no component kind, so its components are not listed or run`,
        hint: `known kinds: ${[...kinds].join(', ')} (declare others under components: in atmos.yaml)`,
      });
      continue;
    }
    const byName = isPlainMap(components[kind]) ? components[kind] : {};
    for (const [name, section] of Object.entries(byName)) {
      for (const u of unknownKeys(section, COMPONENT_KEYS, `components.${kind}.${name}`))
        report(u.path, u.key, u.suggestion, `the component '${name}'`);
    }
  }
  return problems;
}

/** Strings of a value with their dotted paths. */
function strings(value: unknown, path: string, out: Array<[string, string]> = []): Array<[string, string]> {
  if (typeof value === 'string') out.push([path, value]);
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) strings(v, `${path}[${i}]`, out);
  } else if (isPlainMap(value)) for (const [k, v] of Object.entries(value)) strings(v, path ? `${path}.${k}` : k, out);
  return out;
}

function at(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isPlainMap(current)) current = current[part];
    else return undefined;
  }
  return current;
}

/**
 * Template references that resolve to nothing: Atmos (and strata, for compatibility) render them as `<no value>`;
 * validate names the reference, where it is written and the closest existing key.
 */
export function noValueProblems(engine: StackEngine, instance: ComponentInstance): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const origin = engine.origin(instance);
  for (const [path, text] of strings(instance.description, '')) {
    if (!text.includes('<no value>')) continue;
    const written = at(origin?.raw.section, path);
    const template = typeof written === 'string' ? written : text;
    const references = [...template.matchAll(/\{\{[^}]*?\.([A-Za-z0-9_.-]+)[^}]*\}\}/g)].map((m) => m[1]);
    const missing = references.find((ref) => at(instance.description, ref) === undefined) ?? references[0];
    let hint: string | undefined;
    if (missing) {
      const parent = missing.includes('.') ? missing.slice(0, missing.lastIndexOf('.')) : '';
      const siblings = parent ? at(instance.description, parent) : instance.description;
      const near = isPlainMap(siblings) ? closestNames(missing.split('.').pop() ?? '', Object.keys(siblings), 1) : [];
      hint = near.length > 0 ? `Did you mean '.${parent ? `${parent}.` : ''}${near[0]}'?` : `nothing sets .${missing}`;
    }
    const files = origin?.manifest.files ?? [];
    let location: { file?: string; line?: number } = { file: origin?.manifest.path };
    for (let i = files.length - 1; i >= 0; i--) {
      const line = lineOf(engine.reader.source(files[i].path), template.split('\n', 1)[0]);
      if (line !== undefined) {
        location = { file: files[i].path, line };
        break;
      }
    }
    problems.push({
      severity: 'error',
      stack: instance.stack,
      component: instance.name,
      ...location,
      message: `${instance.name}@${instance.stack}: ${path} renders '<no value>': ${missing ? `.${missing}` : 'a template reference'} resolves to nothing`,
      hint,
    });
  }
  return problems;
}

/**
 * A value whose template reads the value itself (`vars: {vm_name: "{{ .vars.vm_name }}"}`): the data of a template is
 * the merged section, where this very value has replaced the one it meant (a global var), so it renders itself.
 */
export function selfReferenceProblems(engine: StackEngine, instance: ComponentInstance): ValidationProblem[] {
  const origin = engine.origin(instance);
  const problems: ValidationProblem[] = [];
  for (const [path, text] of strings(origin?.raw.section, '')) {
    const escaped = path.replace(/[.[\]]/g, (c) => `\\${c}`);
    if (!new RegExp(`\\{\\{[^}]*\\.${escaped}\\b(?![.\\w-])[^}]*\\}\\}`).test(text)) continue;
    const line = origin ? lineOf(engine.reader.source(origin.manifest.path), text.split('\n', 1)[0]) : undefined;
    problems.push({
      severity: 'error',
      stack: instance.stack,
      component: instance.name,
      file: origin?.manifest.path,
      line,
      message: `${instance.name}@${instance.stack}: ${path} is '${text}', which reads ${path} itself: this value replaced the one it meant, so it renders its own template text`,
      hint: `give the source value another name (e.g. a global var or a setting) and refer to that, or drop ${path} here if the inherited value is what you want`,
    });
  }
  return problems;
}

/** Dependencies (settings.depends_on, dependencies.components) on components that do not exist, and cycles. */
export function dependencyProblems(engine: StackEngine, instances: ComponentInstance[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const key = (i: ComponentInstance) => `${i.name}@${i.stack}`;
  const byStack = new Map<string, ComponentInstance[]>();
  for (const i of instances) byStack.set(i.stack, [...(byStack.get(i.stack) ?? []), i]);
  const edges = new Map<string, string[]>();
  for (const instance of instances) {
    const targets: string[] = [];
    for (const dep of dependenciesOf(instance)) {
      const stack =
        dep.stack ?? (dep.namespace || dep.tenant || dep.environment || dep.stage ? undefined : instance.stack);
      const candidates = stack ? (byStack.get(stack) ?? []) : instances;
      const found = candidates.find(
        (c) => c.name === dep.component && (stack !== undefined || contextStack(dep, c, instance) === c.stack),
      );
      if (found) {
        targets.push(key(found));
        continue;
      }
      const near = closestNames(dep.component, new Set(candidates.map((c) => c.name)), 1);
      problems.push({
        severity: 'error',
        stack: instance.stack,
        component: instance.name,
        file: engine.origin(instance)?.manifest.path,
        message: `${key(instance)} depends on '${dep.component}'${stack ? ` in stack '${stack}'` : ''}, which does not exist`,
        hint: near.length > 0 ? `Did you mean '${near[0]}'?` : 'check settings.depends_on / dependencies.components',
      });
    }
    edges.set(key(instance), targets);
  }
  for (const cycle of findCycles(edges)) {
    problems.push({
      severity: 'error',
      message: `dependency cycle: ${cycle.join(' -> ')}`,
      hint: 'remove one of the depends_on entries that close the loop',
    });
  }
  return problems;
}

/** Each distinct cycle once, as the chain that closes it. */
function findCycles(edges: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (node: string, path: string[]) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = [...path.slice(path.indexOf(next)), next];
        const id = [...cycle.slice(0, -1)].sort().join('|');
        if (!seen.has(id)) {
          seen.add(id);
          cycles.push(cycle);
        }
      } else if (!state.has(next)) visit(next, path);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node, []);
  return cycles;
}

/** Workflow steps that would fail at run time because of their type or command. */
export function workflowProblems(engine: StackEngine): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const dir = engine.config.workflows.basePath;
  let files: string[];
  try {
    files = listWorkflowFiles(dir);
  } catch {
    return [];
  }
  for (const file of files) {
    try {
      const manifest = readManifest(file, relative(engine.config.basePath, file));
      for (const name of manifest.names) {
        try {
          for (const step of manifest.workflow(name).steps) {
            const problem = stepCommandProblem(step);
            if (problem)
              problems.push({
                severity: 'error',
                ...step.location,
                message: `workflow '${name}': ${problem.message}`,
                hint: problem.hint,
              });
          }
        } catch (error) {
          if (!(error instanceof StrataError)) throw error;
          problems.push({ severity: 'error', ...error.location, message: error.message, hint: error.hint });
        }
      }
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      // Files under the workflows folder that are no workflow manifest are not Atmos's concern either.
      if (!/must be a map with the top-level `workflows:` key/.test(error.message))
        problems.push({ severity: 'error', ...error.location, message: error.message, hint: error.hint });
    }
  }
  return problems;
}

const BACKEND_TYPES = [
  'local',
  's3',
  'gcs',
  'azurerm',
  'remote',
  'cloud',
  'http',
  'pg',
  'consul',
  'cos',
  'oss',
  'kubernetes',
  'static',
];

/** backend_type / remote_state_backend_type values no Terraform backend has (a typo sends state nowhere). */
export function backendProblems(engine: StackEngine, instance: ComponentInstance): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const key of ['backend_type', 'remote_state_backend_type'] as const) {
    const value = instance.description[key];
    if (typeof value !== 'string' || value === '' || BACKEND_TYPES.includes(value)) continue;
    problems.push({
      severity: 'error',
      stack: instance.stack,
      component: instance.name,
      file: engine.origin(instance)?.manifest.path,
      message: `${instance.name}@${instance.stack}: ${key} '${value}' is no Terraform backend type`,
      hint: `${closestNames(value, BACKEND_TYPES, 1)[0] ? `Did you mean '${closestNames(value, BACKEND_TYPES, 1)[0]}'? ` : ''}known: ${BACKEND_TYPES.join(', ')}`,
    });
  }
  return problems;
}
