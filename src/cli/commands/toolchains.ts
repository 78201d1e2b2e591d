import type { Command } from 'commander';

/** Commands of the toolchains concern (filled in by the issue that builds it). */
export function register(_program: Command): void {}
