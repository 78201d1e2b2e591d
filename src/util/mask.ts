/**
 * Replaces every known secret value in text before it is printed, logged or recorded.
 * One process-wide masker is shared by the subprocess runner, reports and the CLI printers.
 */
export const MASK = '***';

export class Masker {
  #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Registers a secret. Values shorter than 4 characters are ignored: masking them would garble ordinary output. */
  add(value: string | undefined | null): void {
    if (value === undefined || value === null) return;
    const text = String(value);
    if (text.length < 4 || this.#values.has(text)) return;
    this.#values.add(text);
    // Multi-line secrets (keys, certificates) are also masked line by line, as tools print them line by line.
    for (const line of text.split(/\r?\n/)) if (line.trim().length >= 8) this.#values.add(line.trim());
    this.#pattern = undefined;
  }

  get size(): number {
    return this.#values.size;
  }

  mask(text: string): string {
    if (this.#values.size === 0) return text;
    if (!this.#pattern) {
      // Longest first, so a secret that contains another is replaced whole.
      const sorted = [...this.#values].sort((a, b) => b.length - a.length);
      this.#pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    }
    return text.replace(this.#pattern, MASK);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The process-wide masker: everything strata prints or writes goes through it. */
export const globalMasker = new Masker();
