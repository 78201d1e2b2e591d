import type { Command } from 'commander';

/** describe / list / validate commands over stacks. */
export function register(_program: Command): void {}
