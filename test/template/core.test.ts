// Table tests of Go text/template semantics; expected outputs are what Go's text/template prints for the same input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RenderOptions, renderTemplate } from '../../src/template/index.ts';

const data = {
  name: 'n',
  list: [1, 2],
  words: ['a', 'b', 'c'],
  empty: [],
  emptyMap: {},
  m: { b: 2, a: 1, c: 3 },
  s: 'str',
  zero: 0,
  nil: null,
  nested: { a: [1, { b: null }] },
  objs: [{ name: 'first' }],
  f: 1.5,
};

type Case = [title: string, template: string, expected: string, input?: unknown, options?: RenderOptions];

function run(cases: Case[]): void {
  for (const [title, template, expected, input, options] of cases) {
    test(title, () => {
      assert.equal(renderTemplate(template, input === undefined ? data : input, options), expected);
    });
  }
}

run([
  // Trim markers and comments (Go's doc example: "{{23 -}} < {{- 45}}" is "23<45").
  ['trim markers', '{{23 -}} < {{- 45}}', '23<45'],
  ['trim spans newlines and CRLF', 'a \r\n\t{{- "x" -}} \r\n b', 'axb'],
  ['minus without space is a number', '{{-3}}', '-3'],
  ['comment', 'a{{/* a comment */}}b', 'ab'],
  ['trimmed comment', 'x  {{- /* c */ -}}  y', 'xy'],
  ['multi-line comment', 'a{{/* line1\nline2 */}}b', 'ab'],
  // Literals
  ['string escapes', '{{ "a\\tb\\u00e9\\x41" }}', 'a\tbéA'],
  ['raw string', '{{ `a\\n{{ .x }}` }}', 'a\\n{{ .x }}'],
  ['escaped template (Atmos pattern)', '{{`{{ .atmos_component }}`}}', '{{ .atmos_component }}'],
  ['char constant is a number', "{{ 'a' }} {{ '\\n' }}", '97 10'],
  ['hex, octal, binary, underscores', '{{ 0x1F }} {{ 017 }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }}', '31 15 15 5 1000'],
  [
    'floats print like %v',
    '{{ 1.5 }} {{ -1.5e-7 }} {{ 0.000012 }} {{ 123456789.5 }}',
    '1.5 -1.5e-07 1.2e-05 1.234567895e+08',
  ],
  ['bools and nil argument', '{{ true }} {{ false }} {{ print nil }}', 'true false <nil>'],
  // Printing values like fmt's %v
  ['maps sorted by key', '{{ .m }}', 'map[a:1 b:2 c:3]'],
  ['lists', '{{ .words }} {{ .empty }} {{ .emptyMap }}', '[a b c] [] map[]'],
  ['nested values and nil inside', '{{ .nested }}', 'map[a:[1 map[b:<nil>]]]'],
  ['missing key and nil print <no value>', '{{ .missing }} {{ .nil }}', '<no value> <no value>'],
  ['dot is the data', '{{ . }}', 'x', 'x'],
  ['integers stay integers', '{{ .n }}', '3', { n: 3 }],
  // Fields, variables, chains
  ['field chain', '{{ .objs }}', '[map[name:first]]'],
  ['chain on parenthesised pipeline', '{{ (index .objs 0).name }}', 'first'],
  ['variable field chain', '{{ $o := index .objs 0 }}{{ $o.name }}', 'first'],
  ['missing under missing is <no value>', '{{ .missing.deeper.still }}', '<no value>'],
  ['declaration prints nothing', '{{ $x := "a" }}[{{ $x }}]', '[a]'],
  ['$ is the root inside range', '{{ range .list }}{{ $.name }}{{ end }}', 'nn'],
  ['inner declaration shadows until end', '{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}', '21'],
  ['assignment changes the outer variable', '{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}', '2'],
  ['assignment inside range', '{{ $n := 0 }}{{ range .words }}{{ $n = add $n 1 }}{{ end }}{{ $n }}', '3'],
  ['pipeline result is the last argument', '{{ "x" | printf "%s-%s" "a" }}', 'a-x'],
  ['multi-stage pipeline', '{{ .s | upper | printf "<%s>" }}', '<STR>'],
  ['parenthesised arguments', '{{ printf "%d-%d" (len .list) (add 1 2) }}', '2-3'],
  // if / else if / with / else with
  ['if else if else', '{{ if eq .zero 1 }}a{{ else if eq .zero 0 }}b{{ else }}c{{ end }}', 'b'],
  [
    'falsy values',
    '{{ if 0 }}1{{ end }}{{ if "" }}2{{ end }}{{ if .empty }}3{{ end }}{{ if .emptyMap }}4{{ end }}{{ if .nil }}5{{ end }}{{ if false }}6{{ end }}{{ if .missing }}7{{ end }}',
    '',
  ],
  [
    'truthy values',
    '{{ if 1 }}1{{ end }}{{ if "a" }}2{{ end }}{{ if .list }}3{{ end }}{{ if .m }}4{{ end }}{{ if -0.5 }}5{{ end }}',
    '12345',
  ],
  ['with sets dot', '{{ with .m }}{{ .a }}{{ end }}', '1'],
  ['with else', '{{ with .missing }}yes{{ else }}no{{ end }}', 'no'],
  ['else with', '{{ with .missing }}a{{ else with .s }}b={{ . }}{{ else }}c{{ end }}', 'b=str'],
  ['with declaration', '{{ with $v := .s }}{{ $v }}{{ . }}{{ end }}', 'strstr'],
  // range
  ['range over list', '{{ range .words }}{{ . }}{{ end }}', 'abc'],
  ['range index and element', '{{ range $i, $e := .words }}{{ $i }}{{ $e }}{{ end }}', '0a1b2c'],
  ['range over map in key order', '{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}', 'a=1;b=2;c=3;'],
  ['range one variable over map is the value', '{{ range $v := .m }}{{ $v }}{{ end }}', '123'],
  ['range else on empty', '{{ range .empty }}x{{ else }}none{{ end }}', 'none'],
  ['range else on missing', '{{ range .missing }}x{{ else }}none{{ end }}', 'none'],
  ['range over integer', '{{ range 3 }}{{ . }}{{ end }}|{{ range $i := 2 }}{{ $i }}{{ end }}', '012|01'],
  [
    'break and continue',
    '{{ range . }}{{ if eq . 3 }}{{ break }}{{ end }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ . }}{{ end }}',
    '2',
    [1, 2, 3, 4],
  ],
  [
    'continue inside nested if',
    '{{ range . }}{{ if . }}{{ if gt . 1 }}{{ continue }}{{ end }}{{ end }}[{{ . }}]{{ end }}',
    '[0][1]',
    [0, 1, 2],
  ],
  ['range assigns to an outer variable', '{{ $v := 0 }}{{ range $v = .list }}{{ end }}{{ $v }}', '2'],
  [
    'nested range with $',
    '{{ range $a := .list }}{{ range $.words }}{{ $a }}{{ . }}{{ end }}{{ end }}',
    '1a1b1c2a2b2c',
  ],
  // define / template / block
  [
    'nested define and template (Go doc example)',
    '{{define "T1"}}ONE{{end}}{{define "T2"}}TWO {{template "T1"}}{{end}}{{define "T3"}}{{template "T1"}} {{template "T2"}}{{end}}{{template "T3"}}',
    'ONE TWO ONE',
  ],
  [
    'template with data',
    '{{ define "item" }}<{{ .name }}>{{ end }}{{ range .objs }}{{ template "item" . }}{{ end }}',
    '<first>',
  ],
  ['template without pipeline has no dot', '{{ define "t" }}{{ . }}{{ end }}{{ template "t" }}', '<no value>'],
  ['template $ is its own dot', '{{ define "t" }}{{ $ }}{{ end }}{{ template "t" .s }}', 'str'],
  ['block defines and runs', '{{ block "b" .s }}default {{ . }}{{ end }}', 'default str'],
  [
    'recursive template',
    '{{ define "r" }}{{ if . }}{{ index . 0 }}{{ template "r" (slice . 1) }}{{ end }}{{ end }}{{ template "r" .words }}',
    'abc',
  ],
  // and / or / not / comparisons
  ['and returns the deciding value', '{{ and 1 0 2 }} {{ and 1 2 }}', '0 2'],
  ['or returns the deciding value', '{{ or 0 "" "x" }} [{{ or 0 "" }}]', 'x []'],
  ['and short-circuits', '{{ and false (index .list 10) }}', 'false'],
  ['or short-circuits', '{{ or .s (index .list 10) }}', 'str'],
  ['and in a pipeline', '{{ 0 | and 1 }}', '0'],
  ['not', '{{ not 0 }} {{ not .s }}', 'true false'],
  ['eq with several arguments', '{{ eq "a" "b" "a" }} {{ eq 1 2 3 }}', 'true false'],
  [
    'comparisons',
    '{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }} {{ ne 1 2 }} {{ lt 1.5 2.5 }}',
    'true true true false true true',
  ],
  ['eq of a missing value is false, not an error', '{{ eq .missing "x" }} {{ eq .nil "x" }}', 'false false'],
  // len / index / slice
  ['len counts bytes for strings', '{{ len .list }} {{ len .m }} {{ len "héllo" }}', '2 3 6'],
  ['index', '{{ index .list 1 }} {{ index .m "b" }} {{ index .nested "a" 1 "b" }}', '2 2 <no value>'],
  ['index of missing map key is nil', '{{ index .m "zz" }}', '<no value>'],
  ['index of a string is a byte', '{{ index "abc" 1 }}', '98'],
  [
    'slice',
    '{{ slice .words 1 }} {{ slice .words 1 2 }} {{ slice "abcdef" 2 4 }} {{ slice .words }}',
    '[b c] [b] cd [a b c]',
  ],
  // print family and escapers
  ['print spacing', '{{ print 1 2 "a" "b" 3 }}', '1 2ab3'],
  ['println', '{{ println 1 "a" }}', '1 a\n'],
  ['html', `{{ html "<a href='x'>&\\"" }}`, '&lt;a href=&#39;x&#39;&gt;&amp;&#34;'],
  ['js', `{{ js "a'b<c>=\\n\\\\" }}`, "a\\'b\\u003Cc\\u003E\\u003D\\u000A\\\\"],
  ['urlquery', '{{ urlquery "a b&c/d?e=f~g" }}', 'a+b%26c%2Fd%3Fe%3Df~g'],
  ['html of a missing value', '{{ html .missing }}', '&lt;no value&gt;'],
  // call and methods
  ['call', '{{ call .fn 1 2 }}', '3', { fn: (a: number, b: number) => a + b }],
  ['functions in data are methods', '{{ .obj.Greet "bob" }}', 'hi bob', { obj: { Greet: (n: string) => `hi ${n}` } }],
  // Delimiters
  ['custom delimiters', '[[ .s ]] {{ .s }}', 'str {{ .s }}', undefined, { delimiters: ['[[', ']]'] }],
  ['custom delimiters with trim', 'a [[- .s -]] b', 'astrb', undefined, { delimiters: ['[[', ']]'] }],
  ['delimiters of several characters', '<%= .s %>', 'str', undefined, { delimiters: ['<%=', '%>'] }],
  // missingkey modes
  ['missingkey=default', '{{ .missing }}', '<no value>', undefined, { missingkey: 'default' }],
  [
    'missingkey=zero on map data still prints <no value> (as Go)',
    '{{ .missing }}',
    '<no value>',
    undefined,
    { missingkey: 'zero' },
  ],
  ['missingkey=error does not affect present keys', '{{ .s }}', 'str', undefined, { missingkey: 'error' }],
  [
    'Map instances are maps',
    '{{ .m.b }} {{ .m }}',
    '2 map[a:1 b:2]',
    {
      m: new Map([
        ['b', 2],
        ['a', 1],
      ]),
    },
  ],
  ['newlines inside actions', '{{ printf\n  "%s"\n  .s }}', 'str'],
]);
