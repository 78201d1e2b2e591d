/**
 * Replaces every known secret value in text before it is printed, logged, recorded or served.
 * One process-wide masker is shared by the subprocess runner, reports, the controller and the CLI printers.
 *
 * A secret is registered once and matched in the forms tools print it in: as is, escaped inside a JSON string
 * (also Go's and Python's escaping), inside an HCL string, shell-quoted, and base64-encoded. Masking keeps machine
 * output valid: text made only of JSON tokens (a JSON document, or one line of a pretty-printed one) stays JSON.
 */
export const MASK = '***';

export class Masker {
  #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Registers a secret. Values shorter than 4 characters are ignored: masking them would garble ordinary output. */
  add(value: string | undefined | null): void {
    if (value === undefined || value === null) return;
    const text = String(value);
    if (text.length < 4 || this.#values.has(text)) return;
    for (const form of encodedForms(text)) this.#values.add(form);
    // Multi-line secrets (keys, certificates) are also masked line by line, as tools print them line by line.
    for (const line of text.split(/\r?\n/)) if (line.trim().length >= 8) this.#values.add(line.trim());
    this.#pattern = undefined;
  }

  get size(): number {
    return this.#values.size;
  }

  /** Whether the text holds any registered form (a native substring search per form: fast on large text). */
  contains(text: string): boolean {
    for (const value of this.#values) if (text.includes(value)) return true;
    return false;
  }

  /** Masks every registered form; text made only of JSON tokens stays valid JSON (see maskJsonTokens). */
  mask(text: string): string {
    const pattern = this.#compiled();
    if (!pattern || !this.contains(text)) return text;
    return maskJsonTokens(text, pattern, (inner) => this.mask(inner)) ?? text.replace(pattern, MASK);
  }

  /**
   * A masker for a byte stream (a served file): secrets split across chunks are still found. Bytes are matched as
   * latin1, so binary content passes through unchanged unless it holds a secret's UTF-8 bytes.
   */
  stream(): ByteStreamMasker {
    return new ByteStreamMasker([...this.#values]);
  }

  /** Every registered form, longest first, in one alternation. */
  #compiled(): RegExp | undefined {
    if (this.#values.size === 0) return undefined;
    this.#pattern ??= alternation([...this.#values]);
    return this.#pattern;
  }
}

function alternation(forms: string[]): RegExp {
  // Longest first, so a secret that contains another is replaced whole.
  const sorted = [...new Set(forms)].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
}

export class ByteStreamMasker {
  readonly #forms: Buffer[];
  readonly #pattern: RegExp | undefined;
  /** Bytes kept back between chunks: a match starting before them always fits in the data seen. */
  readonly #keep: number;
  #carry: Buffer = Buffer.alloc(0);

  constructor(forms: string[]) {
    this.#forms = forms.map((form) => Buffer.from(form, 'utf8'));
    // Matched as latin1 text, one character per byte, so binary content round-trips unchanged.
    this.#pattern = forms.length > 0 ? alternation(this.#forms.map((f) => f.toString('latin1'))) : undefined;
    this.#keep = Math.max(0, ...this.#forms.map((f) => f.length - 1));
  }

  push(chunk: Uint8Array): Buffer {
    return this.#process(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), false);
  }

  end(): Buffer {
    return this.#process(Buffer.alloc(0), true);
  }

  #process(chunk: Buffer, last: boolean): Buffer {
    const data = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    const limit = last ? data.length : Math.max(0, data.length - this.#keep);
    // The common case, no secret at all, is a native substring search per form.
    if (!this.#pattern || !this.#forms.some((form) => data.includes(form))) {
      this.#carry = data.subarray(limit);
      return data.subarray(0, limit);
    }
    const text = data.toString('latin1');
    let out = '';
    let position = 0;
    this.#pattern.lastIndex = 0;
    for (let m = this.#pattern.exec(text); m && m.index < limit; m = this.#pattern.exec(text)) {
      out += text.slice(position, m.index) + MASK;
      position = m.index + m[0].length;
    }
    const cut = Math.max(position, limit);
    out += text.slice(position, cut);
    this.#carry = data.subarray(cut);
    return Buffer.from(out, 'latin1');
  }
}

/**
 * The forms a value is printed in. String escapes come without their quotes, so the secret is found inside any
 * larger string; base64 with its padding and without (as a prefix of a longer encoding).
 */
export function encodedForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const forms = [
    value,
    json,
    // Go's encoding/json (terraform -json, kubectl -o json) also escapes <, > and & (and two line separators).
    json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    // Python's json.dumps (Ansible) escapes everything beyond ASCII.
    json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    // HCL strings (plans, tfvars) escape like JSON, plus interpolation and directive openers.
    json.replace(/([$%])\{/g, (_, c: string) => `${c}${c}{`),
    // Shell: inside '…' (two common ways to write a single quote), inside "…", and backslash-escaped words.
    value.replace(/'/g, `'\\''`),
    value.replace(/'/g, `'"'"'`),
    value.replace(/[\\"$`]/g, '\\$&'),
    value.replace(/[^A-Za-z0-9_\-.,:/@%+=\n]/g, '\\$&'),
    Buffer.from(value).toString('base64'),
    Buffer.from(value).toString('base64').replace(/=+$/, ''),
    Buffer.from(value).toString('base64url'),
  ];
  return [...new Set(forms)];
}

// ---------------------------------------------------------------------------------------------------------------
// JSON-safe masking. Text made only of JSON tokens is masked token by token: a secret inside a string is masked
// inside it (the string is decoded, masked and encoded again), a secret that is a whole value (a number, a string
// with its quotes, a compact object) becomes the string "***", and a match straddling tokens masks each value it
// touches whole. Other text (log lines, HCL, YAML) is masked in place.

const QUOTED_MASK = `"${MASK}"`;
const JSON_TOKEN =
  /[ \t\r\n]+|[{}[\]:,]|"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

interface JsonToken {
  start: number;
  end: number;
  kind: 'space' | 'punct' | 'string' | 'scalar';
}

function jsonTokens(text: string): JsonToken[] | undefined {
  const tokens: JsonToken[] = [];
  JSON_TOKEN.lastIndex = 0;
  while (JSON_TOKEN.lastIndex < text.length) {
    const start = JSON_TOKEN.lastIndex;
    const match = JSON_TOKEN.exec(text);
    if (!match) return undefined;
    const first = match[0][0];
    const kind = /\s/.test(first) ? 'space' : '{}[]:,'.includes(first) ? 'punct' : first === '"' ? 'string' : 'scalar';
    tokens.push({ start, end: start + match[0].length, kind });
  }
  return tokens;
}

/** Index of the token holding character `position`. */
function tokenAt(tokens: JsonToken[], position: number): number {
  let low = 0;
  let high = tokens.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (tokens[middle].start <= position) low = middle;
    else high = middle - 1;
  }
  return low;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Masks `text` token by token when it is made only of JSON tokens; undefined otherwise. `maskInner` masks the
 * decoded content of a string (recursively JSON-safe: a string may hold a JSON document).
 */
function maskJsonTokens(text: string, pattern: RegExp, maskInner: (text: string) => string): string | undefined {
  const tokens = jsonTokens(text);
  if (!tokens) return undefined;
  const action = new Map<number, 'whole' | 'inner'>();
  /** First token of a run of tokens that is one whole value → its last token. */
  const spans = new Map<number, number>();
  for (const match of [...text.matchAll(pattern)]) {
    const start = match.index;
    const end = start + match[0].length;
    const first = tokenAt(tokens, start);
    const last = tokenAt(tokens, end - 1);
    const token = tokens[first];
    if (first === last && token.kind === 'string' && (start > token.start || end < token.end)) {
      if (action.get(first) !== 'whole') action.set(first, 'inner');
    } else if (first !== last && start === token.start && end === tokens[last].end && isJson(text.slice(start, end))) {
      spans.set(first, last);
    } else {
      for (let k = first; k <= last; k++)
        if (tokens[k].kind === 'string' || tokens[k].kind === 'scalar') action.set(k, 'whole');
    }
  }
  let out = '';
  for (let k = 0; k < tokens.length; k++) {
    const span = spans.get(k);
    if (span !== undefined) {
      out += QUOTED_MASK;
      k = span;
      continue;
    }
    const raw = text.slice(tokens[k].start, tokens[k].end);
    const todo = action.get(k);
    out += todo === 'whole' ? QUOTED_MASK : todo === 'inner' ? maskString(raw, pattern, maskInner) : raw;
  }
  return out;
}

/** A JSON string literal with its content masked; masked whole when a form survives in the new encoding. */
function maskString(literal: string, pattern: RegExp, maskInner: (text: string) => string): string {
  const encoded = JSON.stringify(maskInner(JSON.parse(literal) as string));
  return encoded.search(pattern) >= 0 ? QUOTED_MASK : encoded;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The process-wide masker: everything strata prints or writes goes through it. */
export const globalMasker = new Masker();
