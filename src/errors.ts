/**
 * One error type for every user-facing failure. It carries where (file, line, column), what to do next (hint),
 * and the exit code, so the CLI can print an actionable message without a stack trace.
 */
export interface SourceLocation {
  file: string;
  line?: number;
  col?: number;
}

export interface StrataErrorOptions {
  location?: SourceLocation;
  hint?: string;
  /** Extra lines printed after the message, e.g. a code frame or an import chain. */
  details?: string;
  exitCode?: number;
  cause?: unknown;
}

export class StrataError extends Error {
  readonly location?: SourceLocation;
  readonly hint?: string;
  readonly details?: string;
  readonly exitCode: number;

  constructor(message: string, options: StrataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StrataError';
    this.location = options.location;
    this.hint = options.hint;
    this.details = options.details;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Wrong command-line usage: exit code 2, as the wrapped tools and Atmos do. */
export class UsageError extends StrataError {
  constructor(message: string, options: Omit<StrataErrorOptions, 'exitCode'> = {}) {
    super(message, { ...options, exitCode: 2 });
    this.name = 'UsageError';
  }
}

export function formatLocation(location: SourceLocation): string {
  let text = location.file;
  if (location.line !== undefined) {
    text += `:${location.line}`;
    if (location.col !== undefined) text += `:${location.col}`;
  }
  return text;
}

/** Renders an error for a terminal: message, location, details, hint. Never a stack trace for StrataError. */
export function formatError(error: StrataError): string {
  const lines = [`Error: ${error.message}`];
  if (error.location) lines.push(`  at ${formatLocation(error.location)}`);
  if (error.details) lines.push('', error.details);
  if (error.hint) lines.push('', `Hint: ${error.hint}`);
  return lines.join('\n');
}
