/**
 * Lexer for Go's text/template, written by hand: no npm package implements Go template semantics faithfully
 * (see the dependency notes, section 3). It follows the states of Go's text/template/parse/lex.go:
 * text, left delimiter (with `-` trim marker and comments), inside an action, right delimiter.
 * It produces the whole token list eagerly; a lexical error becomes an `error` token that stops the list,
 * so the parser reports errors in source order as Go does.
 */

export type TokenType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'pipe'
  | 'assign'
  | 'declare'
  | 'char'
  | 'leftParen'
  | 'rightParen'
  | 'string'
  | 'rawString'
  | 'charConstant'
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'error'
  | 'eof';

export interface Token {
  type: TokenType;
  val: string;
  pos: number;
}

const KEYWORDS = new Set([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'nil',
  'template',
  'with',
]);

const TRIM_MARKER_LEN = 2;

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

const ALNUM = /[\p{L}\p{Nd}_]/u;
function isAlphaNumeric(c: string | undefined): boolean {
  if (c === undefined) return false;
  const code = c.charCodeAt(0);
  if (code < 128) {
    return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
  }
  return ALNUM.test(c);
}

/** Go's `%#U` rendering of a rune, used in lexer messages: `U+002D '-'`. */
function runeName(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

function hasLeftTrimMarker(input: string, at: number): boolean {
  return input.charCodeAt(at) === 45 && isSpace(input[at + 1]);
}
function hasRightTrimMarker(input: string, at: number): boolean {
  return input.charCodeAt(at + 1) === 45 && isSpace(input[at]);
}

const NO_DELIM = 0;
const DELIM = 1;
const TRIM_DELIM = 2;
/** Right delimiter at `at`: none, plain, or preceded by the ` -` trim marker. Returns a code to avoid allocating. */
function atRightDelim(input: string, at: number, rightDelim: string): number {
  if (hasRightTrimMarker(input, at) && input.startsWith(rightDelim, at + TRIM_MARKER_LEN)) return TRIM_DELIM;
  return input.startsWith(rightDelim, at) ? DELIM : NO_DELIM;
}

function skipSpaces(input: string, at: number): number {
  while (at < input.length && isSpace(input[at])) at++;
  return at;
}

function atTerminator(input: string, at: number, rightDelim: string): boolean {
  const c = input[at];
  if (c === undefined || isSpace(c)) return true;
  if (c === '.' || c === ',' || c === '|' || c === ':' || c === ')' || c === '(') return true;
  return input.startsWith(rightDelim, at);
}

export function lex(input: string, leftDelim: string, rightDelim: string): Token[] {
  const tokens: Token[] = [];
  const n = input.length;
  let pos = 0;

  const fail = (message: string, at: number) => {
    tokens.push({ type: 'error', val: message, pos: at });
    return tokens;
  };

  for (;;) {
    // Text state: everything up to the next left delimiter.
    const idx = input.indexOf(leftDelim, pos);
    if (idx === -1) {
      if (pos < n) tokens.push({ type: 'text', val: input.slice(pos), pos });
      tokens.push({ type: 'eof', val: '', pos: n });
      return tokens;
    }
    const afterLeft = idx + leftDelim.length;
    const trimLeft = hasLeftTrimMarker(input, afterLeft);
    let textEnd = idx;
    if (trimLeft) while (textEnd > pos && isSpace(input[textEnd - 1])) textEnd--;
    if (textEnd > pos) tokens.push({ type: 'text', val: input.slice(pos, textEnd), pos });
    let p = afterLeft + (trimLeft ? TRIM_MARKER_LEN : 0);

    if (input.startsWith('/*', p)) {
      const end = input.indexOf('*/', p + 2);
      if (end === -1) return fail('unclosed comment', idx);
      const delim = atRightDelim(input, end + 2, rightDelim);
      if (delim === NO_DELIM) return fail('comment ends before closing delimiter', idx);
      pos = end + 2 + (delim === TRIM_DELIM ? TRIM_MARKER_LEN : 0) + rightDelim.length;
      if (delim === TRIM_DELIM) pos = skipSpaces(input, pos);
      continue;
    }

    tokens.push({ type: 'leftDelim', val: leftDelim, pos: idx });
    let parenDepth = 0;
    // Inside an action.
    for (;;) {
      const delim = atRightDelim(input, p, rightDelim);
      if (delim !== NO_DELIM) {
        if (parenDepth > 0) return fail('unclosed left paren', p);
        if (delim === TRIM_DELIM) p += TRIM_MARKER_LEN;
        tokens.push({ type: 'rightDelim', val: rightDelim, pos: p });
        p += rightDelim.length;
        if (delim === TRIM_DELIM) p = skipSpaces(input, p);
        pos = p;
        break;
      }
      if (p >= n) return fail('unclosed action', idx);
      const c = input[p];
      const start = p;
      if (isSpace(c)) {
        while (p < n && isSpace(input[p])) p++;
        // A trim-marked closing delimiter: the last space belongs to the marker.
        if (hasRightTrimMarker(input, p - 1) && input.startsWith(rightDelim, p - 1 + TRIM_MARKER_LEN)) {
          p--;
          if (p === start) continue;
        }
        tokens.push({ type: 'space', val: input.slice(start, p), pos: start });
        continue;
      }
      switch (c) {
        case '=':
          tokens.push({ type: 'assign', val: '=', pos: p++ });
          continue;
        case ':':
          if (input[p + 1] !== '=') return fail('expected :=', p);
          tokens.push({ type: 'declare', val: ':=', pos: p });
          p += 2;
          continue;
        case '|':
          tokens.push({ type: 'pipe', val: '|', pos: p++ });
          continue;
        case '"': {
          const end = quotedEnd(input, start, '"');
          if (end === undefined) return fail('unterminated quoted string', start);
          p = end;
          tokens.push({ type: 'string', val: input.slice(start, p), pos: start });
          continue;
        }
        case '`': {
          const end = input.indexOf('`', p + 1);
          if (end === -1) return fail('unterminated raw quoted string', start);
          p = end + 1;
          tokens.push({ type: 'rawString', val: input.slice(start, p), pos: start });
          continue;
        }
        case "'": {
          const end = quotedEnd(input, start, "'");
          if (end === undefined) return fail('unterminated character constant', start);
          p = end;
          tokens.push({ type: 'charConstant', val: input.slice(start, p), pos: start });
          continue;
        }
        case '$':
        case '.': {
          const isVar = c === '$';
          // ".5" is a number, not a field.
          if (!isVar && input[p + 1] !== undefined && input[p + 1] >= '0' && input[p + 1] <= '9') break;
          p++;
          if (atTerminator(input, p, rightDelim)) {
            tokens.push(isVar ? { type: 'variable', val: '$', pos: start } : { type: 'dot', val: '.', pos: start });
            continue;
          }
          while (p < n && isAlphaNumeric(input[p])) p++;
          if (!atTerminator(input, p, rightDelim))
            return fail(`bad character ${runeName(String.fromCodePoint(input.codePointAt(p)!))}`, p);
          tokens.push({ type: isVar ? 'variable' : 'field', val: input.slice(start, p), pos: start });
          continue;
        }
        case '(':
          parenDepth++;
          tokens.push({ type: 'leftParen', val: '(', pos: p++ });
          continue;
        case ')':
          parenDepth--;
          tokens.push({ type: 'rightParen', val: ')', pos: p++ });
          if (parenDepth < 0) return fail('unexpected right paren', start);
          continue;
      }
      if (c === '+' || c === '-' || c === '.' || (c >= '0' && c <= '9')) {
        p = scanNumber(input, p);
        if (p < 0) {
          const end = -p;
          return fail(`bad number syntax: ${JSON.stringify(input.slice(start, end))}`, start);
        }
        tokens.push({ type: 'number', val: input.slice(start, p), pos: start });
        continue;
      }
      if (isAlphaNumeric(c)) {
        while (p < n && isAlphaNumeric(input[p])) p++;
        if (!atTerminator(input, p, rightDelim))
          return fail(`bad character ${runeName(String.fromCodePoint(input.codePointAt(p)!))}`, p);
        const word = input.slice(start, p);
        let type: TokenType = 'identifier';
        if (word === 'nil') type = 'nil';
        else if (KEYWORDS.has(word)) type = 'keyword';
        else if (word === 'true' || word === 'false') type = 'bool';
        tokens.push({ type, val: word, pos: start });
        continue;
      }
      const code = c.charCodeAt(0);
      if (code >= 0x20 && code < 0x7f) {
        tokens.push({ type: 'char', val: c, pos: p++ });
        continue;
      }
      return fail(`unrecognized character in action: ${runeName(String.fromCodePoint(input.codePointAt(p)!))}`, p);
    }
  }
}

/** Go's scanNumber: returns the end offset, or minus the offset reached when the syntax is bad. */
function scanNumber(input: string, p: number): number {
  const accept = (chars: string) => {
    if (p < input.length && chars.includes(input[p])) {
      p++;
      return true;
    }
    return false;
  };
  const acceptRun = (chars: string) => {
    while (p < input.length && chars.includes(input[p])) p++;
  };
  accept('+-');
  let digits = '0123456789_';
  if (accept('0')) {
    if (accept('xX')) digits = '0123456789abcdefABCDEF_';
    else if (accept('oO')) digits = '01234567_';
    else if (accept('bB')) digits = '01_';
  }
  acceptRun(digits);
  if (accept('.')) acceptRun(digits);
  if (digits.length === 11 && accept('eE')) {
    accept('+-');
    acceptRun('0123456789_');
  }
  if (digits.length === 23 && accept('pP')) {
    accept('+-');
    acceptRun('0123456789_');
  }
  accept('i');
  if (isAlphaNumeric(input[p])) return -(p + 1);
  return p;
}

/**
 * The index just after the closing `quote` of a string or character constant that opens at `open`, or undefined
 * when the line or the input ends first (backslash escapes skip the next character, as Go's lexer does).
 */
function quotedEnd(input: string, open: number, quote: string): number | undefined {
  let p = open + 1;
  for (;;) {
    const d = input[p++];
    if (d === '\\') {
      const e = input[p++];
      if (e !== undefined && e !== '\n') continue;
      return undefined;
    }
    if (d === undefined || d === '\n') return undefined;
    if (d === quote) return p;
  }
}
