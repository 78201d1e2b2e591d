import { StrataError } from '../errors.ts';
import { codeFrame } from '../util/suggest.ts';

export interface TemplateErrorOptions {
  templateName: string;
  line: number;
  /** 1-based column (Go's message shows the 0-based byte offset, i.e. col - 1). */
  col: number;
  expression?: string;
  hint?: string;
  source?: string;
  cause?: unknown;
}

/**
 * A parse or execution error in a Go template. The message follows Go's wording
 * (`template: <name>:<line>:<col>: executing "<name>" at <.x>: ...`) so messages users know from Atmos still match.
 */
export class TemplateError extends StrataError {
  readonly templateName: string;
  readonly line: number;
  readonly col: number;
  /** The action or node text the error happened at (Go's `<...>` context); empty for most parse errors. */
  readonly expression: string;

  constructor(message: string, options: TemplateErrorOptions) {
    // No `location`: the template name is often not a file (a component, an import path); callers that know the
    // manifest add it. Line and column are in the message, in `line`/`col` and in the code frame.
    super(message, {
      hint: options.hint,
      details: options.source === undefined ? undefined : codeFrame(options.source, options.line, options.col),
      cause: options.cause,
    });
    this.name = 'TemplateError';
    this.templateName = options.templateName;
    this.line = options.line;
    this.col = options.col;
    this.expression = options.expression ?? '';
  }
}

/** Line (1-based) and Go-style column (0-based offset in the line) of a source offset. */
export function lineCol(text: string, pos: number): { line: number; goCol: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < pos; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, goCol: pos - lineStart };
}
