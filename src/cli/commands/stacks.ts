import { isAbsolute, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { describeConfig, loadConfig } from '../../config/index.ts';
import { runJq } from '../../data/jq.ts';
import { StrataError, UsageError } from '../../errors.ts';
import { type DiagramFormat, renderDiagram } from '../../graph/render.ts';
import {
  componentDiagram,
  describeComponent,
  describeDependents,
  describeGraph,
  describeManifest,
  describeStacks,
  listComponents,
  listInstances,
  listStacks,
} from '../../services/describe.ts';
import { openReadOnlyEngine } from '../../services/engine.ts';
import type { ValidationProblem } from '../../services/validate.ts';
import type { StackEngine } from '../../stacks/engine.ts';
import { paint } from '../../util/terminal.ts';
import { jsonChunks, type OutputFormat, parseFormat, render } from '../output.ts';
import { writePieces } from '../pipes.ts';
import { type EvaluationFlags, evaluationFlags, evaluationOptions, globals, out, subcommand } from '../shared.ts';

// Loaded by the commands that use them: JSON Schema validation (ajv) and provenance (the yaml syntax tree) would
// otherwise slow every `list` and `describe`.
const validation = () => import('../../services/validate.ts');
const provenanceOf = () => import('../../stacks/provenance.ts');

/** The engine describe, list and validate read: it never writes into the repository nor runs Terraform. */
export function engineFor(cmd: Command, extra: EvaluationFlags = {}): Promise<StackEngine> {
  const g = globals(cmd);
  // describe/list/validate: `!exec` is shown, not run (docs/stacks.md, "Limits and sandboxing").
  return openReadOnlyEngine({ configPath: g.config, basePath: g.basePath, context: 'inspect', ...extra });
}

type EvaluationOpts = { processTemplates?: boolean; processFunctions?: boolean; skip?: string[] };

const csv = (value: string | undefined): string[] | undefined =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Data for printing: class instances (unevaluated functions, secret references) become their JSON form. */
function plain(data: unknown): unknown {
  return JSON.parse(JSON.stringify(data ?? null));
}

/** `-q/--query <jq>`: selects from the data before it is printed (Atmos takes yq; jq agrees on paths and `//`). */
async function queried(data: unknown, query: string | undefined, format: OutputFormat): Promise<unknown> {
  // JSON without a query is serialised once, as it is; YAML and jq need JSON's plain view first (secrets, markers).
  if (!query && format === 'json') return data ?? null;
  const value = plain(data);
  return query ? runJq(value, query, '--query') : value;
}

/** Says why nothing is listed when the repository defines no stacks (instead of printing nothing at all). */
function noticeNoStacks(engine: StackEngine): void {
  if (engine.stacksNotice) process.stderr.write(`${engine.stacksNotice}\n`);
}

/**
 * `.` or `./path` names a component by its folder, as Atmos allows from inside components/<kind>/. A folder outside
 * the component folders, or one that several components of the stack use, is a usage error (Atmos: exit 2).
 */
async function resolveComponentArgument(engine: StackEngine, component: string, stack: string): Promise<string> {
  if (!(component === '.' || component.startsWith('./') || component.startsWith('../') || isAbsolute(component)))
    return component;
  const dir = resolve(component);
  // Kinds without a base_path of their own sit at the base path itself, which holds every folder.
  const bases = Object.values(engine.config.components)
    .filter((k) => typeof k.raw.base_path === 'string' && k.raw.base_path !== '')
    .map((k) => k.basePath);
  if (!bases.some((base) => dir.startsWith(base + sep))) {
    throw new UsageError(`path '${component}' is not in a component directory (${dir})`, {
      hint: `component folders live under ${bases.map((b) => b + sep).join(', ')}`,
    });
  }
  const matches = (await engine.instances({ stack })).filter((i) => i.componentDir === dir);
  if (matches.length === 0) {
    throw new StrataError(`no component in stack '${stack}' uses the folder ${dir}`, {
      hint: `run \`strata list components -s ${stack}\` to see the stack's components`,
    });
  }
  if (matches.length > 1) {
    throw new UsageError(
      `ambiguous component path '${component}': multiple components in stack '${stack}' use ${dir}`,
      {
        details: `Matching components: ${matches.map((m) => m.name).join(', ')}`,
        hint: 'name the component instead of its folder',
      },
    );
  }
  return matches[0].name;
}

/**
 * Prints problems (file:line, message, hint) to stderr, or with `--format json|yaml` one document
 * `{valid, problems}` to stdout; fails when any is an error.
 */
function reportProblems(problems: ValidationProblem[], what: 'stacks' | 'configuration', format = 'text'): void {
  const errors = problems.filter((p) => p.severity === 'error').length;
  if (format !== 'text') process.stdout.write(render({ valid: errors === 0, problems }, parseFormat(format)));
  else {
    for (const p of problems) {
      const where = p.file ? `${p.file}${p.line ? `:${p.line}${p.col ? `:${p.col}` : ''}` : ''}: ` : '';
      const mark = p.severity === 'error' ? paint('✗', 'red', process.stderr) : paint('!', 'yellow', process.stderr);
      process.stderr.write(`${mark} ${where}${p.message}${p.hint ? `\n    hint: ${p.hint}` : ''}\n`);
    }
  }
  if (errors > 0) {
    throw new StrataError(
      `${errors} problem${errors === 1 ? '' : 's'} found in the ${what === 'stacks' ? 'stacks' : 'configuration'}`,
    );
  }
  const done = what === 'stacks' ? 'All stacks validated successfully' : 'The configuration is valid';
  process.stderr.write(`${paint('✓', 'green', process.stderr)} ${done}\n`);
}

/** `text` or a data format (checked before any work is done). */
function formatOf(value: string): string {
  return value === 'text' ? value : parseFormat(value, ['text', 'json', 'yaml']);
}

export function register(program: Command): void {
  const describe = subcommand(program, 'describe', 'Show the merged configuration of stacks, components and the CLI');
  const list = subcommand(program, 'list', 'List stacks, components and workflows');
  const validate = subcommand(program, 'validate', 'Validate stacks and components');

  describe
    .command('config')
    .description('Show the effective atmos.yaml / strata.yaml (defaults, discovery and ATMOS_* overrides applied)')
    .option('-f, --format <format>', 'json or yaml', 'json')
    .option('-q, --query <jq>', 'print only what this jq expression selects, e.g. .stacks.name_pattern')
    .action(async (opts: { format: string; query?: string }, cmd: Command) => {
      const g = globals(cmd);
      const config = describeConfig(loadConfig({ configPath: g.config, basePath: g.basePath }));
      const format = parseFormat(opts.format);
      out(render(await queried(config, opts.query, format), format));
    });

  evaluationFlags(
    describe
      .command('component')
      .description('Show the fully merged configuration of a component in a stack')
      .argument('<component>', 'component name (or `.`/a path to its folder)')
      .requiredOption('-s, --stack <stack>', 'stack name')
      .option('-f, --format <format>', 'yaml or json', 'yaml')
      .option('--type <kind>', 'component kind when the name exists in several (terraform, packer, ...)')
      .option('--provenance', 'show which file and line set each value')
      .option('-q, --query <jq>', 'print only what this jq expression selects, e.g. .vars'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  strata describe component k3s-cluster -s pve-prod\n  strata describe component vpc -s dev --format json\n  strata describe component vpc -s dev -q .vars.cidr',
    )
    .action(
      async (
        component: string,
        opts: {
          stack: string;
          format: string;
          type?: string;
          provenance?: boolean;
          query?: string;
        } & EvaluationOpts,
        cmd: Command,
      ) => {
        const format = parseFormat(opts.format);
        const engine = await engineFor(cmd, evaluationOptions(opts));
        const name = await resolveComponentArgument(engine, component, opts.stack);
        const result = await describeComponent(engine, name, opts.stack, opts.type);
        if (!opts.provenance) return out(render(await queried(result.description, opts.query, format), format));
        const { componentProvenance, renderWithProvenance } = await provenanceOf();
        const provenance = componentProvenance(engine, result.instance);
        if (format === 'json') {
          const origins = Object.fromEntries([...provenance].map(([path, o]) => [path, `${o.file}:${o.line}`]));
          return out(render(plain({ ...result.description, provenance: origins }), format));
        }
        const manifest = engine.origin(result.instance)?.manifest;
        out(renderWithProvenance(plain(result.description) as Record<string, unknown>, provenance, manifest));
      },
    );

  evaluationFlags(describe.command('stacks'))
    .description('Show every stack with its components')
    .option('-s, --stack <stack>', 'only this stack (name or manifest path)')
    .option('--components <list>', 'only these components (comma-separated)')
    .option('--component-types <list>', 'only these kinds (comma-separated)')
    .option('--sections <list>', 'only these sections, e.g. vars,settings')
    .option('--include-empty-stacks', 'also show stacks without components')
    .option('-f, --format <format>', 'yaml or json', 'yaml')
    .option('-q, --query <jq>', 'print only what this jq expression selects, e.g. ".[].components.terraform | keys"')
    .addHelpText(
      'after',
      '\nExamples:\n  strata describe stacks\n  strata describe stacks -s pve-prod --sections vars --format json',
    )
    .action(
      async (
        opts: {
          stack?: string;
          components?: string;
          componentTypes?: string;
          sections?: string;
          includeEmptyStacks?: boolean;
          format: string;
          query?: string;
        } & EvaluationOpts,
        cmd: Command,
      ) => {
        const format = parseFormat(opts.format);
        const engine = await engineFor(cmd, evaluationOptions(opts));
        const result = await describeStacks(engine, {
          stacks: opts.stack ? [opts.stack] : undefined,
          components: csv(opts.components),
          componentTypes: csv(opts.componentTypes),
          sections: csv(opts.sections),
          includeEmptyStacks: opts.includeEmptyStacks,
        });
        noticeNoStacks(engine);
        // JSON is written stack by stack: the whole text of a large repository would double the peak memory.
        if (format === 'json' && !opts.query) await writePieces(process.stdout, jsonChunks(result));
        else out(render(await queried(result, opts.query, format), format));
      },
    );

  describe
    .command('manifest')
    .description(
      'Show a top-level stack manifest merged with all its imports (strata only; before components are processed)',
    )
    .argument('<manifest>', 'manifest path relative to the stacks folder (extension optional) or stack name')
    .option('-f, --format <format>', 'yaml or json', 'yaml')
    .addHelpText('after', '\nExample:\n  strata describe manifest deploy/pve-prod --format json')
    .action(async (manifest: string, opts: { format: string }, cmd: Command) => {
      const format = parseFormat(opts.format);
      out(render(plain(await describeManifest(await engineFor(cmd), manifest)), format));
    });

  describe
    .command('locals')
    .description("Show each stack manifest's own resolved locals (file-scoped: imports keep theirs)")
    .option('-s, --stack <stack>', 'only this stack (name or manifest path)')
    .option('-f, --format <format>', 'yaml or json', 'yaml')
    .option('-q, --query <jq>', 'print only what this jq expression selects')
    .action(async (opts: { stack?: string; format: string; query?: string }, cmd: Command) => {
      const engine = await engineFor(cmd, { processFunctions: false });
      const format = parseFormat(opts.format);
      out(render(await queried(await engine.locals(opts.stack), opts.query, format), format));
    });

  describe
    .command('dependents')
    .description('Show the components that depend on a component (settings.depends_on / dependencies.components)')
    .argument('<component>')
    .requiredOption('-s, --stack <stack>', 'stack name')
    .option('-f, --format <format>', 'json or yaml', 'json')
    .action(async (component: string, opts: { stack: string; format: string }, cmd: Command) => {
      const format = parseFormat(opts.format, ['json', 'yaml']);
      const engine = await engineFor(cmd);
      out(render(await describeDependents(engine, component, opts.stack), format));
    });

  describe
    .command('graph')
    .description('Draw the dependencies between components (settings.depends_on / dependencies.components)')
    .argument('[component]', 'only this component, what it depends on and what depends on it')
    .option('-s, --stack <stack>', 'only this stack (and what it depends on or what depends on it in other stacks)')
    .option('-f, --format <format>', 'dot (Graphviz, as terraform graph), mermaid or json', 'dot')
    .addHelpText(
      'after',
      '\nAn arrow points from a dependency to the component that depends on it.\n\nExamples:\n  strata describe graph -s pve-prod | dot -Tsvg > pve-prod.svg\n  strata describe graph k3s-cluster --format mermaid',
    )
    .action(async (component: string | undefined, opts: { stack?: string; format: string }, cmd: Command) => {
      const format = parseFormat(opts.format, ['dot', 'mermaid', 'json']) as string;
      const graph = await describeGraph(await engineFor(cmd), { component, stack: opts.stack });
      if (format === 'json') out(render(graph, 'json'));
      else out(renderDiagram(componentDiagram(graph), format as DiagramFormat));
    });

  list
    .command('stacks')
    .description('List stack names')
    .option('-c, --component <component>', 'only stacks that have this component')
    .option('-f, --format <format>', 'text, json or yaml', 'text')
    .action(async (opts: { component?: string; format: string }, cmd: Command) => {
      const engine = await engineFor(cmd, { processFunctions: false });
      const names = await listStacks(engine, { component: opts.component });
      noticeNoStacks(engine);
      if (opts.format === 'text') out(names.join('\n'));
      else out(render(names, parseFormat(opts.format)));
    });

  list
    .command('components')
    .description('List components with their kind and the number of stacks that use them')
    .option('-s, --stack <stack>', 'only components of this stack')
    .option('--abstract', 'include abstract components')
    .option('-f, --format <format>', 'text, json or yaml', 'text')
    .action(async (opts: { stack?: string; abstract?: boolean; format: string }, cmd: Command) => {
      const rows = await listComponents(await engineFor(cmd, { processFunctions: false }), opts);
      if (opts.format !== 'text') return out(render(rows, parseFormat(opts.format)));
      if (!process.stdout.isTTY) return out(rows.map((r) => `${r.component}\t${r.type}\t${r.stacks}`).join('\n'));
      const width = Math.max(9, ...rows.map((r) => r.component.length));
      out(
        [
          `${'Component'.padEnd(width)}  ${'Type'.padEnd(10)}  Stacks`,
          ...rows.map((r) => `${r.component.padEnd(width)}  ${r.type.padEnd(10)}  ${r.stacks}`),
        ].join('\n'),
      );
    });

  list
    .command('instances')
    .description('List every component instance: component, stack and kind (abstract ones hidden)')
    .option('-s, --stack <stack>', 'only instances in this stack')
    .option('-f, --format <format>', 'text, json or yaml', 'text')
    .action(async (opts: { stack?: string; format: string }, cmd: Command) => {
      const engine = await engineFor(cmd, { processFunctions: false });
      const rows = await listInstances(engine, { stack: opts.stack });
      noticeNoStacks(engine);
      if (opts.format !== 'text') return out(render(rows, parseFormat(opts.format)));
      out(rows.map((r) => `${r.component}\t${r.stack}\t${r.type}`).join('\n'));
    });

  validate
    .command('config')
    .description('Check atmos.yaml / strata.yaml: it loads, its paths exist and every key is one Atmos knows')
    .option('--format <format>', 'text (problems on stderr), json or yaml: {valid, problems} on stdout', 'text')
    .action(async (opts: { format: string }, cmd: Command) => {
      const g = globals(cmd);
      const { validateConfig } = await import('../../services/validate-config.ts');
      const problems = validateConfig(loadConfig({ configPath: g.config, basePath: g.basePath }));
      reportProblems(problems, 'configuration', formatOf(opts.format));
    });

  // As Atmos's, validate stacks only merges: YAML functions run only when asked (--process-functions=true).
  evaluationFlags(validate.command('stacks'), false)
    .description('Check that every manifest parses, every import resolves and every component merges')
    .option('--stack <stack>', 'only this stack')
    .option('--no-check-variables', "skip comparing vars with the components' declared variables")
    .option('--format <format>', 'text (problems on stderr), json or yaml: {valid, problems} on stdout', 'text')
    .action(
      async (opts: { stack?: string; checkVariables: boolean; format: string } & EvaluationOpts, cmd: Command) => {
        const format = formatOf(opts.format);
        const { validateStacks } = await validation();
        const engine = await engineFor(cmd, evaluationOptions(opts, false));
        reportProblems(await validateStacks(engine, opts), 'stacks', format);
      },
    );

  validate
    .command('component')
    .description("Validate a component's configuration against the JSON Schemas in settings.validation")
    .argument('<component>', 'component name (or `.`/a path to its folder)')
    .requiredOption('-s, --stack <stack>', 'stack name')
    .option('--schema-path <path>', 'validate against this schema instead of settings.validation')
    .option('--schema-type <type>', 'schema type for --schema-path', 'jsonschema')
    .option('--format <format>', 'text (problems on stderr), json or yaml: {valid, results} on stdout', 'text')
    .action(
      async (
        component: string,
        opts: { stack: string; schemaPath?: string; schemaType: string; format: string },
        cmd: Command,
      ) => {
        const format = formatOf(opts.format);
        const { validateComponent } = await validation();
        const engine = await engineFor(cmd);
        const results = await validateComponent(
          engine,
          await resolveComponentArgument(engine, component, opts.stack),
          opts.stack,
          opts.schemaPath ? { schemaPath: opts.schemaPath, schemaType: opts.schemaType } : undefined,
        );
        for (const r of results.filter((x) => x.skipped))
          process.stderr.write(`${paint('!', 'yellow', process.stderr)} ${r.name}: ${r.skipped}\n`);
        const failed = results.filter((r) => !r.ok);
        if (format !== 'text') out(render({ valid: failed.length === 0, results }, parseFormat(format)));
        if (failed.length === 0) {
          process.stderr.write(`${paint('✓', 'green', process.stderr)} Component validated successfully\n`);
          return;
        }
        if (format === 'text')
          process.stderr.write(`${paint('✗', 'red', process.stderr)} Component validation failed\n`);
        throw new StrataError(`component '${component}' in stack '${opts.stack}' failed validation`, {
          details: failed
            .map((f) => `${f.name} (${f.schemaPath}):\n${f.errors.map((e) => `  - ${e}`).join('\n')}`)
            .join('\n'),
        });
      },
    );
}
