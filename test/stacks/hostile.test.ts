/**
 * Hostile input (issue 13): random and adversarial YAML fed to the stack engine and to the operator's manifest
 * loader always ends in a result or a StrataError, never a stack trace, in bounded time; and the hostile corpus run
 * through the CLI ends in under 5 s and 300 MB of RSS each, measured here (the figures are printed as diagnostics).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { StrataError } from '../../src/errors.ts';
import { parseManifest } from '../../src/operator/manifest.ts';
import { loadEngine } from '../../src/stacks/index.ts';
import { repoRoot } from '../helpers/shared.ts';
import { ATMOS_YAML_TEMPLATES, makeRepo } from './fixtures.ts';
import { BILLION_LAUGHS } from './hostile-inputs.ts';

const deep = (n: number) => `x: ${'['.repeat(n)}${']'.repeat(n)}\n`;

/** Pieces of YAML an attacker or a careless committer writes. */
const FRAGMENTS = [
  BILLION_LAUGHS,
  'a: &a [*a]\n',
  'x: *nothing\n',
  'vars: {x: !include.raw /dev/zero}\n',
  'vars: {x: !secret /dev/zero}\n',
  'vars: {x: !include /etc/passwd}\n',
  'vars: {x: !include ../../../../../etc/hostname .a}\n',
  'vars: {x: !exec touch /tmp/strata-fuzz-must-not-run}\n',
  'vars: {x: !env HOME}\n',
  'vars: {x: !unset}\n',
  'vars: {x: !append [1]}\n',
  'vars: {x: !!binary "%%%"}\n',
  'vars: {x: !nonsense y}\n',
  deep(5000),
  deep(200),
  `vars: {x: "${'y'.repeat(200_000)}"}\n`,
  "vars: {x: '{{ range until 100000000 }}x{{ end }}'}\n",
  `vars: {x: '{{ regexMatch "^(a+)+$" "${'a'.repeat(40)}!" }}'}\n`,
  'vars: {x: \'{{ repeat 999999999 "ab" }}\'}\n',
  'vars: {x: \'{{ template "x" }}{{ define "x" }}{{ template "x" }}{{ end }}\'}\n',
  "vars: {x: '{{ .vars.x }}{{'}\n",
  'import: [deploy/prod]\n',
  'import: [missing/file, {path: 7}]\n',
  'import: "{{ .nope }}"\n',
  'components: {terraform: {app: {metadata: {inherits: [app2]}}, app2: {metadata: {inherits: [app]}}}}\n',
  'components: {terraform: {app: {vars: [1, 2]}}}\n',
  'components: {terraform: {app: {metadata: {inherits: x}}}}\n',
  'components: {terraform: {app: {component: ../../etc}}}\n',
  'components: {terraform: {app: {vars: {a: 1}}}}\n',
  'base: &b {a: 1}\nvars: {<<: *b, c: *b}\n',
  '? [a, b]\n: c\n',
  'x: 1\nx: 2\n',
  '\tx: 1\n',
  '---\n---\n',
  '%YAML 1.1\n---\na: 1\n',
  'name: "{{ .vars.stage }}"\n',
  'overrides: {vars: {z: 1}}\nterraform: {overrides: 7}\n',
  'settings: {list_merge_strategy: nonsense}\n',
];

/** A document: fragments, random text and fragments with a character changed, in any order. */
const hostileYaml = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...FRAGMENTS) },
      { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(...FRAGMENTS), fc.nat(), fc.constantFrom('*', '&', '!', '[', '{', ':', '\n', ' ', '"'))
          .map(([text, at, char]) => {
            const i = at % Math.max(1, text.length);
            return `${text.slice(0, i)}${char}${text.slice(i + 1)}`;
          }),
      },
    ),
    { minLength: 1, maxLength: 5 },
  )
  .map((parts) => parts.join(''));

const NO_TRACE = /\n\s+at .+\(.+:\d+:\d+\)|Internal error/;

test('fuzz: hostile stack manifests give instances or a StrataError, in bounded time (fast-check, 150 runs)', async (t) => {
  const repo = makeRepo(
    { 'stacks/catalog/x.yaml': 'vars: {a: 1}\n', 'stacks/deploy/prod.yaml': '' },
    { atmos: `${ATMOS_YAML_TEMPLATES}limits:\n  template_timeout_ms: 500\n` },
  );
  let slowest = 0;
  let errors = 0;
  try {
    await fc.assert(
      fc.asyncProperty(hostileYaml, async (text) => {
        writeFileSync(join(repo.dir, 'stacks/deploy/prod.yaml'), text);
        const started = Date.now();
        try {
          // describe's context: !exec is shown, not run.
          const engine = await loadEngine({ cwd: repo.dir, env: {}, context: 'inspect' });
          const instances = await engine.instances();
          JSON.stringify(instances.map((i) => i.description));
        } catch (error) {
          if (!(error instanceof StrataError)) throw error;
          errors++;
          assert.doesNotMatch(error.message, NO_TRACE);
        }
        const ms = Date.now() - started;
        slowest = Math.max(slowest, ms);
        assert.ok(ms < 5000, `${ms} ms for ${JSON.stringify(text.slice(0, 200))}`);
      }),
      { numRuns: 150 },
    );
  } finally {
    repo.cleanup();
  }
  t.diagnostic(`150 documents, ${errors} clear errors, slowest ${slowest} ms`);
});

test('fuzz: hostile operator manifests give a manifest or a StrataError (fast-check, 300 runs)', () => {
  const manifestYaml = fc.oneof(
    hostileYaml,
    hostileYaml.map((text) => `schema_version: 2\nname: m\nnodes:\n  - name: a\n${text.replace(/^/gm, '    ')}`),
  );
  fc.assert(
    fc.property(manifestYaml, (text) => {
      const started = Date.now();
      try {
        parseManifest(text, 'fuzz.yaml');
      } catch (error) {
        if (!(error instanceof StrataError)) throw error;
        assert.doesNotMatch(error.message, NO_TRACE);
      }
      assert.ok(Date.now() - started < 5000);
    }),
    { numRuns: 300 },
  );
});

/** The hostile corpus of issue 13, each a repository for `strata describe stacks`. */
function corpus(): Array<{ name: string; files: Record<string, string>; atmos?: string }> {
  const component = (vars: string) => `components:\n  terraform:\n    app:\n      vars: {${vars}}\n`;
  const chain: Record<string, string> = { 'stacks/deploy/prod.yaml': `import: [chain/c0]\n${component('x: 1')}` };
  for (let i = 0; i < 3000; i++)
    chain[`stacks/chain/c${i}.yaml`] = `${i < 2999 ? `import: [chain/c${i + 1}]\n` : ''}vars: {v${i}: ${i}}\n`;
  const inheritance = ['components:', '  terraform:', '    b0: {vars: {v: 0}}'];
  for (let i = 1; i <= 2000; i++)
    inheritance.push(`    b${i}: {metadata: {inherits: [b${i - 1}]}, vars: {v${i}: ${i}}}`);
  const outside = `${ATMOS_YAML_TEMPLATES}limits:\n  include_outside_repository: true\n`;
  return [
    {
      name: 'billion laughs (375 bytes)',
      files: { 'stacks/deploy/prod.yaml': `${BILLION_LAUGHS}${component('x: 1')}` },
    },
    {
      name: '!include.raw /dev/zero',
      files: { 'stacks/deploy/prod.yaml': component('x: !include.raw /dev/zero') },
      atmos: outside,
    },
    {
      name: '!include of a 64 MB file',
      files: {
        'stacks/deploy/prod.yaml': component('x: !include.raw ./big.txt'),
        'stacks/deploy/big.txt': 'x'.repeat(64 * 1024 * 1024),
      },
    },
    {
      name: 'range until 100000000',
      files: { 'stacks/deploy/prod.yaml': component("x: '{{ range until 100000000 }}x{{ end }}'") },
    },
    {
      name: 'catastrophic regex',
      files: { 'stacks/deploy/prod.yaml': component(`x: '{{ regexMatch "^(a+)+$" "${'a'.repeat(50)}!" }}'`) },
    },
    { name: 'import chain of 3,000 files', files: chain },
    { name: 'inheritance 2,000 levels deep', files: { 'stacks/deploy/prod.yaml': inheritance.join('\n') } },
    { name: 'nesting 100,000 deep', files: { 'stacks/deploy/prod.yaml': `${deep(100_000)}${component('x: 1')}` } },
    { name: '!include /etc/passwd', files: { 'stacks/deploy/prod.yaml': component('x: !include /etc/passwd') } },
    { name: '!secret /dev/zero', files: { 'stacks/deploy/prod.yaml': component('x: !secret /dev/zero') } },
    {
      name: 'an import through a file as if it were a folder',
      files: { 'stacks/deploy/prod.yaml': `import: [deploy/prod.yaml/inner]\n${component('x: 1')}` },
    },
  ];
}

test('the hostile corpus ends in under 5 s and 300 MB RSS each, with a clear error and no trace (measured)', (t) => {
  for (const entry of corpus()) {
    const repo = makeRepo(entry.files, { atmos: entry.atmos ?? ATMOS_YAML_TEMPLATES });
    try {
      const started = Date.now();
      const result = spawnSync(
        process.execPath,
        [
          '--require',
          join(repoRoot, 'test/fixtures/hostile/report-rss.cjs'),
          join(repoRoot, 'bin/strata.js'),
          'describe',
          'stacks',
          '--format',
          'json',
        ],
        {
          cwd: repo.dir,
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1' },
          maxBuffer: 64 * 1024 * 1024,
          timeout: 30_000,
        },
      );
      const ms = Date.now() - started;
      const rssMb = Number(/STRATA_TEST_MAXRSS_KB=(\d+)/.exec(result.stderr)?.[1] ?? Number.NaN) / 1024;
      t.diagnostic(
        `${entry.name}: exit ${result.status}, ${ms} ms, ${rssMb.toFixed(0)} MB peak RSS: ${result.stderr.split('\n')[0]}`,
      );
      assert.equal(result.status, 1, `${entry.name}: exit ${result.status}`);
      assert.doesNotMatch(result.stderr, NO_TRACE, entry.name);
      assert.ok(ms < 5000, `${entry.name}: ${ms} ms`);
      assert.ok(rssMb < 300, `${entry.name}: ${rssMb} MB`);
    } finally {
      repo.cleanup();
    }
  }
});

test('repository files that are devices or named pipes fail at once with a clear error', (t) => {
  const tooLarge = /is too large: over the limit of 8388608 bytes/;
  const cases: Array<{ file: string; args: string[]; fifo?: boolean; error: RegExp }> = [
    { file: 'atmos.yaml', args: ['list', 'stacks'], error: tooLarge },
    { file: 'components/terraform/app/variables.tf', args: ['validate', 'stacks'], error: tooLarge },
    // Opening a FIFO waits for a writer: without care, describe would hang for ever.
    {
      file: 'stacks/deploy/pipe.txt',
      args: ['describe', 'stacks'],
      fifo: true,
      error: /stacks\/deploy\/pipe\.txt \(stacks\/deploy\/prod\.yaml: !include \.\/pipe\.txt\) is a named pipe/,
    },
  ];
  for (const { file, args, fifo, error } of cases) {
    const repo = makeRepo({
      'stacks/deploy/prod.yaml': 'components:\n  terraform:\n    app:\n      vars: {x: !include ./pipe.txt}\n',
      'stacks/deploy/pipe.txt': 'x',
      'components/terraform/app/main.tf': '',
    });
    try {
      const path = join(repo.dir, file);
      rmSync(path, { force: true });
      mkdirSync(dirname(path), { recursive: true });
      if (fifo) execFileSync('mkfifo', [path]);
      else symlinkSync('/dev/zero', path);
      const started = Date.now();
      const result = spawnSync(process.execPath, [join(repoRoot, 'bin/strata.js'), ...args], {
        cwd: repo.dir,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        timeout: 30_000,
      });
      const ms = Date.now() - started;
      t.diagnostic(`${file}: exit ${result.status}, ${ms} ms: ${result.stderr.split('\n')[0]}`);
      assert.equal(result.status, 1, `${file}: exit ${result.status}`);
      assert.match(result.stderr, error, file);
      assert.doesNotMatch(result.stderr, NO_TRACE, file);
      assert.ok(ms < 5000, `${file}: ${ms} ms`);
    } finally {
      repo.cleanup();
    }
  }
});
