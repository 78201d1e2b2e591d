/** Colour for terminals: decided once here for every view and every tool strata runs (`-no-color` and friends). */

/** Colour only on a terminal and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
export type Color = keyof typeof codes;

export function paint(text: string, color: Color, stream: NodeJS.WriteStream = process.stdout): string {
  return useColor(stream) ? ansi(text, color) : text;
}

/** The text in the colour, unconditionally: for callers that decided colour once (useColor) for a whole run. */
export function ansi(text: string, color: Color): string {
  return `\u001b[${codes[color]}m${text}\u001b[0m`;
}
