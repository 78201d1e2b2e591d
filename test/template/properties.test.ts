// Property tests (fast-check, 100+ runs each) of invariants the engine must keep for any input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { executeTemplate, parseTemplate, renderTemplate, TemplateError } from '../../src/template/index.ts';

const RUNS = { numRuns: 200 };

test('text without the left delimiter renders unchanged', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary' }).filter((s) => !s.includes('{{')),
      fc.anything(),
      (text, data) => renderTemplate(text, data) === text,
    ),
    RUNS,
  );
});

test('{{ .x }} renders any string value as itself', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (x) => {
      assert.equal(renderTemplate('{{ .x }}', { x }), x);
    }),
    RUNS,
  );
});

test('{{ toJson . }} round-trips plain JSON data through JSON.parse', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const expected = JSON.parse(JSON.stringify(value));
      assert.deepStrictEqual(JSON.parse(renderTemplate('{{ toJson . }}', value)), expected);
      assert.deepStrictEqual(JSON.parse(renderTemplate('{{ toPrettyJson . }}', value)), expected);
    }),
    RUNS,
  );
});

test('quote output parses back as a Go string literal', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const quoted = renderTemplate('{{ quote .s }}', { s });
      assert.equal(renderTemplate(`{{ ${quoted} }}`, {}), s);
    }),
    RUNS,
  );
});

test('squote output parses back as a YAML single-quoted scalar', () => {
  fc.assert(
    fc.property(
      fc.string().filter((s) => !s.includes("'")),
      (s) => {
        const quoted = renderTemplate('{{ squote .s }}', { s });
        assert.equal(parseYaml(`v: ${quoted}`).v, s);
      },
    ),
    RUNS,
  );
});

const FRAGMENTS = [
  '{{',
  '}}',
  '{{-',
  '-}}',
  ' ',
  '\n',
  '.',
  '.a',
  '.b.c',
  '$',
  '$x',
  ':=',
  '=',
  '|',
  '(',
  ')',
  ',',
  '"s"',
  '`r`',
  "'c'",
  '1',
  '-2',
  '3.5',
  '0x1F',
  'nil',
  'true',
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
  '"t"',
  'printf',
  '"%d"',
  'len',
  'index',
  'eq',
  'and',
  'upper',
  'default',
  'toJson',
  'slice',
  '/*',
  '*/',
  'text',
  '@',
  '\\',
  '"',
  'x',
];

test('parsing and executing random template-like input throws nothing but TemplateError', () => {
  const data = { a: 1, b: { c: [1, 'two'] }, s: 'str' };
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }), fc.string(), (parts, noise) => {
      const text = parts.join('') + noise;
      for (const missingkey of ['default', 'error'] as const) {
        try {
          executeTemplate(parseTemplate(text), data, { missingkey });
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          assert.ok(error.line >= 1 && error.col >= 1, 'location is set');
        }
      }
    }),
    { numRuns: 1000 },
  );
});
