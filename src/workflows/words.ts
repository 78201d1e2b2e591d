/**
 * Splits a step command into words as a POSIX shell would (quotes, backslashes), without expanding anything.
 * Atmos had bugs from splitting on spaces (`--query '.a == b'`, `-var="k=v"`); this follows shell rules instead.
 * Written by hand: none of the installed dependencies parses shell words, and the rules fit in 40 lines.
 */
import { StrataError } from '../errors.ts';

export function splitWords(command: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let i = 0;
  while (i < command.length) {
    const c = command[i];
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new StrataError(`unterminated single quote in command: ${command}`);
      current += command.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < command.length && command[i] !== '"') {
        // Inside double quotes a backslash only escapes $ ` " \ and newline.
        if (command[i] === '\\' && i + 1 < command.length && '$`"\\\n'.includes(command[i + 1])) i++;
        current += command[i++];
      }
      if (i >= command.length) throw new StrataError(`unterminated double quote in command: ${command}`);
      inWord = true;
      i++;
    } else if (c === '\\' && i + 1 < command.length) {
      if (command[i + 1] !== '\n') current += command[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
      i++;
    } else {
      current += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/**
 * Applies the resolved stack to a strata command: removes the command's own `-s/--stack` (lowest precedence) and
 * adds `-s <stack>` before a `--` separator, so the arguments after `--` still reach the wrapped tool untouched.
 */
export function withStack(words: string[], stack: string | undefined): string[] {
  if (stack === undefined) return words;
  const separator = words.indexOf('--');
  const head = separator < 0 ? words : words.slice(0, separator);
  const tail = separator < 0 ? [] : words.slice(separator);
  const kept: string[] = [];
  for (let i = 0; i < head.length; i++) {
    const word = head[i];
    if (word === '-s' || word === '--stack') {
      i++;
      continue;
    }
    if (word.startsWith('-s=') || word.startsWith('--stack=')) continue;
    kept.push(word);
  }
  return [...kept, '-s', stack, ...tail];
}
