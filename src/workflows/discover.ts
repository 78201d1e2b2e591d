/** Finding workflow manifests and workflows under `workflows.base_path`, with Atmos's lookup rules. */
import { existsSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { StrataError } from '../errors.ts';
import { didYouMean } from '../util/suggest.ts';
import { readManifest, type Workflow, type WorkflowManifest } from './model.ts';

export interface WorkflowLocation {
  workflow: Workflow;
  manifest: WorkflowManifest;
  /** Absolute path of the manifest. */
  file: string;
  /** What to pass to `-f` to find this file again: the user's value, or the path relative to the workflows folder. */
  fileArg: string;
}

export interface DiscoverOptions {
  /** Folder that error messages show paths relative to (Atmos: the base path). Default: cwd. */
  basePath?: string;
}

/** Every .yaml/.yml manifest under the workflows folder, sorted. */
export function listWorkflowFiles(workflowsDir: string): string[] {
  if (!existsSync(workflowsDir)) return [];
  return globSync(['**/*.yaml', '**/*.yml'], { cwd: workflowsDir, absolute: true, dot: false }).sort();
}

function display(path: string, options: DiscoverOptions): string {
  const shown = relative(options.basePath ?? process.cwd(), path);
  return shown.startsWith('..') ? path : shown;
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * `-f <file>`: relative to the workflows folder, `.yaml` optional (as Atmos). strata also accepts a path relative
 * to the base path or the working directory (e.g. `-f stacks/workflows/deploy.yaml`) and an absolute path.
 */
export function resolveWorkflowFile(workflowsDir: string, file: string, options: DiscoverOptions = {}): string {
  const withExtensions = (path: string) => (extname(path) ? [path] : [`${path}.yaml`, `${path}.yml`, path]);
  const candidates = isAbsolute(file)
    ? withExtensions(file)
    : [
        ...withExtensions(join(workflowsDir, file)),
        ...withExtensions(resolve(options.basePath ?? process.cwd(), file)),
        ...withExtensions(resolve(file)),
      ];
  const found = candidates.find(isFile);
  if (found) return found;
  const expected = isAbsolute(file) ? withExtensions(file)[0] : withExtensions(join(workflowsDir, file))[0];
  const available = listWorkflowFiles(workflowsDir).map((f) => relative(workflowsDir, f));
  const suggestion = didYouMean(
    file,
    available.map((f) => f.replace(/\.ya?ml$/, '')),
  );
  throw new StrataError(
    `workflow file not found: the workflow manifest file ${display(expected, options)} does not exist`,
    {
      hint:
        suggestion ??
        (available.length > 0
          ? `manifests in ${display(workflowsDir, options)}: ${available.join(', ')}`
          : `no manifests in ${display(workflowsDir, options)} (workflows.base_path)`),
    },
  );
}

function bullets(items: string[]): string {
  return items.map((item) => `  • ${item}`).join('\n');
}

/** Finds a workflow by name in `-f <file>`, or across all manifests when no file is given (the name must be unique). */
export function findWorkflow(
  workflowsDir: string,
  name: string,
  options: DiscoverOptions & { file?: string } = {},
): WorkflowLocation {
  if (options.file !== undefined) {
    const file = resolveWorkflowFile(workflowsDir, options.file, options);
    const manifest = readManifest(file, display(file, options));
    if (!manifest.names.includes(name)) {
      const names = [...manifest.names].sort();
      throw new StrataError(`no workflow found: no workflow exists with name ${name}`, {
        details: `Available workflows in ${relative(workflowsDir, file)}:\n\n${bullets(names)}`,
        hint: didYouMean(name, names),
      });
    }
    return { workflow: manifest.workflow(name), manifest, file, fileArg: options.file };
  }

  const matches: WorkflowManifest[] = [];
  const all = new Set<string>();
  const problems: string[] = [];
  for (const file of listWorkflowFiles(workflowsDir)) {
    let manifest: WorkflowManifest;
    try {
      manifest = readManifest(file, display(file, options));
    } catch (error) {
      // One broken manifest must not hide workflows in the others; it is reported if the name is not found.
      problems.push(`${display(file, options)}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    for (const n of manifest.names) all.add(n);
    if (manifest.names.includes(name)) matches.push(manifest);
  }
  if (matches.length === 1) {
    const manifest = matches[0];
    const fileArg = relative(workflowsDir, manifest.file).replace(/\.ya?ml$/, '');
    return { workflow: manifest.workflow(name), manifest, file: manifest.file, fileArg };
  }
  if (matches.length > 1) {
    throw new StrataError(`workflow '${name}' is defined in several files`, {
      details: bullets(matches.map((m) => relative(workflowsDir, m.file))),
      hint: `choose one with -f, e.g. strata workflow ${name} -f ${relative(workflowsDir, matches[0].file).replace(/\.ya?ml$/, '')}`,
    });
  }
  const names = [...all].sort();
  const details = [
    names.length > 0 ? `Available workflows in ${display(workflowsDir, options)}:\n\n${bullets(names)}` : '',
    problems.length > 0 ? `Manifests that could not be read:\n\n${bullets(problems)}` : '',
  ].filter(Boolean);
  throw new StrataError(`no workflow found: no workflow exists with name ${name}`, {
    details: details.join('\n\n') || undefined,
    hint:
      didYouMean(name, names) ??
      (names.length === 0 ? `no workflows under ${display(workflowsDir, options)} (workflows.base_path)` : undefined),
  });
}

export interface WorkflowSummary {
  file: string;
  workflow: string;
  description?: string;
}

/** All workflows, as `describe workflows` / `list workflows` show them; `file` is relative to the workflows folder. */
export function describeWorkflows(
  workflowsDir: string,
  options: DiscoverOptions & { file?: string; onProblem?: (message: string) => void } = {},
): WorkflowSummary[] {
  const files =
    options.file !== undefined
      ? [resolveWorkflowFile(workflowsDir, options.file, options)]
      : listWorkflowFiles(workflowsDir);
  const out: WorkflowSummary[] = [];
  for (const file of files) {
    let manifest: WorkflowManifest;
    try {
      manifest = readManifest(file, display(file, options));
    } catch (error) {
      // Listing all manifests goes on past a broken one when the caller wants warnings instead of a failure.
      if (!options.onProblem || !(error instanceof StrataError)) throw error;
      options.onProblem(error.message);
      continue;
    }
    for (const name of manifest.names) {
      const description = manifest.description(name);
      out.push({ file: relative(workflowsDir, file), workflow: name, ...(description ? { description } : {}) });
    }
  }
  return out;
}
