/**
 * What a Packer template asks of Packer itself (`packer { required_version, required_plugins }`), read from its
 * *.pkr.hcl files before anything runs, so an old Packer (Debian's 1.6.6) fails with the fix instead of a page of
 * "Unsupported argument" errors.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PackerRequirements {
  /** `required_version` and the file that sets it. */
  version?: { constraint: string; file: string };
  /** The file with a `required_plugins` block (Packer >= 1.7). */
  pluginsFile?: string;
}

/** The `packer { ... }` blocks of a file (top level, balanced braces; strings do not hold braces in practice). */
function packerBlocks(text: string): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(/^\s*packer\s*\{/gm)) {
    let depth = 0;
    const start = (match.index ?? 0) + match[0].length - 1;
    for (let i = start; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) {
        blocks.push(text.slice(start, i + 1));
        break;
      }
    }
  }
  return blocks;
}

/** The requirements of the template files in `dir` (or of the one file `template` names). */
export async function packerRequirements(dir: string, template = '.'): Promise<PackerRequirements> {
  const files = template.endsWith('.pkr.hcl')
    ? [template]
    : (await readdir(join(dir, template)).catch(() => [] as string[]))
        .filter((f) => f.endsWith('.pkr.hcl'))
        .sort()
        .map((f) => join(template, f).replace(/^\.\//, ''));
  const found: PackerRequirements = {};
  for (const file of files) {
    const text = (await readFile(join(dir, file), 'utf8').catch(() => '')).replace(/^\s*(#|\/\/).*$/gm, '');
    for (const block of packerBlocks(text)) {
      const constraint = /required_version\s*=\s*"([^"]*)"/.exec(block)?.[1];
      if (constraint && !found.version) found.version = { constraint, file };
      if (/required_plugins\s*\{/.test(block) && !found.pluginsFile) found.pluginsFile = file;
    }
  }
  return found;
}

function parts(version: string): number[] {
  const numbers = version.split('-')[0].split('.').map(Number);
  return [numbers[0] || 0, numbers[1] || 0, numbers[2] || 0];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Whether `version` meets a HashiCorp constraint (`>= 1.10.0, < 2`, `~> 1.9`, `= 1.11.2`); unknown terms pass. */
export function satisfies(version: string, constraint: string): boolean {
  const have = parts(version);
  return constraint.split(',').every((term) => {
    const match = /^\s*(>=|<=|!=|~>|>|<|=)?\s*v?(\d+(?:\.\d+){0,2})\s*$/.exec(term);
    if (!match) return true;
    const [, op = '=', text] = match;
    const want = parts(text);
    const order = compare(have, want);
    switch (op) {
      case '>=':
        return order >= 0;
      case '>':
        return order > 0;
      case '<=':
        return order <= 0;
      case '<':
        return order < 0;
      case '!=':
        return order !== 0;
      case '~>': {
        // ~> 1.9 allows 1.x >= 1.9; ~> 1.9.2 allows 1.9.x >= 1.9.2.
        const fixed = text.split('.').length - 1;
        return order >= 0 && have.slice(0, fixed).every((n, i) => n === want[i]);
      }
      default:
        return order === 0;
    }
  });
}
