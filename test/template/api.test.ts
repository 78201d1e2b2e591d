// Public API: parse/execute split, cache, fast path, delimiters, caller functions and Atmos-shaped rendering.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  builtinFunctions,
  clearTemplateCache,
  executeTemplate,
  hasTemplate,
  parseTemplate,
  renderTemplate,
  TemplateError,
  typed,
} from '../../src/template/index.ts';

test('renderTemplate returns text without a left delimiter unchanged (same string)', () => {
  const text = 'vars:\n  name: plain } no actions';
  assert.equal(renderTemplate(text, {}), text);
  assert.equal(renderTemplate('{{ broken', {}, { delimiters: ['[[', ']]'] }), '{{ broken');
});

test('hasTemplate checks for the left delimiter', () => {
  assert.equal(hasTemplate('a {{ .x }}'), true);
  assert.equal(hasTemplate('a { { .x }'), false);
  assert.equal(hasTemplate('a [[ .x ]]', ['[[', ']]']), true);
  assert.equal(hasTemplate('a {{ .x }}', ['[[', ']]']), false);
});

test('parse once, execute many times with different data and missingkey modes', () => {
  const tpl = parseTemplate('{{ .a }}-{{ .b }}', { name: 'pair' });
  assert.equal(tpl.name, 'pair');
  assert.equal(executeTemplate(tpl, { a: 1, b: 2 }), '1-2');
  assert.equal(executeTemplate(tpl, { a: 'x' }), 'x-<no value>');
  assert.throws(
    () => executeTemplate(tpl, { a: 'x' }, { missingkey: 'error' }),
    /template: pair:1:12: executing "pair" at <\.b>/,
  );
});

test('the cache shares parse trees by text and delimiters but keeps each call name', () => {
  clearTemplateCache();
  const a = parseTemplate('{{ .x }}', { name: 'a' });
  const b = parseTemplate('{{ .x }}', { name: 'b' });
  const c = parseTemplate('{{ .x }}', { name: 'c', delimiters: ['{{', '}}'] });
  const d = parseTemplate('{{ .x }}', { delimiters: ['[[', ']]'] });
  assert.equal(a.tree, b.tree);
  assert.equal(a.tree, c.tree);
  assert.notEqual(a.tree, d.tree);
  assert.equal(b.name, 'b');
  assert.equal(executeTemplate(d, { x: 1 }), '{{ .x }}');
  assert.throws(() => executeTemplate(b, {}, { missingkey: 'error' }), /template: b:1:3/);
});

test('a cached tree is not reused when a function it calls is no longer defined', () => {
  clearTemplateCache();
  const funcs = { shout: typed(['string'], (s: string) => `${s.toUpperCase()}!`) };
  assert.equal(renderTemplate('{{ shout .x }}', { x: 'hi' }, { funcs }), 'HI!');
  assert.throws(
    () => renderTemplate('{{ shout .x }}', { x: 'hi' }),
    (e: unknown) => e instanceof TemplateError && e.message === 'template: template:1: function "shout" not defined',
  );
});

test('caller functions: plain JS functions, typed signatures, overrides and method-style objects', () => {
  const funcs = {
    plain: (...args: unknown[]) => args.length,
    nothing: () => undefined,
    upper: (s: unknown) => `custom:${String(s)}`,
    atmos: () => ({ Component: (component: string, stack: string) => ({ vars: { component, stack } }) }),
  };
  assert.equal(
    renderTemplate('{{ plain 1 2 3 }} {{ nothing }} {{ upper "x" }}', {}, { funcs }),
    '3 <no value> custom:x',
  );
  assert.equal(renderTemplate('{{ (atmos.Component "vpc" "dev").vars.stack }}', {}, { funcs }), 'dev');
  assert.equal(renderTemplate('{{ $c := atmos.Component "vpc" "dev" }}{{ $c.vars.component }}', {}, { funcs }), 'vpc');
  // Execute-time functions override parse-time ones.
  const tpl = parseTemplate('{{ greet }}', { funcs: { greet: () => 'parse' } });
  assert.equal(executeTemplate(tpl, {}), 'parse');
  assert.equal(executeTemplate(tpl, {}, { funcs: { greet: () => 'exec' } }), 'exec');
});

test('class instances behave like Go structs: fields and methods', () => {
  class Info {
    readonly region = 'us-east-1';
    Name(): string {
      return 'vpc';
    }
    Join(sep: string, ...parts: string[]): string {
      return parts.join(sep);
    }
  }
  const data = { info: new Info() };
  assert.equal(
    renderTemplate('{{ .info.region }} {{ .info.Name }} {{ .info.Join "-" "a" "b" }}', data),
    'us-east-1 vpc a-b',
  );
  assert.throws(() => renderTemplate('{{ .info.nope }}', data), /can't evaluate field nope in type main\.Info/);
});

test('builtinFunctions lists Go builtins and the Sprig subset, and is read-only', () => {
  for (const name of ['and', 'printf', 'index', 'upper', 'toJson', 'default', 'regexReplaceAll', 'env', 'merge']) {
    assert.equal(typeof builtinFunctions[name], 'function', name);
  }
  assert.ok(Object.isFrozen(builtinFunctions));
});

test('definedTemplates lists define and block names', () => {
  const tpl = parseTemplate('{{ define "b" }}{{ end }}{{ block "a" . }}{{ end }}');
  assert.deepEqual(tpl.definedTemplates(), ['a', 'b']);
});

test('Atmos-style component section: YAML of the section rendered with the section as data', () => {
  const section = {
    vars: { namespace: 'acme', stage: 'dev', region: 'us-east-2', name: 'vpc', cidr: '10.0.0.0/16' },
    settings: { depends_on: { 1: { component: 'network', stack: '{{ .vars.namespace }}-{{ .vars.stage }}' } } },
    tags: { Name: '{{ .vars.namespace }}-{{ .vars.stage }}-{{ .vars.name }}', Region: '{{ .vars.region | upper }}' },
    backend: { key: '{{ .atmos_component }}/terraform.tfstate' },
    literal: '{{`{{ .atmos_component }}`}}',
    missing: '{{ .vars.nope }}',
    atmos_component: 'vpc',
    workspace: '{{ .vars.stage }}-{{ .vars.region }}',
  };
  const rendered = parseYaml(renderTemplate(stringifyYaml(section), section, { name: 'vpc' }));
  assert.equal(rendered.settings.depends_on[1].stack, 'acme-dev');
  assert.equal(rendered.tags.Name, 'acme-dev-vpc');
  assert.equal(rendered.tags.Region, 'US-EAST-2');
  assert.equal(rendered.backend.key, 'vpc/terraform.tfstate');
  assert.equal(rendered.literal, '{{ .atmos_component }}');
  assert.equal(rendered.missing, '<no value>');
  assert.equal(rendered.workspace, 'dev-us-east-2');
});
