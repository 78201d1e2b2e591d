/** fmt.Sprintf: Go's directive syntax (flags, width, precision, `[n]` argument indexes) and its error annotations. */
import { DEFAULT_FLAGS, type Flags, newFlags, printArg } from './format.ts';
import { typeName } from './value.ts';

/** fmt.Sprintf with Go's verbs, flags, width, precision, argument indexes and error annotations. */
export function sprintf(format: string, args: unknown[]): string {
  const scanner = new DirectiveScanner(format, args);
  let out = '';
  while (scanner.i < format.length) {
    const pct = format.indexOf('%', scanner.i);
    if (pct === -1) {
      out += format.slice(scanner.i);
      break;
    }
    out += format.slice(scanner.i, pct);
    scanner.i = pct + 1;
    out += scanner.directive();
  }
  return out + scanner.extra();
}

/** Reads a format string's directives left to right, with Go's argument cursor and `[n]` reordering state. */
class DirectiveScanner {
  i = 0;
  private argNum = 0;
  private reordered = false;

  constructor(
    private readonly format: string,
    private readonly args: unknown[],
  ) {}

  /** One directive after its `%`: the formatted operand, or the annotation Go prints for a bad one. */
  directive(): string {
    const f = this.flags();
    let goodIndex = this.argIndex();
    let out = this.width(f);
    if (this.format[this.i] === '.') {
      this.i++;
      goodIndex = this.argIndex() && goodIndex;
      out += this.precision(f);
    }
    goodIndex = this.argIndex() && goodIndex;
    if (this.i >= this.format.length) return `${out}%!(NOVERB)`;
    const verb = String.fromCodePoint(this.format.codePointAt(this.i)!);
    this.i += verb.length;
    if (verb === '%') return `${out}%`;
    if (!goodIndex) return `${out}%!${verb}(BADINDEX)`;
    if (this.argNum >= this.args.length) return `${out}%!${verb}(MISSING)`;
    if (verb === 'v') {
      f.sharpV = f.sharp;
      f.sharp = false;
      f.plusV = f.plus;
      f.plus = false;
    }
    return out + printArg(this.args[this.argNum++], verb, f, 0);
  }

  /** Operands no directive used, as `%!(EXTRA type=value, …)` (not when indexes reordered them). */
  extra(): string {
    if (this.reordered || this.argNum >= this.args.length) return '';
    const extra = this.args
      .slice(this.argNum)
      .map((a) => (a === undefined || a === null ? '<nil>' : `${typeName(a)}=${printArg(a, 'v', DEFAULT_FLAGS, 0)}`));
    return `%!(EXTRA ${extra.join(', ')})`;
  }

  private flags(): Flags {
    const f = newFlags();
    for (; this.i < this.format.length; this.i++) {
      const c = this.format[this.i];
      if (c === '#') f.sharp = true;
      else if (c === '0') f.zero = !f.minus;
      else if (c === '+') f.plus = true;
      else if (c === '-') {
        f.minus = true;
        f.zero = false;
      } else if (c === ' ') f.space = true;
      else break;
    }
    return f;
  }

  /** Width from digits or `*` (an int operand; negative means left-justify). Returns Go's annotation for a bad one. */
  private width(f: Flags): string {
    if (this.format[this.i] !== '*') {
      f.wid = this.number() ?? -1;
      return '';
    }
    this.i++;
    const w = this.intArg();
    if (w === undefined) return '%!(BADWIDTH)';
    if (w < 0) {
      f.minus = true;
      f.zero = false;
      f.wid = -w;
    } else f.wid = w;
    return '';
  }

  /** Precision after the `.`, from digits (none means 0) or `*`. Returns Go's annotation for a bad one. */
  private precision(f: Flags): string {
    if (this.format[this.i] !== '*') {
      f.prec = this.number() ?? 0;
      return '';
    }
    this.i++;
    const p = this.intArg();
    if (p === undefined || p < 0) return '%!(BADPREC)';
    f.prec = p;
    return '';
  }

  private number(): number | undefined {
    const start = this.i;
    while (this.i < this.format.length && this.format[this.i] >= '0' && this.format[this.i] <= '9') this.i++;
    return this.i > start ? Number(this.format.slice(start, this.i)) : undefined;
  }

  /** Handles an explicit `[n]` argument index; false when it is malformed. */
  private argIndex(): boolean {
    const { format } = this;
    if (format[this.i] !== '[') return true;
    this.reordered = true;
    const close = format.indexOf(']', this.i);
    const idx = close > this.i ? Number(format.slice(this.i + 1, close)) : Number.NaN;
    if (!Number.isInteger(idx) || idx < 1 || idx > this.args.length) {
      this.i = close > this.i ? close + 1 : format.length;
      return false;
    }
    this.argNum = idx - 1;
    this.i = close + 1;
    return true;
  }

  private intArg(): number | undefined {
    if (this.argNum >= this.args.length) return undefined;
    const a = this.args[this.argNum++];
    return typeof a === 'number' && Number.isSafeInteger(a) ? a : undefined;
  }
}
