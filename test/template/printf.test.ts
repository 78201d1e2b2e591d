// printf and value formatting, with the results Go's fmt package gives for the same verbs and arguments.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sprint, sprintln } from '../../src/template/format.ts';
import { renderTemplate } from '../../src/template/index.ts';
import { sprintf } from '../../src/template/sprintf.ts';
import { formatFloat } from '../../src/template/strconv.ts';

const cases: Array<[format: string, args: unknown[], expected: string]> = [
  // integers
  ['%d', [42], '42'],
  ['%5d|%-5d|', [42, 42], '   42|42   |'],
  ['%05d', [-42], '-0042'],
  ['%+d % d', [5, 5], '+5  5'],
  ['%x %X %#x %o %#o %b %O', [255, 255, 255, 8, 8, 5, 8], 'ff FF 0xff 10 010 101 0o10'],
  ['%c %q %U %#U', [65, 65, 0x1f600, 65], "A 'A' U+1F600 U+0041 'A'"],
  ['%.3d', [7], '007'],
  ['%x', [-255], '-ff'],
  // strings
  ['%s|%10s|%-10s|%.2s', ['x', 'x', 'x', 'abc'], 'x|         x|x         |ab'],
  ['%q', ['a"b\n\t\u0001é'], '"a\\"b\\n\\t\\x01é"'],
  ['%+q', ['é'], '"\\u00e9"'],
  ['%#q', ['a"b'], '`a"b`'],
  ['%x %X % x', ['hi', 'hi', 'hi'], '6869 6869 68 69'],
  ['%5.1s|', ['héllo'], '    h|'],
  // booleans, nil, collections
  ['%t %v', [true, false], 'true false'],
  ['%v %s', [null, ['a', 'b']], '<nil> [a b]'],
  ['%v', [{ b: [1, 2], a: { x: null } }], 'map[a:map[x:<nil>] b:[1 2]]'],
  ['%d', [[1, 2]], '[1 2]'],
  ['%q', [['a', 'b']], '["a" "b"]'],
  ['%03d', [[1, 2]], '[001 002]'],
  ['%#v', [['a', 1]], '[]interface {}{"a", 1}'],
  ['%#v', [{ a: 'x' }], 'map[string]interface {}{"a":"x"}'],
  [
    '%T %T %T %T %T %T',
    ['x', 1, 1.5, true, [1], { a: 1 }],
    'string int float64 bool []interface {} map[string]interface {}',
  ],
  // floats
  ['%f|%.2f|%8.3f|%-8.1f|', [1.23456, 1.23456, 1.23456, 1.23456], '1.234560|1.23|   1.235|1.2     |'],
  ['%e %E %.2e', [1234.5678, 1234.5678, 1234.5678], '1.234568e+03 1.234568E+03 1.23e+03'],
  ['%g %.3g %g %g', [1234.5678, 1234.5678, 1e21, 1e-7], '1234.5678 1.23e+03 1e+21 1e-07'],
  ['%v %v %v %v', [0.1, 1e-5, 2500000.5, 123456.5], '0.1 1e-05 2.5000005e+06 123456.5'],
  ['%.0f %.0f %.0f %.0f', [0.5, 1.5, 2.5, 3.5], '0 2 2 4'],
  ['%.2f %.1f %.1f', [1.005, 1.25, 0.05], '1.00 1.2 0.1'],
  ['%+.1f %08.3f %+08.2f', [1.25, -1.23456, 2.5], '+1.2 -001.235 +0002.50'],
  ['%6.2f%%', [99.5], ' 99.50%'],
  ['%f %v %v', [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN], '+Inf -Inf NaN'],
  ['%.3f', [1e21 + 0.5], '1000000000000000000000.000'],
  ['%d', [2 ** 53 + 2], '%!d(float64=9.007199254740994e+15)'],
  // errors, Go style
  ['%d', ['x'], '%!d(string=x)'],
  ['%s', [5], '%!s(int=5)'],
  ['%t', [1], '%!t(int=1)'],
  ['%d', [null], '%!d(<nil>)'],
  ['%d %d', [1], '1 %!d(MISSING)'],
  ['%d', [1, 'a', null], '1%!(EXTRA string=a, <nil>)'],
  ['%z', [1], '%!z(int=1)'],
  ['abc%', [], 'abc%!(NOVERB)'],
  ['100%%', [], '100%'],
  // argument indexes and star widths
  ['%[2]d %[1]d', [1, 2], '2 1'],
  ['%[3]d', [1, 2], '%!d(BADINDEX)'],
  ['%*d|%-*d|%.*f', [5, 42, 4, 7, 2, 1.23456], '   42|7   |1.23'],
];

for (const [format, args, expected] of cases) {
  test(`sprintf ${JSON.stringify(format)} ${JSON.stringify(args)}`, () => {
    assert.equal(sprintf(format, args), expected);
  });
}

test('Sprint adds spaces only between non-string operands; Sprintln always', () => {
  assert.equal(sprint([1, 2, 'a', 'b', 3, null]), '1 2ab3 <nil>');
  assert.equal(sprint(['a', 1, 'b']), 'a1b');
  assert.equal(sprintln(['a', 1]), 'a 1\n');
});

test('strconv.FormatFloat shortest and fixed forms', () => {
  const table: Array<[number, string, number, string]> = [
    [1234567.5, 'g', -1, '1.2345675e+06'],
    [123456.7, 'g', -1, '123456.7'],
    [0.0001, 'g', -1, '0.0001'],
    [0.00001, 'g', -1, '1e-05'],
    [100, 'e', -1, '1e+02'],
    [1e100, 'g', -1, '1e+100'],
    [-0, 'g', -1, '-0'],
    [0, 'e', 3, '0.000e+00'],
    [123.456, 'g', 2, '1.2e+02'],
    [123.456, 'g', 4, '123.5'],
    [1, 'g', 3, '1'],
    [0.000123, 'f', 2, '0.00'],
    [9.99, 'f', 1, '10.0'],
    [5e-324, 'g', -1, '5e-324'],
  ];
  for (const [value, fmt, prec, expected] of table)
    assert.equal(formatFloat(value, fmt, prec), expected, `${value} ${fmt} ${prec}`);
});

test('printf inside templates sees data values and literals', () => {
  assert.equal(renderTemplate('{{ printf "%s=%d (%.1f%%)" .k .v .p }}', { k: 'cpu', v: 4, p: 12.25 }), 'cpu=4 (12.2%)');
  assert.equal(renderTemplate('{{ printf "%v" .missing }}', {}), '<nil>');
  assert.equal(renderTemplate('{{ printf "%05.1f" 3.14159 }}', {}), '003.1');
});
