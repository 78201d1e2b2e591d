/** One finding of `validate stacks` / `validate config`: returned, never printed, by the services. */
export interface ValidationProblem {
  severity: 'error' | 'warning';
  stack?: string;
  component?: string;
  file?: string;
  line?: number;
  col?: number;
  message: string;
  hint?: string;
}

/** The first line of `source` that sets `key` (`key:` at any indentation), for file:line in messages. */
export function lineOfKey(source: string, key: string): number | undefined {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^[ \\t-]*["']?${escaped}["']?[ \\t]*:`, 'm').exec(source);
  if (!match) return undefined;
  return source.slice(0, match.index).split('\n').length;
}
