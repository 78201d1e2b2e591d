/**
 * iac-driver's manifest command lines on `strata manifest`: `apply|destroy|test|validate -M NAME -H HOST` with
 * --manifest-file, --manifest-json, --depth, --skip-preflight, --self-addr, --dry-run, --json-output and -y, read
 * from an iac-driver site-config folder (--site-config, else $HOMESTAK_ROOT/config). The operator module decides
 * when a command line is iac-driver's and hands the views it shares with `strata manifest` in.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { Manifest, PreflightResult, ProxmoxConnection, StackContext } from '../../operator/index.ts';
import type { ManifestEvent, ManifestResult } from '../../services/manifest.ts';
import type { SiteVerb } from '../../services/siteconfig.ts';
import { globalMasker } from '../../util/mask.ts';
import { render } from '../output.ts';

export interface IacDriverOptions {
  manifest?: string;
  manifestFile?: string;
  manifestJson?: string;
  host?: string;
  siteConfig?: string;
  depth?: string;
  skipPreflight?: boolean;
  selfAddr?: string;
  dryRun?: boolean;
  jsonOutput?: boolean;
  yes?: boolean;
  stack?: string;
  simulator?: boolean;
  verbose?: boolean;
}

/** What `strata manifest` lends: its progress view, its result text and its destroy question. */
export interface ManifestViews {
  progress(): Promise<(event: ManifestEvent) => void>;
  text(outcome: ManifestResult): string;
  confirm(manifest: Manifest, where: string): Promise<boolean>;
  simulator(): Promise<(context: StackContext) => Promise<ProxmoxConnection>>;
}

/** Adds iac-driver's flags to a `strata manifest` verb. */
export function addIacDriverOptions(command: Command, verb: SiteVerb): Command {
  command
    .option('-M, --manifest <name>', 'iac-driver: a manifest of the site-config (manifests/<name>.yaml)')
    .option('--site-config <dir>', 'iac-driver site-config folder (default $HOMESTAK_ROOT/config)');
  if (verb === 'validate') return command.option('--manifest-json <json>', 'iac-driver: the manifest as JSON text');
  return command
    .option('--manifest-json <json>', 'iac-driver: the manifest as JSON text')
    .option('-H, --host <[user@]host>', 'iac-driver: the PVE node of the site-config (nodes/<host>.yaml)')
    .option('--depth <n>', 'iac-driver: only the first n nodes of the manifest')
    .option('--skip-preflight', 'iac-driver: skip the checks of the PVE API before the run')
    .option('--self-addr <address>', 'iac-driver: the address nodes reach this machine at')
    .option('-v, --verbose', 'iac-driver: accepted (progress is always on standard error)');
}

/** An iac-driver command line: -H, --manifest-json or --site-config, or -M without a stack. */
export function isIacDriverCall(options: IacDriverOptions): boolean {
  return (
    options.host !== undefined ||
    options.manifestJson !== undefined ||
    options.siteConfig !== undefined ||
    (options.manifest !== undefined && options.stack === undefined)
  );
}

function depthOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--depth must be a whole number >= 1 (got '${value}')`);
  return n;
}

function preflightText(result: PreflightResult): string {
  const lines = ['Preflight checks failed:'];
  for (const check of result.checks.filter((c) => c.status === 'fail')) {
    lines.push(`  ✗ ${check.name}: ${check.message}`);
    if (check.hint) lines.push(`      ${check.hint}`);
  }
  lines.push('Use --skip-preflight to bypass these checks');
  return `${lines.join('\n')}\n`;
}

/** Runs `manifest <verb>` the iac-driver way. */
export async function runIacDriverVerb(
  verb: SiteVerb,
  name: string | undefined,
  options: IacDriverOptions,
  views: ManifestViews,
): Promise<void> {
  const manifest = { name: options.manifest ?? name, file: options.manifestFile, json: options.manifestJson };
  if (!manifest.name && !manifest.file && manifest.json === undefined) {
    throw new UsageError('one of -M/--manifest, --manifest-file or --manifest-json is required');
  }
  const { runSiteManifest } = await import('../../services/siteconfig.ts');
  const outcome = await runSiteManifest({
    verb,
    siteConfig: options.siteConfig,
    manifest,
    host: options.host,
    depth: depthOf(options.depth),
    dryRun: options.dryRun,
    skipPreflight: options.skipPreflight || options.simulator,
    selfAddr: options.selfAddr,
    connection: options.simulator ? await views.simulator() : undefined,
    scratchState: options.simulator,
    confirmDestroy: options.yes || options.simulator ? undefined : views.confirm,
    onEvent: verb === 'validate' ? undefined : await views.progress(),
  });
  if (verb === 'validate') {
    const { name: manifestName, nodes } = outcome.result.manifest;
    process.stdout.write(`Manifest '${manifestName}' is valid (${nodes} node${nodes === 1 ? '' : 's'})\n`);
    return;
  }
  if (outcome.preflight) process.stderr.write(preflightText(outcome.preflight));
  if (options.jsonOutput) {
    // A dry run's preview goes to standard error, so standard output holds one JSON document only.
    if (options.dryRun && outcome.result.run) process.stderr.write(views.text(outcome.result));
    process.stdout.write(render(outcome.json, 'json'));
  } else if (outcome.result.run) process.stdout.write(views.text(outcome.result));
  if (outcome.exitCode !== 0) process.exitCode = 1;
}

/** `--json-output` when the run could not start: the same shape, failed, with the error. */
export function iacDriverFailure(verb: SiteVerb, error: unknown): string {
  const message = globalMasker.mask(error instanceof Error ? error.message : String(error));
  return render({ verb, success: false, duration_seconds: 0, nodes: [], error: message }, 'json');
}
