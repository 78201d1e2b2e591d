/** Levenshtein distance, small and allocation-light: suggestions run on at most a few thousand names. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The candidates closest to `name`, best first: exact case-insensitive matches, then substrings,
 * then names within an edit distance of about a third of the name's length.
 */
export function closestNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const lower = name.toLowerCase();
  const scored: Array<{ candidate: string; score: number }> = [];
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    let score: number;
    if (other === lower) score = 0;
    else if (other.includes(lower) || lower.includes(other)) score = 1;
    else {
      const distance = editDistance(lower, other);
      if (distance > Math.max(2, Math.ceil(Math.max(lower.length, other.length) / 3))) continue;
      score = 1 + distance;
    }
    scored.push({ candidate, score });
  }
  scored.sort((x, y) => x.score - y.score || x.candidate.localeCompare(y.candidate));
  return scored.slice(0, max).map((s) => s.candidate);
}

/** "Did you mean 'x'?" or "Did you mean one of: 'x', 'y'?", or undefined when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const close = closestNames(name, candidates);
  if (close.length === 0) return undefined;
  if (close.length === 1) return `Did you mean '${close[0]}'?`;
  return `Did you mean one of: ${close.map((c) => `'${c}'`).join(', ')}?`;
}

/** A few lines of source around line:col with a caret, like a compiler prints. Lines and columns are 1-based. */
export function codeFrame(source: string, line: number, col = 1, context = 2): string {
  const lines = source.split(/\r?\n/);
  const first = Math.max(1, line - context);
  const last = Math.min(lines.length, line + context);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const marker = n === line ? '>' : ' ';
    out.push(`${marker} ${String(n).padStart(width)} | ${lines[n - 1]}`);
    if (n === line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, col - 1))}^`);
  }
  return out.join('\n');
}
