/**
 * GitHub/Gitea Actions expressions (`${{ ... }}`), the subset the generated workflows use, evaluated the way the
 * runners document them: context paths (`github.event.pull_request.head.sha`, `strategy.job-index`), string and
 * number literals, `==`, `!=`, `!`, `&&`, `||`, parentheses, and the functions always(), success(), failure(),
 * cancelled(), fromJSON() and toJSON(). Comparisons of strings ignore case, as on GitHub.
 */

export type Contexts = Record<string, unknown> & { __status?: 'success' | 'failure' };

type Token = { kind: 'op' | 'str' | 'num' | 'id'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const rest = source.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const op = /^(==|!=|&&|\|\||[!().,[\]])/.exec(rest);
    const str = /^'((?:[^']|'')*)'/.exec(rest);
    const num = /^-?\d+(\.\d+)?/.exec(rest);
    const id = /^[A-Za-z_][\w-]*/.exec(rest);
    if (op) tokens.push({ kind: 'op', text: op[0] });
    else if (str) tokens.push({ kind: 'str', text: str[1].replace(/''/g, "'") });
    else if (num) tokens.push({ kind: 'num', text: num[0] });
    else if (id) tokens.push({ kind: 'id', text: id[0] });
    else throw new Error(`cannot read expression at: ${rest}`);
    i += (op ?? str ?? num ?? id)?.[0].length ?? 1;
  }
  return tokens;
}

const loose = (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value);
const truthy = (value: unknown) => value !== '' && value !== 0 && value !== false && value != null;

export function evaluate(source: string, contexts: Contexts): unknown {
  const tokens = tokenize(source);
  let at = 0;
  const peek = (text?: string) =>
    text === undefined ? tokens[at] : tokens[at]?.text === text ? tokens[at] : undefined;
  const take = (text: string) => {
    if (!peek(text)) throw new Error(`expected '${text}' in ${source}`);
    at++;
  };
  const status = contexts.__status ?? 'success';
  const functions: Record<string, (args: unknown[]) => unknown> = {
    always: () => true,
    success: () => status === 'success',
    failure: () => status === 'failure',
    cancelled: () => false,
    fromjson: ([text]) => JSON.parse(String(text)),
    tojson: ([value]) => JSON.stringify(value, null, 2),
  };
  const primary = (): unknown => {
    const token = tokens[at++];
    if (!token) throw new Error(`unexpected end of ${source}`);
    if (token.text === '(' && token.kind === 'op') {
      const value = or();
      take(')');
      return value;
    }
    if (token.text === '!' && token.kind === 'op') return !truthy(primary());
    if (token.kind === 'str') return token.text;
    if (token.kind === 'num') return Number(token.text);
    if (token.kind !== 'id') throw new Error(`unexpected '${token.text}' in ${source}`);
    if (token.text === 'true' || token.text === 'false') return token.text === 'true';
    if (token.text === 'null') return null;
    if (peek('(')) {
      take('(');
      const args: unknown[] = [];
      while (!peek(')')) {
        args.push(or());
        if (peek(',')) take(',');
      }
      take(')');
      const fn = functions[token.text.toLowerCase()];
      if (!fn) throw new Error(`unknown function ${token.text}`);
      return fn(args);
    }
    let value: unknown = contexts[token.text];
    for (;;) {
      if (peek('.')) {
        take('.');
        const name = tokens[at++].text;
        value = (value as Record<string, unknown> | undefined)?.[name];
      } else if (peek('[')) {
        take('[');
        const key = or();
        take(']');
        value = (value as Record<string, unknown> | undefined)?.[String(key)];
      } else return value;
    }
  };
  const comparison = (): unknown => {
    let left = primary();
    while (peek('==') || peek('!=')) {
      const op = tokens[at++].text;
      const right = primary();
      const equal = loose(left) === loose(right) || String(loose(left)) === String(loose(right));
      left = op === '==' ? equal : !equal;
    }
    return left;
  };
  const and = (): unknown => {
    let left = comparison();
    while (peek('&&')) {
      take('&&');
      const right = comparison();
      left = truthy(left) ? right : left;
    }
    return left;
  };
  const or = (): unknown => {
    let left = and();
    while (peek('||')) {
      take('||');
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  };
  const value = or();
  if (at !== tokens.length) throw new Error(`unexpected '${tokens[at].text}' in ${source}`);
  return value;
}

/** A condition (`if:`): without a status function, `success() &&` is implied, as on the runners. */
export function condition(source: string | undefined, contexts: Contexts): boolean {
  if (source === undefined) return (contexts.__status ?? 'success') === 'success';
  const expression = source.replace(/^\s*\$\{\{([\s\S]*)\}\}\s*$/, '$1');
  const explicit = /\b(always|success|failure|cancelled)\s*\(/.test(expression);
  return truthy(evaluate(explicit ? expression : `success() && (${expression})`, contexts));
}

/** A value with `${{ }}` in it: a whole-expression value keeps its type (an object for fromJSON). */
export function interpolate(value: unknown, contexts: Contexts): unknown {
  if (typeof value !== 'string') return value;
  const whole = /^\$\{\{((?:(?!\}\})[\s\S])*)\}\}$/.exec(value.trim());
  if (whole) return evaluate(whole[1], contexts);
  return value.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expression: string) => {
    const result = evaluate(expression, contexts);
    return result == null ? '' : typeof result === 'object' ? JSON.stringify(result) : String(result);
  });
}
