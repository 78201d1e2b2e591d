/**
 * Property tests of the stack engine through real files (seed properties 1, 2, 4, 10-13, 16): random repositories are
 * written to a temp dir and read with the library API; the expected values come from a small model of Atmos's rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYamlText } from 'yaml';
import { render } from '../../src/cli/output.ts';
import { formatError, StrataError } from '../../src/errors.ts';
import { describeComponent, describeStacks } from '../../src/services/describe.ts';
import { validateStacks } from '../../src/services/validate.ts';
import { makeRepo, withRepo } from './fixtures.ts';

const RUNS = { numRuns: 100 };
const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/**
 * The layers a component var can come from, lowest precedence first (notes/atmos-reference.md 2.1, 2.2): stack-level
 * sections are merged across files first (the importing file wins), then global < terraform < base < component <
 * overrides.
 */
const LAYERS = [
  'imported global vars',
  'stack global vars',
  'imported terraform.vars',
  'stack terraform.vars',
  'base component vars',
  'imported component vars',
  'stack component vars',
  'imported overrides',
  'stack overrides',
] as const;

function precedenceRepo(setBy: number[][]): Record<string, string> {
  // setBy[k] = the layers that set key k<k>; each writes the value `L<layer>`.
  const layer = (index: number) => {
    const out: Record<string, string> = {};
    setBy.forEach((layers, k) => {
      if (layers.includes(index)) out[`k${k}`] = `L${index}`;
    });
    return JSON.stringify(out);
  };
  const nested = (index: number) => {
    const out: Record<string, Record<string, string>> = {};
    setBy.forEach((layers, k) => {
      if (layers.includes(index)) out[`k${k}`] = { v: `L${index}` };
    });
    return JSON.stringify({ nested: out });
  };
  return {
    'stacks/catalog/globals.yaml': `vars: ${layer(0)}\nterraform:\n  vars: ${layer(2)}\n`,
    'stacks/catalog/base.yaml': `components:\n  terraform:\n    base:\n      metadata: {type: abstract}\n      vars: ${layer(4)}\n      settings: ${nested(4)}\n`,
    'stacks/catalog/app.yaml': `overrides:\n  vars: ${layer(7)}\ncomponents:\n  terraform:\n    app:\n      metadata: {inherits: [base]}\n      vars: ${layer(5)}\n      settings: ${nested(5)}\n`,
    'stacks/deploy/prod.yaml': [
      'import: [catalog/globals, catalog/base, catalog/app]',
      `vars: ${layer(1)}`,
      `settings: ${nested(1)}`,
      `terraform:\n  vars: ${layer(3)}\n  settings: ${nested(3)}`,
      `overrides:\n  vars: ${layer(8)}`,
      `components:\n  terraform:\n    app:\n      vars: ${layer(6)}\n      settings: ${nested(6)}`,
      '',
    ].join('\n'),
  };
}

test('property: merge precedence through files: global < kind < base < component < overrides; a stack file beats its imports', async () => {
  const setBy = fc.array(fc.uniqueArray(fc.integer({ min: 0, max: LAYERS.length - 1 }), { maxLength: 5 }), {
    minLength: 1,
    maxLength: 4,
  });
  await fc.assert(
    fc.asyncProperty(setBy, async (keys) => {
      await withRepo(precedenceRepo(keys), async (repo) => {
        const { description } = await describeComponent(await repo.engine(), 'app', 'deploy/prod');
        const vars = description.vars as Record<string, unknown>;
        const nested = (description.settings as { nested?: Record<string, { v: string }> }).nested ?? {};
        keys.forEach((layers, k) => {
          const winner = layers.length === 0 ? undefined : `L${Math.max(...layers)}`;
          assert.equal(vars[`k${k}`], winner, `k${k} set by ${layers.map((l) => LAYERS[l]).join(', ')}`);
          // settings have no overrides layer in this repository: the deepest of the other layers wins, key by key.
          const settingsLayers = layers.filter((l) => [1, 3, 4, 5, 6].includes(l));
          const settingsWinner = settingsLayers.length === 0 ? undefined : `L${Math.max(...settingsLayers)}`;
          assert.equal(nested[`k${k}`]?.v, settingsWinner);
        });
      });
    }),
    RUNS,
  );
});

/** A random import graph over catalog files c0..cN (each may import lower-numbered files: chains and diamonds). */
interface ImportGraph {
  files: Array<{ imports: number[]; vars: Record<string, number> }>;
  stackImports: number[];
  stackVars: Record<string, number>;
}

const varKey = fc.constantFrom('a', 'b', 'c', 'd');
const importGraph: fc.Arbitrary<ImportGraph> = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.record({
    files: fc.tuple(
      ...Array.from({ length: n }, (_, i) =>
        fc.record({
          imports:
            i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.integer({ min: 0, max: i - 1 }), { maxLength: 3 }),
          vars: fc.dictionary(varKey, fc.integer({ min: 0, max: 99 }), { maxKeys: 3 }),
        }),
      ),
    ),
    stackImports: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
    stackVars: fc.dictionary(varKey, fc.integer({ min: 100, max: 199 }), { maxKeys: 2 }),
  }),
);

function graphFiles(graph: ImportGraph): Record<string, string> {
  const files: Record<string, string> = {};
  graph.files.forEach((file, i) => {
    const imports = file.imports.length > 0 ? `import: [${file.imports.map((j) => `catalog/c${j}`).join(', ')}]\n` : '';
    files[`stacks/catalog/c${i}.yaml`] = `${imports}vars: ${JSON.stringify(file.vars)}\n`;
  });
  files['stacks/deploy/prod.yaml'] =
    `import: [${graph.stackImports.map((j) => `catalog/c${j}`).join(', ')}]\nvars: ${JSON.stringify(graph.stackVars)}\n` +
    'components:\n  terraform:\n    app: {}\n';
  return files;
}

/** The model: imports in order, each with its own imports first, then the file itself (last one wins). */
function expectedVars(graph: ImportGraph): Record<string, number> {
  const out: Record<string, number> = {};
  const visit = (i: number) => {
    for (const j of graph.files[i].imports) visit(j);
    Object.assign(out, graph.files[i].vars);
  };
  for (const i of graph.stackImports) visit(i);
  Object.assign(out, graph.stackVars);
  return out;
}

test('property: import order: a later import wins over an earlier one, the importing file wins over all', async () => {
  await fc.assert(
    fc.asyncProperty(importGraph, async (graph) => {
      await withRepo(graphFiles(graph), async (repo) => {
        const { description } = await describeComponent(await repo.engine(), 'app', 'deploy/prod');
        assert.deepEqual(description.vars, expectedVars(graph));
      });
    }),
    RUNS,
  );
});

test('property: describe is idempotent and independent of the order files were created in', async () => {
  await fc.assert(
    fc.asyncProperty(importGraph, fc.integer(), async (graph, seed) => {
      const files = graphFiles(graph);
      files['stacks/deploy/dev.yaml'] = 'import: [deploy/prod]\nvars: {stage: dev}\n';
      // Same files, created in a shuffled order in a second repository.
      const entries = Object.entries(files);
      const shuffled = entries
        .map((entry, i) => ({ entry, key: (Math.imul(i + 1, seed | 1) >>> 0) % 9973 }))
        .sort((x, y) => x.key - y.key)
        .map((x) => x.entry);
      const first = makeRepo(Object.fromEntries(entries));
      const second = makeRepo(Object.fromEntries(shuffled));
      try {
        const engine = await first.engine();
        const once = json(await describeStacks(engine));
        assert.deepEqual(json(await describeStacks(engine)), once, 'describing twice');
        assert.deepEqual(json(await describeStacks(await first.engine())), once, 're-opening the engine');
        assert.deepEqual(json(await describeStacks(await second.engine())), once, 'another creation order');
        assert.deepEqual(Object.keys(once as object), ['deploy/dev', 'deploy/prod']);
      } finally {
        first.cleanup();
        second.cleanup();
      }
    }),
    RUNS,
  );
});

const leaf = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    'yes',
    'no',
    'on',
    '~',
    'null',
    '0x1F',
    '1e3',
    '- a',
    'a: b',
    '# c',
    "it's",
    '"q"',
    '*ref',
    '&a',
    '%',
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }), tie('value'), { maxKeys: 3 }),
  ),
}));

test('property: every describe stacks / describe component output parses back as YAML and JSON to the same data', async () => {
  const repo = makeRepo({ 'components/terraform/app/main.tf': '' });
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), anyValue, { maxKeys: 4 }),
        async (vars) => {
          // JSON is YAML: writing the values as JSON keeps every string a string.
          repo.write(
            'stacks/deploy/prod.yaml',
            `components:\n  terraform:\n    app:\n      vars: ${JSON.stringify(vars)}\n`,
          );
          const engine = await repo.engine();
          for (const data of [
            json(await describeStacks(engine)),
            json((await describeComponent(engine, 'app', 'deploy/prod')).description),
          ]) {
            assert.deepEqual(parseYamlText(render(data, 'yaml')), data);
            assert.deepEqual(JSON.parse(render(data, 'json')), data);
          }
          const described = (await describeComponent(engine, 'app', 'deploy/prod')).description;
          assert.deepEqual(described.vars, json(vars));
        },
      ),
      RUNS,
    );
  } finally {
    repo.cleanup();
  }
});

type Breakage =
  | 'syntax'
  | 'indentation'
  | 'duplicate key'
  | 'unknown tag'
  | 'bad include'
  | 'missing import'
  | 'import cycle'
  | 'unknown base'
  | 'inheritance cycle';

const BREAKAGES: Breakage[] = [
  'syntax',
  'indentation',
  'duplicate key',
  'unknown tag',
  'bad include',
  'missing import',
  'import cycle',
  'unknown base',
  'inheritance cycle',
];
const SYNTAX: Breakage[] = ['syntax', 'indentation', 'duplicate key', 'unknown tag'];
const SYNTAX_LINES = ['  broken: [a, b', '  broken: "open', '  broken: {a: 1', '  - item', '  broken: a: b: c'];

/**
 * A repository whose stack imports a chain of `depth` catalog files, with one breakage in the file at `at`
 * (0 = the stack manifest). Returns the files and the path of the file the error must name.
 */
function brokenRepo(kind: Breakage, depth: number, at: number, variant: number, name: string) {
  const chainFile = (i: number) => (i === 0 ? 'stacks/deploy/prod.yaml' : `stacks/catalog/c${i}.yaml`);
  const files: Record<string, string> = {};
  for (let i = 0; i <= depth; i++) {
    const lines: string[] = [];
    const imports = i < depth ? [`catalog/c${i + 1}`] : [];
    if (i === at && kind === 'missing import') imports.push(`catalog/${name}-missing`);
    if (i === at && kind === 'import cycle') imports.push(i === 0 ? 'deploy/prod' : `catalog/c${1 + (variant % i)}`);
    if (imports.length > 0) lines.push(`import: [${imports.join(', ')}]`);
    lines.push('vars:', `  stage: prod`, `  level${i}: ${i}`);
    if (i === at && kind === 'syntax') lines.push(SYNTAX_LINES[variant % SYNTAX_LINES.length]);
    if (i === at && kind === 'indentation') lines.push(`  ${name}: 1`, `   ${name}x: 2`);
    if (i === at && kind === 'duplicate key') lines.push(`  ${name}: 1`, `  ${name}: 2`);
    if (i === at && kind === 'unknown tag') lines.push(`  ${name}: !${name}fn arg`);
    if (i === at && kind === 'bad include') {
      lines.push(`  ${name}: !include ./${name}.json`);
      files[chainFile(i).replace(/[^/]+$/, `${name}.json`)] = '{"unterminated": [1, 2';
    }
    if (i === 0 || i === at) {
      lines.push('components:', '  terraform:');
      if (i === 0) lines.push('    app:', '      vars: {}');
      if (i === at && kind === 'unknown base') lines.push(`    ${name}:`, `      metadata: {inherits: [${name}-base]}`);
      if (i === at && kind === 'inheritance cycle') {
        // A component naming itself is ignored, as in Atmos: a cycle needs two or more.
        const size = 2 + (variant % 2);
        for (let c = 0; c < size; c++)
          lines.push(`    ${name}${c}:`, `      metadata: {inherits: [${name}${(c + 1) % size}]}`);
      }
    }
    files[chainFile(i)] = `${lines.join('\n')}\n`;
  }
  // A cycle within catalog files is reported on the file that closes it; an error found while building components
  // names the top-level manifest (inheritance is resolved per stack, after imports are merged).
  const named = kind === 'unknown base' || kind === 'inheritance cycle' ? chainFile(0) : chainFile(at);
  return { files, named: named.replace(/^stacks\//, '') };
}

test('property: every bad manifest is a StrataError naming the file (and line:col for syntax errors)', async () => {
  const breakage = fc
    .record({
      kind: fc.constantFrom(...BREAKAGES),
      depth: fc.integer({ min: 0, max: 3 }),
      variant: fc.nat(100),
      name: fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/),
    })
    .chain((b) => fc.record({ at: fc.integer({ min: 0, max: b.depth }), b: fc.constant(b) }));
  await fc.assert(
    fc.asyncProperty(breakage, async ({ at, b }) => {
      // An import cycle needs a file to point back at: at depth 0 the stack imports itself.
      const { files, named } = brokenRepo(b.kind, b.depth, at, b.variant, b.name);
      await withRepo(files, async (repo) => {
        let error: unknown;
        try {
          const engine = await repo.engine();
          await describeStacks(engine);
        } catch (caught) {
          error = caught;
        }
        assert.ok(error instanceof StrataError, `${b.kind}: expected a StrataError, got ${String(error)}`);
        const text = formatError(error);
        assert.ok(text.includes(named), `${b.kind} in ${named}: the error must name the file\n${text}`);
        assert.doesNotMatch(text, /\n\s+at .*\.ts:\d+/, 'no stack trace');
        if (SYNTAX.includes(b.kind)) {
          assert.ok(error.location?.line && error.location.col, `${b.kind}: line and column\n${text}`);
          assert.match(text, new RegExp(`${named.replace('.', '\\.')}:\\d+:\\d+`));
          assert.match(text, /\n> +\d+ \| /, 'a code frame');
          // validate stacks reports the same file and position without throwing.
          const problems = await validateStacks(await repo.engine());
          assert.ok(problems.some((p) => p.file?.endsWith(named) && p.line === error.location?.line));
        }
      });
    }),
    { numRuns: 160 },
  );
});

test('property: validate stacks reports exactly the components whose folder does not exist (seed 4, 12)', async () => {
  const names = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 5 });
  await fc.assert(
    fc.asyncProperty(names, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), async (components, exists) => {
      const files: Record<string, string> = {};
      const lines = ['components:', '  terraform:'];
      components.forEach((name, i) => {
        // Half of them point at a folder of another name through metadata.component.
        const folder = i % 2 === 0 ? name : `${name}-code`;
        lines.push(`    ${name}: {metadata: {component: ${folder}}}`);
        if (exists[i]) files[`components/terraform/${folder}/main.tf`] = '';
      });
      files['stacks/deploy/prod.yaml'] = `${lines.join('\n')}\n`;
      await withRepo(files, async (repo) => {
        const problems = await validateStacks(await repo.engine());
        const missing = components.filter((_, i) => !exists[i]).sort();
        assert.deepEqual(problems.map((p) => p.component).sort(), missing);
        for (const problem of problems) {
          assert.equal(problem.severity, 'warning');
          assert.match(problem.file ?? '', /stacks\/deploy\/prod\.yaml$/);
        }
      });
    }),
    RUNS,
  );
});

const VALID_MANIFEST = [
  'import: [catalog/base]',
  'vars: {stage: prod, list: [a, b]}',
  'settings: {list_merge_strategy: append}',
  'terraform:',
  '  vars: {kind: tf}',
  '  backend_type: s3',
  '  backend: {s3: {bucket: b}}',
  'overrides:',
  '  vars: {forced: 1}',
  'components:',
  '  terraform:',
  '    app:',
  '      metadata: {inherits: [base], component: app}',
  '      vars: {x: 1, tags: !append [t]}',
  '      env: {E: "1"}',
  '',
].join('\n');
const CATALOG = 'components:\n  terraform:\n    base:\n      metadata: {type: abstract}\n      vars: {y: 2}\n';

test('property: any edit of a manifest either describes or fails with a StrataError naming the file', async () => {
  // Edits at random offsets with characters that matter to YAML and to the engine's sections.
  const edit = fc.record({
    at: fc.nat(VALID_MANIFEST.length),
    remove: fc.integer({ min: 0, max: 6 }),
    insert: fc.oneof(
      fc.constantFrom(
        '[',
        ']',
        '{',
        '}',
        '"',
        "'",
        ':',
        ': ',
        '- ',
        '\n',
        '  ',
        '\t',
        '#',
        '!',
        '&a ',
        '*a',
        '|',
        '>',
        ',',
      ),
      fc.constantFrom('null', '5', '[1]', '{}', 'x: y', '!unset', '!env', '!include ./x.yaml', 'inherits: [app]'),
    ),
  });
  const repo = makeRepo({ 'stacks/catalog/base.yaml': CATALOG });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
        let text = VALID_MANIFEST;
        for (const e of edits) {
          const at = Math.min(e.at, text.length);
          text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
        }
        repo.write('stacks/deploy/prod.yaml', text);
        try {
          const engine = await repo.engine();
          json(await describeStacks(engine));
        } catch (error) {
          assert.ok(error instanceof StrataError, `internal error for:\n${text}\n${(error as Error).stack}`);
          assert.match(
            formatError(error),
            /stacks\/(deploy\/prod|catalog\/base)\.yaml|deploy\/prod/,
            formatError(error),
          );
        }
      }),
      { numRuns: 300 },
    );
  } finally {
    repo.cleanup();
  }
});

test('property: sections of the wrong type either describe or fail with a StrataError naming the file', async () => {
  const base = (): Record<string, unknown> => ({
    import: ['catalog/base'],
    name: 'prod',
    vars: { stage: 'prod', list: ['a'] },
    settings: { list_merge_strategy: 'merge', depends_on: { 1: { component: 'base' } } },
    env: { E: '1' },
    terraform: { vars: { t: 1 }, backend_type: 's3', backend: { s3: { bucket: 'b' } }, overrides: { vars: {} } },
    overrides: { vars: { forced: 1 } },
    components: {
      terraform: {
        app: {
          metadata: { inherits: ['base'], component: 'app', type: 'real', enabled: true },
          vars: { x: 1 },
          settings: { validation: {} },
          backend: { s3: { key: 'k' } },
          command: 'tofu',
          component: 'base',
        },
      },
    },
  });
  const paths = [
    ['import'],
    ['import', '0'],
    ['name'],
    ['vars'],
    ['settings'],
    ['settings', 'list_merge_strategy'],
    ['settings', 'depends_on'],
    ['env'],
    ['terraform'],
    ['terraform', 'vars'],
    ['terraform', 'backend_type'],
    ['terraform', 'backend'],
    ['terraform', 'overrides'],
    ['overrides'],
    ['overrides', 'vars'],
    ['components'],
    ['components', 'terraform'],
    ['components', 'terraform', 'app'],
    ['components', 'terraform', 'app', 'metadata'],
    ['components', 'terraform', 'app', 'metadata', 'inherits'],
    ['components', 'terraform', 'app', 'metadata', 'inherits', '0'],
    ['components', 'terraform', 'app', 'metadata', 'component'],
    ['components', 'terraform', 'app', 'metadata', 'type'],
    ['components', 'terraform', 'app', 'metadata', 'enabled'],
    ['components', 'terraform', 'app', 'vars'],
    ['components', 'terraform', 'app', 'backend'],
    ['components', 'terraform', 'app', 'command'],
    ['components', 'terraform', 'app', 'component'],
  ];
  const wrong = fc.constantFrom<unknown>(null, 0, 7, true, 'text', '', [], [1, 'a'], {}, { path: 5 }, [{ x: 1 }]);
  const repo = makeRepo({ 'stacks/catalog/base.yaml': CATALOG });
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...paths), wrong), { minLength: 1, maxLength: 3 }),
        async (changes) => {
          const doc = base();
          for (const [path, value] of changes) {
            let node = doc as Record<string, unknown>;
            for (const key of path.slice(0, -1)) {
              if (typeof node[key] !== 'object' || node[key] === null) break;
              node = node[key] as Record<string, unknown>;
            }
            // A copy: fast-check hands out the same constant objects, and a later change could write into one.
            node[path[path.length - 1]] = structuredClone(value);
          }
          repo.write('stacks/deploy/prod.yaml', JSON.stringify(doc));
          try {
            const engine = await repo.engine();
            for (const data of [json(await describeStacks(engine, { includeEmptyStacks: true }))]) {
              assert.deepEqual(parseYamlText(render(data, 'yaml')), data);
            }
            await validateStacks(engine);
          } catch (error) {
            assert.ok(
              error instanceof StrataError,
              `internal error for:\n${JSON.stringify(doc)}\n${(error as Error).stack}`,
            );
            assert.match(formatError(error), /deploy\/prod|catalog\/base/, formatError(error));
          }
        },
      ),
      { numRuns: 300 },
    );
  } finally {
    repo.cleanup();
  }
});
