/**
 * Gomplate's namespaces (issue 19), checked against the examples in Gomplate's own documentation, and the table of
 * what is supported that docs/templates.md prints: the test fails when the two disagree.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gomplateInventory } from '../../src/template/gomplate.ts';
import { renderTemplate } from '../../src/template/index.ts';
import { repoRoot } from '../helpers/shared.ts';

const render = (text: string, data: Record<string, unknown> = {}) => renderTemplate(text, data);

/** [template, expected output]: Gomplate's documented examples first, then the ones Atmos repositories use. */
const EXAMPLES: Array<[string, string]> = [
  ['{{ regexp.Find "[a-z]{3}" "foobar"}}', 'foo'],
  ['no {{ "will not match" | regexp.Find "[0-9]" }}numbers', 'no numbers'],
  ['{{ regexp.FindAll "[a-z]{3}" "foobar" | toJson }}', '["foo","bar"]'],
  ['{{ "foo bar baz qux" | regexp.FindAll "[a-z]{3}" 3 | toJson }}', '["foo","bar","baz"]'],
  ['{{ if ("hairyhenderson" | regexp.Match `^h`) }}yes{{ end }}', 'yes'],
  ['{{ `{hello}` | regexp.QuoteMeta }}', '\\{hello\\}'],
  ['{{ regexp.Replace "(foo)bar" "$1" "foobar"}}', 'foo'],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's ${name} replacement syntax, not JS
  ['{{ regexp.Replace "(?P<first>[a-zA-Z]+) (?P<last>[a-zA-Z]+)" "${last}, ${first}" "Alan Turing"}}', 'Turing, Alan'],
  ['{{ regexp.ReplaceLiteral "(foo)bar" "$1" "foobar"}}', '$1'],
  ['{{ `foo.bar,baz` | regexp.ReplaceLiteral `\\W` `$` }}', 'foo$bar$baz'],
  ['{{ regexp.Split `[\\s,.]` "foo bar,baz.qux" | toJson }}', '["foo","bar","baz","qux"]'],
  ['{{ "foo bar.baz,qux" | regexp.Split `[\\s,.]` 3 | toJson }}', '["foo","bar","baz,qux"]'],
  ['{{ "foobarbazquxquux" | strings.Abbrev 9 }}', 'foobar...'],
  ['{{ "foobarbazquxquux" | strings.Abbrev 6 9 }}', '...baz...'],
  ['{{ strings.ReplaceAll "." "-" "172.21.1.42" }}', '172-21-1-42'],
  ['{{ "172.21.1.42" | strings.ReplaceAll "." "-" }}', '172-21-1-42'],
  ['{{ "Hello, world!" | strings.Slug }}', 'hello-world'],
  ['{{ strings.ShellQuote "it\'s a banana" }}', `'it'"'"'s a banana'`],
  ['{{ strings.Squote "it\'s a banana" }}', "'it''s a banana'"],
  ['{{ strings.Quote 500 }}', '"500"'],
  ['{{ "hello " | strings.Repeat 5 }}', 'hello hello hello hello hello '],
  ['{{strings.Title "hello, world!"}}', 'Hello, World!'],
  ['{{ "_-foo-_" | strings.Trim "_-" }}', 'foo'],
  ['{{ "hello, world" | strings.TrimPrefix "hello, " }}', 'world'],
  ['{{ "hello, world" | strings.TrimSuffix "world" }}jello', 'hello, jello'],
  ['{{ "hello, world" | strings.Trunc 5 }}', 'hello'],
  ['{{ "Hello, World!" | strings.CamelCase }}', 'HelloWorld'],
  ['{{ "hello jello" | strings.CamelCase }}', 'helloJello'],
  ['{{ "Hello, World!" | strings.SnakeCase }}', 'Hello_world'],
  ['{{ "Hello, World!" | strings.KebabCase }}', 'Hello-world'],
  ['{{ "Hello, World!" | strings.WordWrap 7 }}', 'Hello,\nWorld!'],
  ['{{ range ("foo:bar:baz" | strings.SplitN ":" 2) }}{{.}};{{end}}', 'foo;bar:baz;'],
  ['{{ strings.RuneCount "Ω" }}', '1'],
  ['{{ "foo" | strings.Indent 2 }}', '  foo'],
  ['{{ conv.ToBool "yes" }} {{ conv.ToBool "0" }}', 'true false'],
  ['{{ conv.ToInt64 "0x10" }} {{ conv.ToInt "42" }} {{ conv.ToFloat64 "3.5" }}', '16 42 3.5'],
  ['{{ conv.Join (coll.Slice "a" "b") "-" }}', 'a-b'],
  ['{{ conv.Default "x" "" }}', 'x'],
  ['{{ coll.Dict "name" "Frank" "age" 42 | toJson }}', '{"age":42,"name":"Frank"}'],
  ['{{ coll.Has (coll.Dict "a" 1) "a" }} {{ coll.Has (coll.Slice 1 2) 3 }}', 'true false'],
  ['{{ coll.Keys (coll.Dict "b" 1 "a" 2) | toJson }}', '["a","b"]'],
  ['{{ coll.Values (coll.Dict "b" 1 "a" 2) | toJson }}', '[2,1]'],
  ['{{ coll.Slice "a" "b" | coll.Append "c" | toJson }}', '["a","b","c"]'],
  ['{{ coll.Slice "a" "b" | coll.Prepend "c" | toJson }}', '["c","a","b"]'],
  ['{{ coll.Slice 1 2 2 3 | coll.Uniq | toJson }}', '[1,2,3]'],
  ['{{ coll.Slice 1 (coll.Slice 2 (coll.Slice 3)) | coll.Flatten | toJson }}', '[1,2,3]'],
  ['{{ coll.Slice 1 (coll.Slice 2 (coll.Slice 3)) | coll.Flatten 1 | toJson }}', '[1,2,[3]]'],
  ['{{ coll.Slice 4 3 2 1 | coll.Reverse | toJson }}', '[1,2,3,4]'],
  ['{{ coll.Slice "foo" "bar" "baz" | coll.Sort | toJson }}', '["bar","baz","foo"]'],
  [
    '{{ $d := coll.Dict "foo" 1 "bar" 2 }}{{ $s := coll.Dict "foo" 3 "baz" 4 }}{{ coll.Merge $d $s | toJson }}',
    '{"bar":2,"baz":4,"foo":1}',
  ],
  ['{{ coll.Dict "foo" 1 "bar" 2 "baz" 3 | coll.Pick "foo" "baz" | toJson }}', '{"baz":3,"foo":1}'],
  ['{{ coll.Dict "foo" 1 "bar" 2 "baz" 3 | coll.Omit "foo" "baz" | toJson }}', '{"bar":2}'],
  ['{{ (data.JSON `{"hello":"world"}`).hello }}', 'world'],
  ['{{ (data.YAML "hello: world").hello }}', 'world'],
  ['{{ index (data.JSONArray `[1, 2]`) 1 }}', '2'],
  ['{{ index (data.YAMLArray "- a\\n- b") 0 }}', 'a'],
  ['{{ coll.Dict "a" 1 | data.ToJSON }}', '{"a":1}'],
  ['{{ math.Add 1 2 3 }} {{ math.Sub 3 1 }} {{ math.Mul 2 3 }} {{ math.Div 7 2 }}', '6 2 6 3.5'],
  ['{{ math.Max 1 5 3 }} {{ math.Min 4 2 }} {{ math.Pow 2 8 }} {{ math.Rem 5 3 }}', '5 2 256 2'],
  ['{{ math.Ceil 5.1 }} {{ math.Floor 5.9 }} {{ math.Round 5.5 }} {{ math.Abs -3 }}', '6 5 6 3'],
  ['{{ range math.Seq 5 }}{{.}}{{ end }} {{ range math.Seq 10 0 -5 }}{{.}} {{ end }}', '12345 10 5 0 '],
  ['{{ math.IsInt 42 }} {{ math.IsFloat 4.2 }} {{ math.IsNum "foo" }}', 'true true false'],
  ['{{ path.Base "/tmp/foo" }} {{ path.Dir "/tmp/foo" }} {{ path.Ext "x.yaml" }}', 'foo /tmp .yaml'],
  ['{{ path.Join "a" "b" "c" }} {{ filepath.Clean "/tmp//foo/../bar" }}', 'a/b/c /tmp/bar'],
  ['{{ crypto.SHA1 "foo" }}', '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33'],
  ['{{ "hello world" | base64.Encode }} {{ "aGVsbG8gd29ybGQ=" | base64.Decode }}', 'aGVsbG8gd29ybGQ= hello world'],
];

for (const [template, expected] of EXAMPLES) {
  test(`gomplate: ${template}`, () => {
    assert.equal(render(template), expected);
  });
}

test('getenv reads the environment with a default when the variable is unset or empty', () => {
  process.env.STRATA_GOMPLATE_TEST = 'set';
  try {
    assert.equal(render('{{ getenv "STRATA_GOMPLATE_TEST" }}'), 'set');
    assert.equal(render('{{ getenv "STRATA_GOMPLATE_UNSET" "fallback" }}'), 'fallback');
  } finally {
    delete process.env.STRATA_GOMPLATE_TEST;
  }
});

test('a function a namespace lacks names the namespace and suggests what it has', () => {
  assert.throws(
    () => render('{{ regexp.ReplaceLiterally "a" "b" "abc" }}'),
    (error: Error & { hint?: string }) =>
      /regexp\.ReplaceLiterally is not a function strata provides/.test(error.message) &&
      /ReplaceLiteral/.test(error.hint ?? ''),
  );
});

test('Sprig wins a name both define, as in Atmos (env is Sprig’s function, not the namespace)', () => {
  process.env.STRATA_GOMPLATE_TEST = 'sprig';
  try {
    assert.equal(render('{{ env "STRATA_GOMPLATE_TEST" }}'), 'sprig');
  } finally {
    delete process.env.STRATA_GOMPLATE_TEST;
  }
});

test('docs/templates.md lists exactly the Gomplate functions strata provides', () => {
  const docs = readFileSync(join(repoRoot, 'docs', 'templates.md'), 'utf8');
  for (const [namespace, names] of Object.entries(gomplateInventory())) {
    const row = new RegExp(`^\\| \`${namespace}\` \\| (.*) \\|$`, 'm').exec(docs);
    assert.ok(row, `docs/templates.md has a row for ${namespace}`);
    const documented = [...row[1].matchAll(/`([A-Za-z0-9]+)`/g)].map((m) => m[1]).sort();
    assert.deepEqual(documented, names, `the ${namespace} row lists what the code has`);
  }
});
