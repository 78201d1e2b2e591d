/** Go string literal quoting/unquoting (strconv.Quote / strconv.Unquote), written by hand for exact Go output. */

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };

/** Unquotes a Go "...", `...` or '...' literal. Returns undefined on invalid syntax, as strconv.Unquote errs. */
export function unquote(quoted: string): string | undefined {
  const q = quoted[0];
  if (quoted.length < 2 || quoted[quoted.length - 1] !== q) return undefined;
  const body = quoted.slice(1, -1);
  if (q === '`') return body.includes('`') ? undefined : body.replaceAll('\r', '');
  if (q !== '"' && q !== "'") return undefined;
  if (!body.includes('\\')) {
    if (body.includes(q) || body.includes('\n')) return undefined;
    if (q === "'" && [...body].length !== 1) return undefined;
    return body;
  }
  // Escapes like \xff and \377 are bytes; collect UTF-8 bytes and decode once, as Go strings are bytes.
  const bytes: number[] = [];
  const pushText = (s: string) => {
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
  };
  let runes = 0;
  for (let i = 0; i < body.length; ) {
    const c = body[i];
    if (c === q || c === '\n') return undefined;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushText(ch);
      i += ch.length;
      runes++;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    runes++;
    if (e === undefined) return undefined;
    if (e in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[e]);
    } else if (e === q) {
      bytes.push(q.charCodeAt(0));
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i, i + len);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) return undefined;
      i += len;
      const v = Number.parseInt(hex, 16);
      if (e === 'x') {
        if (q === "'" && v > 0x7f) pushText(String.fromCodePoint(v));
        else bytes.push(v);
      } else {
        if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return undefined;
        pushText(String.fromCodePoint(v));
      }
    } else if (e >= '0' && e <= '7') {
      const oct = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct)) return undefined;
      const v = Number.parseInt(oct, 8);
      if (v > 255) return undefined;
      i += 2;
      bytes.push(v);
    } else {
      return undefined;
    }
  }
  if (q === "'" && runes !== 1) return undefined;
  return Buffer.from(bytes).toString('utf8');
}

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function escapeRune(ch: string, quote: string, asciiOnly: boolean): string {
  const cp = ch.codePointAt(0)!;
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (cp < 0x80 ? cp >= 0x20 && cp < 0x7f : !asciiOnly && PRINTABLE.test(ch)) return ch;
  switch (cp) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 12:
      return '\\f';
    case 10:
      return '\\n';
    case 13:
      return '\\r';
    case 9:
      return '\\t';
    case 11:
      return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp >= 0xd800 && cp < 0xe000) return '\\ufffd'; // lone surrogate: Go would see invalid UTF-8
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** strconv.Quote (or QuoteToASCII when asciiOnly). */
export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch, '"', asciiOnly);
  return `${out}"`;
}

/** strconv.QuoteRune. */
export function goQuoteRune(cp: number, asciiOnly = false): string {
  const ch = cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000) ? '\ufffd' : String.fromCodePoint(cp);
  return `'${escapeRune(ch, "'", asciiOnly)}'`;
}

/** strconv.CanBackquote: no backquote, no control characters other than tab. */
export function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '`' || cp === 0xfeff || (cp < 0x20 && cp !== 9) || cp === 0x7f) return false;
  }
  return true;
}
