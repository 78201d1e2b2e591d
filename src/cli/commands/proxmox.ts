import type { Command } from 'commander';

/** Commands of the proxmox concern: the PVE simulator (filled in by the issue that builds it). */
export function register(_program: Command): void {}
