import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { splitWords } from '../../src/workflows/index.ts';
import { sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { projectEnv, runCliAsync } from './helpers.ts';

// Reads Atmos's workflow fixture and goldens from ../shared (cases A27-A36 of conformance/atmos/INDEX.md).
const atmosTests = join(sharedDir, 'conformance', 'atmos', 'tests');

interface AtmosCase {
  name: string;
  args: string[];
  expect: { exit_code: number; stdout?: string[]; stderr?: string[] };
}

const CASES: Record<string, string> = {
  A27: 'atmos workflow shell pass',
  A28: 'atmos workflow failure',
  A29: 'atmos workflow failure with stack',
  A30: 'atmos workflow failure on shell command',
  A31: 'atmos workflow invalid from step',
  A32: 'atmos workflow no steps',
  A33: 'atmos workflow invalid step type',
  A34: 'atmos workflow not found',
  A35: 'atmos workflow file not found',
  A36: 'atmos workflow failure with filepath',
};

/**
 * Where strata deliberately differs from Atmos's text. Atmos prints Markdown headings ("# Error", "# Workflow
 * Error", "### Available steps:") from its UI layer; strata prints `Error: <message>` with details and a hint.
 * Atmos's step types are atmos/shell/script/exec/interactive ones; strata's are strata (alias atmos)/shell/wait/env.
 */
const UI_ONLY = [
  /^# Error$/,
  /^Workflow Error$/,
  /^### Available steps:$/,
  /^Each step must specify a valid type: 'atmos', 'shell', 'script', 'exec'$/,
];

let fixture = '';
after(() => {
  if (fixture) rmSync(fixture, { recursive: true, force: true });
});

function setup(): { cases: AtmosCase[]; dir: string } {
  if (!fixture) {
    // Run records are written under the base path: work on a copy, never inside ../shared.
    fixture = mkdtempSync(join(tmpdir(), 'strata-atmos-wf-'));
    cpSync(join(atmosTests, 'fixtures', 'scenarios', 'workflows'), fixture, { recursive: true });
  }
  const doc = parse(readFileSync(join(atmosTests, 'test-cases', 'workflows.yaml'), 'utf8')) as { tests: AtmosCase[] };
  return { cases: doc.tests, dir: fixture };
}

function golden(name: string): { stdout: string; stderr: string } {
  const base = join(atmosTests, 'snapshots', `TestCLICommands_${name.replace(/ /g, '_')}`);
  return {
    stdout: readFileSync(`${base}.stdout.golden`, 'utf8'),
    stderr: readFileSync(`${base}.stderr.golden`, 'utf8'),
  };
}

/** The indented line(s) after a heading in a golden, e.g. the failed command or the resume command. */
function blockAfter(text: string, heading: string): string | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.includes(heading));
  if (at < 0) return undefined;
  const block: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.trim() === '' && block.length === 0) continue;
    if (!line.startsWith(' ')) break;
    block.push(line.trim());
  }
  return block.join('\n');
}

// Independent cases (each writes records under its own workflow name): run a few at a time.
describe('Atmos workflow conformance (A27-A36)', { concurrency: 4 }, () => {
  for (const [id, caseName] of Object.entries(CASES)) {
    test(`${id}: ${caseName}`, { skip: skipWithoutShared }, async () => {
      const { cases, dir } = setup();
      const atmosCase = cases.find((c) => c.name === caseName);
      assert.ok(atmosCase, `case '${caseName}' not in workflows.yaml`);
      const result = await runCliAsync(atmosCase.args, { cwd: dir, env: projectEnv(dir) });
      const expected = golden(caseName);

      assert.equal(result.code, atmosCase.expect.exit_code, `exit code\n${result.stdout}\n${result.stderr}`);

      // Atmos's own regex assertions for the case, with strata's name, ignoring Atmos-only UI headings.
      for (const [stream, patterns] of [
        ['stdout', atmosCase.expect.stdout ?? []],
        ['stderr', atmosCase.expect.stderr ?? []],
      ] as const) {
        for (const pattern of patterns) {
          if (UI_ONLY.some((ui) => ui.test(pattern))) continue;
          const text = pattern
            .replace(/\batmos\b/g, 'strata')
            .replace(/^### /, '')
            .replace(/\.$/, '');
          assert.ok(
            result[stream].toLowerCase().includes(text.toLowerCase()),
            `${stream} lacks '${text}'\n--- strata ${stream}:\n${result[stream]}`,
          );
        }
      }

      // Step output on stdout is the same as Atmos's.
      if (expected.stdout.trim() !== '') assert.equal(result.stdout.trim(), expected.stdout.trim());

      // The failed command: same words (Atmos quotes the stack it appends, strata quotes only when needed).
      const failed = blockAfter(expected.stderr, 'The following command failed to execute:');
      if (failed !== undefined) {
        const ours = blockAfter(result.stderr, 'The following command failed to execute:');
        assert.ok(ours, result.stderr);
        if (failed.startsWith('atmos ')) {
          assert.deepEqual(splitWords(ours), ['strata', ...splitWords(failed).slice(1)]);
        } else {
          assert.equal(ours, failed);
        }
      }

      // The resume command: exactly Atmos's, with strata's name.
      const resume = blockAfter(expected.stderr, 'To resume the workflow from this step, run:');
      if (resume !== undefined) {
        const ours = blockAfter(result.stderr, 'To resume the workflow from this step, run:');
        assert.equal(ours?.split('\n')[0], resume.replace(/^atmos /, 'strata '));
      }

      // The list of available workflows / steps: the same names.
      const bullets = (text: string) =>
        text
          .split('\n')
          .filter((l) => l.trim().startsWith('• '))
          .map((l) => l.trim().slice(2))
          .sort();
      assert.deepEqual(bullets(result.stderr), bullets(expected.stderr));
    });
  }
});
