// Sprig function tables: argument order, results and quirks as Sprig v3 documents them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { renderTemplate } from '../../src/template/index.ts';

const data = {
  vars: { name: 'web', count: 3, tags: ['b', 'a'], enabled: false, empty: '', zero: 0 },
  nested: { a: { b: { c: 'deep' } } },
  list: [1, 2, 3],
};

const cases: Array<[template: string, expected: string]> = [
  // strings
  [
    '{{ upper "abc" }} {{ lower "ABC" }} {{ title "hello world-x y_z" }} {{ untitle "Hello World" }}',
    'ABC abc Hello World-X Y_z hello world',
  ],
  [
    '[{{ trim "  x \\n" }}] {{ trimPrefix "ab" "abc" }} {{ trimSuffix "c" "abc" }} {{ trimAll "$" "$5.00$" }}',
    '[x] c ab 5.00',
  ],
  ['{{ replace " " "-" "a b c" }} {{ "a.b.c" | replace "." "/" }}', 'a-b-c a/b/c'],
  ['{{ quote "a" 1 .missing "q\\"" }} {{ squote "a" 2 }}', '"a" "1" "q\\"" \'a\' \'2\''],
  ['{{ .vars.name | quote }}', '"web"'],
  [
    '{{ contains "b" "abc" }} {{ hasPrefix "ab" "abc" }} {{ hasSuffix "bc" "abc" }} {{ contains "z" "abc" }}',
    'true true true false',
  ],
  [
    '{{ split "," "a,b" }} {{ (split "," "a,b")._1 }} {{ splitList "," "a,b,c" }} {{ splitList "" "héj" }}',
    'map[_0:a _1:b] b [a b c] [h é j]',
  ],
  ['{{ join "-" (list 1 "a" .missing 2.5) }} {{ join "," .vars.tags }} {{ join "," "solo" }}', '1-a-2.5 b,a solo'],
  [
    '{{ repeat 3 "ab" }} {{ substr 1 3 "hello" }} {{ substr -1 2 "hello" }} {{ substr 2 -1 "hello" }}',
    'ababab el he llo',
  ],
  ['{{ trunc 3 "hello" }} {{ trunc -3 "hello" }} {{ trunc 10 "hi" }}', 'hel llo hi'],
  ['{{ nospace " a b\\tc\\n" }}', 'abc'],
  ['{{ indent 2 "a\\nb" }}|{{ nindent 4 "x" }}', '  a\n  b|\n    x'],
  [
    '{{ kebabcase "FirstName" }} {{ snakecase "HTTPServer" }} {{ snakecase "NoHTTPS" }} {{ snakecase "GO_PATH" }} {{ snakecase "GO PATH" }} {{ kebabcase "go-path" }}',
    'first-name http_server no_https go_path go_path go-path',
  ],
  [
    '{{ camelcase "http_server" }} {{ camelcase "_complex__case_" }} {{ camelcase "some_words" }} {{ camelcase "a" }}',
    'HttpServer _Complex_Case_ SomeWords A',
  ],
  [
    '{{ toString 1.5 }} {{ toString 3 }} {{ toString .missing }} {{ toString (list 1 2) }} {{ cat "a" 1 .missing "b" }}',
    '1.5 3 <nil> [1 2] a 1 b',
  ],
  // defaults and logic
  [
    '{{ default "d" "" }} {{ default "d" 0 }} {{ default "d" false }} {{ default "d" "x" }} {{ default "d" .vars.empty }} {{ .missing | default "d" }} {{ default "d" (list) }}',
    'd d d x d d d',
  ],
  [
    '{{ empty "" }} {{ empty 0 }} {{ empty .missing }} {{ empty (dict) }} {{ empty "a" }} {{ empty 1.5 }} {{ empty (list 0) }}',
    'true true true true false false false',
  ],
  ['{{ coalesce .missing "" 0 "first" "second" }} {{ coalesce 0 "" }}', 'first <no value>'],
  ['{{ ternary "yes" "no" true }} {{ ternary "yes" "no" .vars.enabled }} {{ true | ternary "a" "b" }}', 'yes no a'],
  // conversions and math
  [
    '{{ atoi "42" }} {{ atoi "x" }} {{ int "12" }} {{ int 3.9 }} {{ int64 "0x10" }} {{ int "3.0" }} {{ int true }} {{ float64 "1.5" }} {{ int .missing }}',
    '42 0 12 3 16 3 1 1.5 0',
  ],
  [
    '{{ add 1 2 3 }} {{ add1 1 }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ div -7 2 }} {{ mod 7 3 }} {{ mod -7 3 }}',
    '6 2 -2 24 3 -3 1 -1',
  ],
  ['{{ max 1 5 3 }} {{ min 4 2 9 }} {{ add "1" 2.9 }} {{ .vars.count | add 1 }}', '5 2 3 4'],
  [
    '{{ addf 1.5 2 }} {{ subf 5 1.5 }} {{ mulf 1.5 2 }} {{ divf 7 2 }} {{ floor 1.7 }} {{ ceil 1.2 }} {{ round 3.14159 2 }}',
    '3.5 3.5 3 3.5 1 2 3.14',
  ],
  ['{{ until 3 }} {{ len (until 0) }}', '[0 1 2] 0'],
  // lists
  [
    '{{ list 1 "a" }} {{ first .list }} {{ last .list }} {{ rest .list }} {{ initial .list }} {{ first (list) }}',
    '[1 a] 1 3 [2 3] [1 2] <no value>',
  ],
  [
    '{{ append .list 4 }} {{ prepend .list 0 }} {{ .list }} {{ concat .list (list 9) }} {{ reverse .list }}',
    '[1 2 3 4] [0 1 2 3] [1 2 3] [1 2 3 9] [3 2 1]',
  ],
  [
    '{{ uniq (list 1 2 1 "a" "a") }} {{ without .list 2 }} {{ has 2 .list }} {{ has 9 .list }} {{ has 1 .missing }}',
    '[1 2 a] [1 3] true false false',
  ],
  ['{{ compact (list 1 "" 0 .missing "a" false) }} {{ sortAlpha (list "b" "a" 10 2) }}', '[1 a] [10 2 a b]'],
  // dicts
  [
    '{{ dict "a" 1 "b" }} {{ get (dict "a" 1) "a" }} [{{ get (dict "a" 1) "x" }}] {{ hasKey .vars "name" }} {{ hasKey .vars "nope" }}',
    'map[a:1 b:] 1 [] true false',
  ],
  [
    '{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d }} {{ unset $d "a" }} {{ set (dict) "k" "v" }}',
    'map[a:1 b:2] map[b:2] map[k:v]',
  ],
  [
    '{{ keys (dict "b" 1 "a" 2) }} {{ keys (dict "b" 1) (dict "a" 2) }} {{ values (dict "b" 1 "a" 2) }}',
    '[a b] [b a] [2 1]',
  ],
  ['{{ pluck "a" (dict "a" 1) (dict "a" 2) (dict "b" 3) }}', '[1 2]'],
  [
    '{{ merge (dict "a" 1 "e" "" "n" (dict "x" 1)) (dict "a" 2 "b" 3 "e" "filled" "n" (dict "x" 9 "y" 2)) }}',
    'map[a:1 b:3 e:filled n:map[x:1 y:2]]',
  ],
  [
    '{{ dig "a" "b" "c" "def" .nested }} {{ dig "a" "x" "def" .nested }} {{ dig "a" "b" "c" "d" "def" .nested }}',
    'deep def def',
  ],
  // encodings
  [
    '{{ toJson (dict "b" 1 "a" "<x&y>" "c" (list true .missing 1.5)) }}',
    '{"a":"\\u003cx\\u0026y\\u003e","b":1,"c":[true,null,1.5]}',
  ],
  [
    '{{ toPrettyJson (dict "a" (list 1 2) "e" (dict) "l" (list)) }}',
    '{\n  "a": [\n    1,\n    2\n  ],\n  "e": {},\n  "l": []\n}',
  ],
  ['{{ toJson .vars.name }} {{ toJson 3 }} {{ toJson .missing }}', '"web" 3 null'],
  ['{{ (fromJson "{\\"a\\":[1,2]}").a }} {{ fromJson "not json" }}', '[1 2] <no value>'],
  ['{{ toYaml (dict "b" (list 1 2) "a" "x") }}', 'a: x\nb:\n- 1\n- 2'],
  ['{{ (fromYaml "a: 1\\nb: [x]").b }} {{ hasKey (fromYaml "- x") "Error" }}', '[x] true'],
  [
    '{{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }} {{ b64dec "!!" }}',
    'aGVsbG8= hello illegal base64 data at input byte 0',
  ],
  ['{{ sha256sum "hello" }}', '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'],
  ['{{ sha1sum "hello" }}', 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'],
  // regular expressions (RE2 syntax, Go's $1 / ${1} expansion)
  [
    '{{ regexMatch "^[a-z]+$" "abc" }} {{ regexMatch "(?i)^ABC$" "abc" }} {{ regexMatch "^\\\\d+$" "12a" }}',
    'true true false',
  ],
  [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Go regexp expansion and shell-style ${VAR} syntax
    '{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "T" }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "$1" }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "$1W" }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}',
    '-T-T- --xx- --- -W-xxW-',
  ],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Go regexp expansion and shell-style ${VAR} syntax
  ['{{ regexReplaceAll "(?P<first>\\\\w+) (?P<last>\\\\w+)" "John Smith" "${last}, $first" }}', 'Smith, John'],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Go regexp expansion and shell-style ${VAR} syntax
  ['{{ regexReplaceAllLiteral "a(x*)b" "-ab-" "${1}" }}', '-${1}-'],
  [
    '{{ regexFind "[0-9]+" "abc123def456" }} [{{ regexFind "z" "abc" }}] {{ regexFindAll "[0-9]+" "a1b22c333" -1 }} {{ regexFindAll "[0-9]+" "a1b22c333" 2 }}',
    '123 [] [1 22 333] [1 22]',
  ],
  ['{{ regexSplit "[,;]" "a,b;c" -1 }} {{ regexSplit "[,;]" "a,b;c" 2 }}', '[a b c] [a b;c]'],
  // types and dates
  [
    '{{ typeOf 1 }} {{ typeOf 1.5 }} {{ typeOf "s" }} {{ typeOf .list }} {{ kindOf .vars }} {{ kindOf .list }} {{ kindIs "string" "x" }} {{ typeIs "int" 2 }}',
    'int float64 string []interface {} map slice true true',
  ],
  [
    '{{ dateInZone "2006-01-02T15:04:05Z07:00" 86400 "UTC" }} {{ dateInZone "Mon Jan _2 3:04PM 2006 .000" 0 "UTC" }}',
    '1970-01-02T00:00:00Z Thu Jan  1 12:00AM 1970 .000',
  ],
  ['{{ unixEpoch 1700000000 }} {{ gt (len (date "2006" now)) 3 }} {{ typeOf now }}', '1700000000 true time.Time'],
];

for (const [template, expected] of cases) {
  test(`sprig: ${template.length > 90 ? `${template.slice(0, 90)}...` : template}`, () => {
    assert.equal(renderTemplate(template, data), expected);
  });
}

test('env reads process.env and gives "" when unset', () => {
  process.env.STRATA_TEMPLATE_TEST_ENV = 'from-env';
  try {
    assert.equal(
      renderTemplate('{{ env "STRATA_TEMPLATE_TEST_ENV" }}|{{ env "STRATA_TEMPLATE_UNSET_X" }}', {}),
      'from-env|',
    );
    assert.equal(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Go regexp expansion and shell-style ${VAR} syntax
      renderTemplate('{{ expandenv "a-${STRATA_TEMPLATE_TEST_ENV}-$STRATA_TEMPLATE_TEST_ENV" }}', {}),
      'a-from-env-from-env',
    );
  } finally {
    delete process.env.STRATA_TEMPLATE_TEST_ENV;
  }
});

test('toYaml output parses back to the same data, sorted', () => {
  const value = { z: [1, 'two', { x: null }], a: { nested: 'yes: colon' } };
  const out = renderTemplate('{{ toYaml . }}', value);
  assert.deepEqual(parseYaml(out), value);
  assert.ok(out.startsWith('a:'));
});

test('merge fills the destination in place and returns it', () => {
  const d = { dst: { a: 1 }, src: { b: 2 } };
  assert.equal(renderTemplate('{{ $_ := merge .dst .src }}{{ .dst }}', d), 'map[a:1 b:2]');
});

test('uuidv4 looks like a UUID', () => {
  assert.match(
    renderTemplate('{{ uuidv4 }}', {}),
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
});
