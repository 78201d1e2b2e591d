/**
 * `strata version`: strata's own version, the Node it runs on, and the versions of the tools it drives, found on
 * PATH (a tool that is missing or fails to answer is reported as such, never an error).
 */
import { run } from '../exec/index.ts';
import { VERSION } from '../util/version.ts';

export interface ToolVersion {
  tool: string;
  /** The version the tool reports, or undefined when it is missing or did not answer. */
  version?: string;
  /** Why there is no version: `not found` or the tool's own complaint. */
  problem?: string;
}

export interface VersionReport {
  strata: string;
  node: string;
  platform: string;
  /** True when strata runs as the single executable. */
  singleExecutable: boolean;
  tools: ToolVersion[];
}

interface Probe {
  tool: string;
  args: string[];
  read: (stdout: string) => string | undefined;
}

const fromJson = (pick: (data: Record<string, unknown>) => unknown) => (stdout: string) => {
  const value = pick(JSON.parse(stdout) as Record<string, unknown>);
  return typeof value === 'string' ? value.replace(/^v/, '') : undefined;
};
const fromText = (pattern: RegExp) => (stdout: string) => pattern.exec(stdout)?.[1];

const PROBES: Probe[] = [
  { tool: 'terraform', args: ['version', '-json'], read: fromJson((d) => d.terraform_version) },
  { tool: 'tofu', args: ['version', '-json'], read: fromJson((d) => d.terraform_version) },
  { tool: 'packer', args: ['version'], read: fromText(/Packer v?(\d+\.\d+\.\d+\S*)/) },
  {
    tool: 'kubectl',
    args: ['version', '--client', '-o', 'json'],
    read: fromJson((d) => (d.clientVersion as Record<string, unknown> | undefined)?.gitVersion),
  },
  { tool: 'ansible', args: ['--version'], read: fromText(/^ansible (?:\[core )?(\d+\.\d+\.\d+\S*?)\]?$/m) },
];

async function probe({ tool, args, read }: Probe): Promise<ToolVersion> {
  try {
    const result = await run(tool, args, { stdio: 'capture', timeoutMs: 10_000 });
    const version = result.exitCode === 0 ? read(result.stdout) : undefined;
    if (version) return { tool, version };
    const said = (result.stderr || result.stdout).trim().split('\n')[0];
    return { tool, problem: said || `exit code ${result.exitCode}` };
  } catch (error) {
    const message = (error as Error).message;
    return { tool, problem: /not found/.test(message) ? 'not found' : message };
  }
}

export async function isSingleExecutable(): Promise<boolean> {
  try {
    return (await import('node:sea')).isSea();
  } catch {
    return false;
  }
}

export async function versionReport(): Promise<VersionReport> {
  return {
    strata: VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    singleExecutable: await isSingleExecutable(),
    tools: await Promise.all(PROBES.map(probe)),
  };
}
