/**
 * Template functions of the stacks beyond Go's, Sprig's and Gomplate's (src/template): `atmos.Component`.
 */
import type { FuncMap } from '../template/index.ts';

const text = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

/** Functions for component templates; `component` looks up another component of the repository (sync, cached). */
export function stackTemplateFunctions(component: (name: string, stack: string) => Record<string, unknown>): FuncMap {
  return {
    atmos: () => ({ Component: (name: unknown, stack: unknown) => component(text(name), text(stack)) }),
  };
}
