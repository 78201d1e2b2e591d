/**
 * HCL files (`.tf`, `.tfvars`, `.hcl`) as data, for `!include`: HashiCorp's own parser (@cdktn/hcl2json, Go compiled
 * to WebAssembly), called synchronously because manifests are read synchronously. Expressions that are not constant
 * (`var.x`, function calls) come back as `${...}` strings, as in HCL's JSON form.
 */
import { StrataError } from '../errors.ts';
import { callSync } from '../util/sync-call.ts';

export const HCL_EXTENSIONS = ['.tf', '.tfvars', '.hcl'];

/** Parses one HCL file; syntax errors name the file, line and column. */
export function parseHclSync(text: string, file: string): Record<string, unknown> {
  try {
    return callSync<Record<string, unknown>>(import.meta.resolve('@cdktn/hcl2json'), 'parse', [file, text]);
  } catch (error) {
    if (error instanceof StrataError) throw error;
    const message = String((error as Error).message ?? error);
    const position = /:(\d+),(\d+)/.exec(message);
    throw new StrataError(`invalid HCL in ${file}: ${message.replace(/^parse config: \[|\]$/g, '')}`, {
      location: {
        file,
        line: position ? Number(position[1]) : undefined,
        col: position ? Number(position[2]) : undefined,
      },
    });
  }
}
