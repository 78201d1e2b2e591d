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
  return new Lexer(input, leftDelim, rightDelim).run();
}

/** Returned instead of an offset when the token list has ended (at the end of input, or with an error token). */
const STOP = -1;

/** The lexer's states as methods; each takes the offset to read from and returns the offset after what it read. */
class Lexer {
  private readonly tokens: Token[] = [];
  private parenDepth = 0;

  constructor(
    private readonly input: string,
    private readonly leftDelim: string,
    private readonly rightDelim: string,
  ) {}

  run(): Token[] {
    let pos = 0;
    while (pos !== STOP) pos = this.text(pos);
    return this.tokens;
  }

  private fail(message: string, at: number): number {
    this.tokens.push({ type: 'error', val: message, pos: at });
    return STOP;
  }

  /** Text state: everything up to the next left delimiter, then the comment or action it opens. */
  private text(pos: number): number {
    const { input, tokens } = this;
    const idx = input.indexOf(this.leftDelim, pos);
    if (idx === -1) {
      if (pos < input.length) tokens.push({ type: 'text', val: input.slice(pos), pos });
      tokens.push({ type: 'eof', val: '', pos: input.length });
      return STOP;
    }
    const afterLeft = idx + this.leftDelim.length;
    const trimLeft = hasLeftTrimMarker(input, afterLeft);
    let textEnd = idx;
    if (trimLeft) while (textEnd > pos && isSpace(input[textEnd - 1])) textEnd--;
    if (textEnd > pos) tokens.push({ type: 'text', val: input.slice(pos, textEnd), pos });
    const p = afterLeft + (trimLeft ? TRIM_MARKER_LEN : 0);
    if (input.startsWith('/*', p)) return this.comment(idx, p);
    tokens.push({ type: 'leftDelim', val: this.leftDelim, pos: idx });
    return this.action(idx, p);
  }

  /** `/* … *\/` right after the left delimiter (and its trim marker), then the right delimiter. */
  private comment(idx: number, p: number): number {
    const { input, rightDelim } = this;
    const end = input.indexOf('*/', p + 2);
    if (end === -1) return this.fail('unclosed comment', idx);
    const delim = atRightDelim(input, end + 2, rightDelim);
    if (delim === NO_DELIM) return this.fail('comment ends before closing delimiter', idx);
    const pos = end + 2 + (delim === TRIM_DELIM ? TRIM_MARKER_LEN : 0) + rightDelim.length;
    return delim === TRIM_DELIM ? skipSpaces(input, pos) : pos;
  }

  /** Inside an action that opened at `idx`: tokens up to and including the right delimiter. */
  private action(idx: number, p: number): number {
    const { input, rightDelim } = this;
    this.parenDepth = 0;
    for (;;) {
      const delim = atRightDelim(input, p, rightDelim);
      if (delim !== NO_DELIM) {
        if (this.parenDepth > 0) return this.fail('unclosed left paren', p);
        if (delim === TRIM_DELIM) p += TRIM_MARKER_LEN;
        this.tokens.push({ type: 'rightDelim', val: rightDelim, pos: p });
        p += rightDelim.length;
        return delim === TRIM_DELIM ? skipSpaces(input, p) : p;
      }
      if (p >= input.length) return this.fail('unclosed action', idx);
      p = this.token(p);
      if (p === STOP) return STOP;
    }
  }

  /** One token inside an action. */
  private token(start: number): number {
    const { input, tokens } = this;
    const c = input[start];
    if (isSpace(c)) return this.space(start);
    switch (c) {
      case '=':
        tokens.push({ type: 'assign', val: '=', pos: start });
        return start + 1;
      case ':':
        if (input[start + 1] !== '=') return this.fail('expected :=', start);
        tokens.push({ type: 'declare', val: ':=', pos: start });
        return start + 2;
      case '|':
        tokens.push({ type: 'pipe', val: '|', pos: start });
        return start + 1;
      case '"':
        return this.quoted(start, quotedEnd(input, start, '"'), 'string', 'unterminated quoted string');
      case '`': {
        const end = input.indexOf('`', start + 1);
        return this.quoted(start, end === -1 ? undefined : end + 1, 'rawString', 'unterminated raw quoted string');
      }
      case "'":
        return this.quoted(start, quotedEnd(input, start, "'"), 'charConstant', 'unterminated character constant');
      case '$':
      case '.':
        // ".5" is a number, not a field.
        if (c === '$' || !(input[start + 1] >= '0' && input[start + 1] <= '9')) return this.variableOrField(start);
        break;
      case '(':
        this.parenDepth++;
        tokens.push({ type: 'leftParen', val: '(', pos: start });
        return start + 1;
      case ')':
        this.parenDepth--;
        tokens.push({ type: 'rightParen', val: ')', pos: start });
        if (this.parenDepth < 0) return this.fail('unexpected right paren', start);
        return start + 1;
    }
    if (c === '+' || c === '-' || c === '.' || (c >= '0' && c <= '9')) return this.number(start);
    if (isAlphaNumeric(c)) return this.word(start);
    const code = c.charCodeAt(0);
    if (code >= 0x20 && code < 0x7f) {
      tokens.push({ type: 'char', val: c, pos: start });
      return start + 1;
    }
    return this.fail(
      `unrecognized character in action: ${runeName(String.fromCodePoint(input.codePointAt(start)!))}`,
      start,
    );
  }

  private space(start: number): number {
    const { input } = this;
    let p = start;
    while (p < input.length && isSpace(input[p])) p++;
    // A trim-marked closing delimiter: the last space belongs to the marker.
    if (hasRightTrimMarker(input, p - 1) && input.startsWith(this.rightDelim, p - 1 + TRIM_MARKER_LEN)) {
      p--;
      if (p === start) return p;
    }
    this.tokens.push({ type: 'space', val: input.slice(start, p), pos: start });
    return p;
  }

  /** A quoted token from `start` to `end` (undefined: unterminated). */
  private quoted(start: number, end: number | undefined, type: TokenType, unterminated: string): number {
    if (end === undefined) return this.fail(unterminated, start);
    this.tokens.push({ type, val: this.input.slice(start, end), pos: start });
    return end;
  }

  /** `$`, `$name`, `.` or `.Field`. */
  private variableOrField(start: number): number {
    const { input } = this;
    const isVar = input[start] === '$';
    let p = start + 1;
    if (atTerminator(input, p, this.rightDelim)) {
      this.tokens.push(isVar ? { type: 'variable', val: '$', pos: start } : { type: 'dot', val: '.', pos: start });
      return p;
    }
    while (p < input.length && isAlphaNumeric(input[p])) p++;
    if (!atTerminator(input, p, this.rightDelim)) return this.badCharacter(p);
    this.tokens.push({ type: isVar ? 'variable' : 'field', val: input.slice(start, p), pos: start });
    return p;
  }

  private number(start: number): number {
    const p = scanNumber(this.input, start);
    if (p < 0) return this.fail(`bad number syntax: ${JSON.stringify(this.input.slice(start, -p))}`, start);
    this.tokens.push({ type: 'number', val: this.input.slice(start, p), pos: start });
    return p;
  }

  /** An identifier, keyword, `nil`, `true` or `false`. */
  private word(start: number): number {
    const { input } = this;
    let p = start;
    while (p < input.length && isAlphaNumeric(input[p])) p++;
    if (!atTerminator(input, p, this.rightDelim)) return this.badCharacter(p);
    const word = input.slice(start, p);
    let type: TokenType = 'identifier';
    if (word === 'nil') type = 'nil';
    else if (KEYWORDS.has(word)) type = 'keyword';
    else if (word === 'true' || word === 'false') type = 'bool';
    this.tokens.push({ type, val: word, pos: start });
    return p;
  }

  private badCharacter(p: number): number {
    return this.fail(`bad character ${runeName(String.fromCodePoint(this.input.codePointAt(p)!))}`, p);
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
