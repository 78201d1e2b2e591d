// Parse and execution errors: Go's wording, line:col, the action text, and actionable hints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StrataError } from '../../src/errors.ts';
import { type RenderOptions, renderTemplate, TemplateError } from '../../src/template/index.ts';

const data = { vars: { a: 1, b: 'x', region: 'us-east-1' }, s: 'str', list: [1, 2], nil: null, n: 1, f: () => 1 };

function fails(template: string, options: RenderOptions = {}): TemplateError {
  try {
    renderTemplate(template, data, { name: 't', ...options });
  } catch (error) {
    assert.ok(error instanceof TemplateError, `expected TemplateError, got ${String(error)}`);
    assert.ok(error instanceof StrataError);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(template)} to fail`);
}

test('missing key with missingkey=error: Go message, location, expression and available keys', () => {
  const error = fails('{{ .vars.regoin }}', { missingkey: 'error' });
  assert.equal(error.message, 'template: t:1:8: executing "t" at <.vars.regoin>: map has no entry for key "regoin"');
  assert.equal(error.templateName, 't');
  assert.equal(error.line, 1);
  assert.equal(error.col, 9);
  assert.equal(error.expression, '.vars.regoin');
  assert.match(error.hint ?? '', /^available keys under \.vars: a, b, region\. Did you mean 'region'\?$/);
  assert.equal(error.location, undefined);
  assert.match(error.details ?? '', /> 1 \| \{\{ \.vars\.regoin \}\}\n\s+\|\s+\^/);
});

test('missing key on a later line counts lines and columns like Go', () => {
  const error = fails('vars:\n  x: {{ .nope }}', { missingkey: 'error' });
  assert.equal(error.message, 'template: t:2:8: executing "t" at <.nope>: map has no entry for key "nope"');
  assert.equal(error.line, 2);
  assert.equal(error.col, 9);
  assert.match(error.hint ?? '', /available keys under \.: f, list, n, nil, s, vars/);
});

test('missing key through a variable names the variable in the hint', () => {
  const error = fails('{{ $v := .vars }}{{ $v.zz }}', { missingkey: 'error' });
  assert.match(error.message, /at <\$v\.zz>: map has no entry for key "zz"$/);
  assert.match(error.hint ?? '', /^available keys under \$v: a, b, region/);
});

test('missing parent with missingkey=error', () => {
  assert.match(fails('{{ .no.deeper }}', { missingkey: 'error' }).message, /map has no entry for key "no"$/);
});

const execErrors: Array<[string, string]> = [
  [
    '{{ eq 1 "a" }}',
    'template: t:1:3: executing "t" at <eq 1 "a">: error calling eq: incompatible types for comparison',
  ],
  [
    '{{ lt true false }}',
    'template: t:1:3: executing "t" at <lt true false>: error calling lt: invalid type for comparison',
  ],
  [
    '{{ eq .n 1.5 }}',
    'template: t:1:3: executing "t" at <eq .n 1.5>: error calling eq: incompatible types for comparison',
  ],
  ['{{ lt .list 1 }}', 'template: t:1:3: executing "t" at <lt .list 1>: error calling lt: invalid type for comparison'],
  [
    '{{ eq .vars .vars }}',
    'template: t:1:3: executing "t" at <eq .vars .vars>: error calling eq: non-comparable type map[a:1 b:x region:us-east-1]: map[string]interface {}',
  ],
  ['{{ "a" "b" }}', 'template: t:1:3: executing "t" at <"a">: can\'t give argument to non-function "a"'],
  ['{{ nil }}', 'template: t:1:3: executing "t" at <nil>: nil is not a command'],
  ['{{ template "nope" }}', 'template: t:1:12: executing "t" at <{{template "nope"}}>: template "nope" not defined'],
  ['{{ upper 3 }}', 'template: t:1:9: executing "t" at <3>: wrong type for value; expected string; got int'],
  ['{{ upper }}', 'template: t:1:3: executing "t" at <upper>: wrong number of args for upper: want 1 got 0'],
  [
    '{{ printf }}',
    'template: t:1:3: executing "t" at <printf>: wrong number of args for printf: want at least 1 got 0',
  ],
  ['{{ .missing | upper }}', 'template: t:1:14: executing "t" at <upper>: invalid value; expected string'],
  [
    '{{ index .list 5 }}',
    'template: t:1:3: executing "t" at <index .list 5>: error calling index: index out of range: 5',
  ],
  [
    '{{ index .vars 1 }}',
    'template: t:1:3: executing "t" at <index .vars 1>: error calling index: value has type int; should be string',
  ],
  ['{{ len 3 }}', 'template: t:1:3: executing "t" at <len 3>: error calling len: len of type int'],
  ['{{ range 1.5 }}{{ end }}', 'template: t:1:9: executing "t" at <1.5>: range can\'t iterate over 1.5'],
  [
    '{{ range $i, $v := 3 }}{{ end }}',
    'template: t:1:19: executing "t" at <3>: can\'t use 3 to iterate over more than one variable',
  ],
  ['{{ .s.x }}', 'template: t:1:5: executing "t" at <.s.x>: can\'t evaluate field x in type string'],
  ['{{ .list.x }}', 'template: t:1:8: executing "t" at <.list.x>: can\'t evaluate field x in type []interface {}'],
  ['{{ .nil.x }}', 'template: t:1:7: executing "t" at <.nil.x>: nil pointer evaluating interface {}.x'],
  ['{{ .vars.a "arg" }}', 'template: t:1:8: executing "t" at <.vars.a>: a is not a method but has arguments'],
  [
    '{{ div 1 0 }}',
    'template: t:1:3: executing "t" at <div 1 0>: error calling div: runtime error: integer divide by zero',
  ],
  [
    '{{ .f }}',
    'template: t:1:3: executing "t" at <{{.f}}>: can\'t print {{.f}} of type func(...interface {}) interface {}',
  ],
  [
    '{{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }}',
    'template: t:1:28: executing "r" at <{{template "r"}}>: exceeded maximum template depth (1000)',
  ],
];

for (const [template, message] of execErrors) {
  test(`exec error: ${template}`, () => {
    assert.equal(fails(template).message, message);
  });
}

test('an error thrown by a function is wrapped with the function name and keeps the cause', () => {
  const boom = new Error('boom');
  const error = fails('x\n{{ explode }}', {
    funcs: {
      explode: () => {
        throw boom;
      },
    },
  });
  assert.equal(error.message, 'template: t:2:3: executing "t" at <explode>: error calling explode: boom');
  assert.equal(error.cause, boom);
});

const parseErrors: Array<[string, string]> = [
  ['{{ foo }}', 'template: t:1: function "foo" not defined'],
  ['{{ if .x }}', 'template: t:1: unexpected EOF'],
  ['{{ end }}', 'template: t:1: unexpected {{end}}'],
  ['{{ else }}', 'template: t:1: unexpected {{else}}'],
  ['{{ .s | 3 }}', 'template: t:1: non executable command in pipeline stage 2'],
  ['{{ $x }}', 'template: t:1: undefined variable "$x"'],
  ['{{ $x = 1 }}', 'template: t:1: undefined variable "$x"'],
  ['{{ if }}{{ end }}', 'template: t:1: missing value for if'],
  ['{{ }}', 'template: t:1: missing value for command'],
  ['{{ "abc }}', 'template: t:1: unterminated quoted string'],
  ['{{ `abc }}', 'template: t:1: unterminated raw quoted string'],
  ['{{ @ }}', 'template: t:1: unexpected "@" in command'],
  ['{{ 3x }}', 'template: t:1: bad number syntax: "3x"'],
  ['{{ .x!y }}', "template: t:1: bad character U+0021 '!'"],
  ['{{ (1 }}', 'template: t:1: unclosed left paren'],
  ['{{ 1) }}', 'template: t:1: unexpected ")" in command'],
  ['{{/* open', 'template: t:1: unclosed comment'],
  ['{{/* c */ x }}', 'template: t:1: comment ends before closing delimiter'],
  ['a\n\n{{ .x', 'template: t:3: unclosed action'],
  ['{{ break }}', 'template: t:1: {{break}} outside {{range}}'],
  ['{{ range .list }}{{ continue 1 }}{{ end }}', 'template: t:1: unexpected "1" in {{continue}}'],
  [
    '{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}',
    'template: t:1: template: multiple definition of template "a"',
  ],
  ['{{ if true }}{{ define "a" }}{{ end }}{{ end }}', 'template: t:1: unexpected <define> in command'],
  ['{{ range $a, $b, $c := .list }}{{ end }}', 'template: t:1: too many declarations in range'],
  ['{{ $a, $b := .list }}', 'template: t:1: too many declarations in command'],
  ['{{ "x".y }}', 'template: t:1: unexpected . after term "\\"x\\""'],
  ['{{ 08 }}', 'template: t:1: illegal number syntax: "08"'],
  ['{{ "\\q" }}', 'template: t:1: invalid syntax'],
  ['{{ template .x }}', 'template: t:1: unexpected ".x" in template clause'],
  ['{{ with .x }}{{ else if .y }}{{ end }}', 'template: t:1: unexpected <if> in input'],
];

for (const [template, message] of parseErrors) {
  test(`parse error: ${template.replaceAll('\n', '\\n')}`, () => {
    assert.equal(fails(template).message, message);
  });
}

test('unknown function: parse error with a did-you-mean hint naming close functions', () => {
  const error = fails('{{ .s | uper }}');
  assert.equal(error.message, 'template: t:1: function "uper" not defined');
  assert.match(error.hint ?? '', /'upper'/);
  assert.equal(error.col, 9);
  const custom = fails('{{ atmos_compnent }}', { funcs: { atmos_component: () => 'x' } });
  assert.match(custom.hint ?? '', /'atmos_component'/);
});

test('parse error columns point at the offending token on its line', () => {
  const error = fails('line1\n  {{ .a | nosuch }}');
  assert.equal(error.line, 2);
  assert.equal(error.col, 11);
});

test('cyclic data and absurd nesting fail with a TemplateError, not a crash', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  assert.throws(
    () => renderTemplate('{{ . }}', cyclic),
    (e: unknown) => e instanceof TemplateError && /nesting too deep/.test(e.message),
  );
  const deep = `{{ ${'('.repeat(20000)}1${')'.repeat(20000)} }}`;
  assert.throws(
    () => renderTemplate(deep, {}),
    (e: unknown) => e instanceof TemplateError && /nesting too deep/.test(e.message),
  );
});
