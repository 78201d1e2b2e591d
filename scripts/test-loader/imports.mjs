// Which test files need what: relative imports followed through the repository's own files.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Whether `file` imports `target`, directly or through other files (relative `.ts` imports only). */
export function reaches(file, target, seen = new Set()) {
  if (file === target) return true;
  if (seen.has(file)) return false;
  seen.add(file);
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+\.ts)'/g)].map((m) => m[1]);
  return specifiers.some((spec) => reaches(join(dirname(file), spec), target, seen));
}
