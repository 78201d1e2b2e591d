/**
 * Argument forms of Atmos's YAML functions that are more than words: `!terraform.state <component> [stack] <query>`,
 * where the query is the rest of the text (`.key_arn // "default"`), and the pipes of `!secret`/`!store`
 * (`KEY | default "x" | path ".host"`).
 */
import { unquoteExpression } from '../data/jq.ts';

/** Splits function arguments like a shell: spaces separate, single and double quotes group. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  }
  return out;
}

/** The first word of `text` and what follows it (trimmed); a quoted first word keeps its quotes out. */
function firstWord(text: string): [string, string] {
  const match = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)\s*([\s\S]*)$/.exec(text);
  if (!match) return ['', ''];
  return [splitArgs(match[1])[0] ?? '', match[2].trim()];
}

export interface TerraformArgs {
  component: string;
  /** Undefined: the current stack. */
  stack?: string;
  expression: string;
}

/**
 * `component [stack] expression`: the expression is everything after the component (and stack), so jq with spaces
 * needs no quoting; a stack is a second word followed by more text that does not start a query (`.`, `[`, quotes).
 * A quoted expression is unquoted, with Atmos's doubled-quote escaping (`".a // ""x"""`).
 */
export function parseTerraformArgs(text: string): TerraformArgs | undefined {
  const [component, rest] = firstWord(text);
  if (!component || !rest) return undefined;
  if (/^[.[]/.test(rest) || /^["']/.test(rest)) return { component, expression: unquoteExpression(rest) };
  const [second, after] = firstWord(rest);
  if (!after) return { component, expression: second };
  return { component, stack: second, expression: unquoteExpression(after) };
}

export interface PipedArgs {
  /** The text before the first `|`. */
  base: string;
  /** `| default <value>`: the value, YAML-decoded from the word (a quoted string stays a string). */
  fallback?: { value: unknown };
  /** `| query <jq>` or `| path <jq>`. */
  query?: string;
}

/** Splits `KEY | default "x" | query .a` at the pipes outside quotes. */
export function parsePipes(text: string): PipedArgs {
  const parts: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '|') {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  const out: PipedArgs = { base: parts[0].trim() };
  for (const part of parts.slice(1)) {
    const [word, rest] = firstWord(part);
    if (word === 'default') out.fallback = { value: decodeWord(rest) };
    else if (word === 'query' || word === 'path') out.query = unquoteExpression(rest);
    else out.base = `${out.base} | ${part.trim()}`;
  }
  return out;
}

/** A default as written: a quoted string is that string, otherwise numbers and booleans are typed. */
function decodeWord(text: string): unknown {
  if (/^"(?:[^"\\]|\\.)*"$/.test(text)) return JSON.parse(text) as string;
  if (/^'[^']*'$/.test(text)) return text.slice(1, -1);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}
