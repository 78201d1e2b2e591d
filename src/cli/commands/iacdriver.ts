/**
 * iac-driver's other command lines: `config fetch|apply` (pull-mode nodes), `server start|stop|status` (the
 * daemon around `strata serve --site-config`), `token inspect` and `scenario` (refused with the strata command to use).
 * The manifest verbs live with `strata manifest` (iacdriver-manifest.ts).
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { render } from '../output.ts';
import { selfInvocation } from '../shared.ts';

const node = () => import('../../services/iacdriver-node.ts');
const daemon = () => import('../../services/server-daemon.ts');

/** What each iac-driver scenario is in strata. */
const SCENARIOS: Record<string, string> = {
  'push-vm-roundtrip': 'strata manifest test -M n1-push -H <host>',
  'pull-vm-roundtrip': 'strata manifest test -M n1-pull -H <host>',
  'pve-setup': 'strata ansible playbook <component> -s <stack> (a component whose playbook sets PVE up)',
  'pve-config': 'strata config fetch && strata config apply on the node',
  'user-setup': 'strata ansible playbook <component> -s <stack> (a component whose playbook creates the user)',
};

function scenario(name: string | undefined): never {
  const equivalent = name ? SCENARIOS[name] : undefined;
  throw new UsageError(
    `iac-driver scenarios are not part of strata${name ? ` ('${name}')` : ''}: strata runs manifests, workflows and toolchains`,
    {
      hint: equivalent
        ? `use: ${equivalent}`
        : `use strata manifest test|apply|destroy -M <manifest> -H <host> for VM round trips, strata workflow for phase lists; known scenarios: ${Object.keys(SCENARIOS).join(', ')}`,
    },
  );
}

function portOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--port must be 1-65535 (got '${value}')`);
  return port;
}

interface FetchOptions {
  insecure?: boolean;
  server?: string;
  identity?: string;
  jsonOutput?: boolean;
}

async function configFetch(options: FetchOptions): Promise<void> {
  const { fetchConfig } = await node();
  const result = await fetchConfig({ server: options.server, identity: options.identity, insecure: options.insecure });
  if (options.jsonOutput) process.stdout.write(render(result, 'json'));
  else if (result.exitCode === 0) process.stdout.write(`Spec for '${result.identity}' saved to ${result.path}\n`);
  if (result.error) {
    const code = result.error.code ? `${result.error.code} ` : '';
    process.stderr.write(
      `Error: ${code}${result.error.message}${result.error.status ? ` (HTTP ${result.error.status})` : ''}\n`,
    );
  }
  process.exitCode = result.exitCode;
}

interface ApplyOptions {
  spec?: string;
  playbook?: string;
  dryRun?: boolean;
  jsonOutput?: boolean;
}

async function configApply(options: ApplyOptions): Promise<void> {
  const { applyConfig } = await node();
  const result = await applyConfig({
    spec: options.spec,
    playbook: options.playbook,
    dryRun: options.dryRun,
    // The playbook's output is progress: standard error, so standard output stays one JSON document.
    onLine: (line) => process.stderr.write(`${line}\n`),
  });
  if (result.error) process.stderr.write(`Error: ${result.error}\n`);
  if (options.dryRun && result.exitCode === 0) {
    const preview = { spec: result.spec, spec_path: result.specPath, ansible_vars: result.vars, dry_run: true };
    process.stdout.write(render(preview, options.jsonOutput ? 'json' : 'yaml'));
  } else if (options.jsonOutput) {
    process.stdout.write(
      render(
        {
          phase: 'config',
          success: result.exitCode === 0,
          spec: result.spec,
          duration_seconds: result.durationSeconds,
          packages: result.vars.packages ?? [],
          services_enabled: result.vars.services_enable ?? [],
          services_disabled: result.vars.services_disable ?? [],
          users: result.users,
          ...(result.error ? { error: result.error } : {}),
        },
        'json',
      ),
    );
  } else if (result.exitCode === 0) process.stdout.write(`Config applied: ${result.spec} (marker ${result.marker})\n`);
  process.exitCode = result.exitCode;
}

interface ServerOptions {
  port?: string;
  bind?: string;
  siteConfig?: string;
  cert?: string;
  key?: string;
  noRepo?: boolean;
  repo?: boolean;
  json?: boolean;
}

async function serverStart(options: ServerOptions): Promise<void> {
  const { startServer } = await daemon();
  const { siteConfigDir } = await import('../../operator/siteconfig.ts');
  const status = await startServer({
    siteConfig: siteConfigDir(options.siteConfig),
    port: portOf(options.port),
    bind: options.bind,
    cert: options.cert,
    key: options.key,
    noRepo: options.repo === false,
    repoToken: process.env.STRATA_REPO_TOKEN,
    self: selfInvocation(),
  });
  if (options.json) process.stdout.write(render(status, 'json'));
  else if (status.started) process.stdout.write(`Server started (PID ${status.pid}, port ${options.port ?? 44443})\n`);
  else process.stdout.write(`Server already running (PID ${status.pid}, port ${options.port ?? 44443})\n`);
}

async function serverStop(options: ServerOptions): Promise<void> {
  const { stopServer } = await daemon();
  const result = await stopServer({ port: portOf(options.port) });
  if (options.json) process.stdout.write(render(result, 'json'));
  else process.stdout.write(result.stopped ? `Server stopped (PID ${result.pid})\n` : 'Server not running\n');
}

async function serverStatus(options: ServerOptions): Promise<void> {
  const status = await (await daemon()).serverStatus({ port: portOf(options.port), bind: options.bind });
  if (options.json) process.stdout.write(render(status, 'json'));
  else if (!status.running) process.stdout.write('Server not running\n');
  else process.stdout.write(`Server running (PID ${status.pid}), ${status.healthy ? 'healthy' : 'not healthy'}\n`);
  process.exitCode = status.running ? (status.healthy ? 0 : 2) : 1;
}

async function tokenInspect(token: string, options: { verify?: boolean; siteConfig?: string; json?: boolean }) {
  const { inspectToken } = await node();
  const result = await inspectToken(token, { verify: options.verify, siteConfig: options.siteConfig });
  if (options.json) process.stdout.write(render(result, 'json'));
  else {
    const lines = Object.entries(result.claims ?? {}).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
    if (result.issued) lines.push(`  issued: ${result.issued}`);
    if (options.verify)
      lines.push(`Signature: ${result.valid ? 'VALID' : 'INVALID'}${result.reason ? ` (${result.reason})` : ''}`);
    process.stdout.write(`Claims:\n${lines.join('\n')}\n`);
  }
  if (options.verify && !result.valid) process.exitCode = 1;
}

export function register(program: Command): void {
  program
    .command('scenario [words...]')
    .description("iac-driver's scenarios: not part of strata (prints the strata command to use instead)")
    .allowUnknownOption()
    .action((words: string[]) => scenario(words[0] === 'run' ? words[1] : words[0]));

  const config = program.command('config').description('pull-mode nodes (iac-driver): fetch the spec, apply it');
  config
    .command('fetch')
    .description(
      'GET $HOMESTAK_SERVER/spec/<hostname> with $HOMESTAK_TOKEN into $HOMESTAK_ROOT/.state/config/spec.yaml',
    )
    .option('-k, --insecure', "accept the server's self-signed certificate (also HOMESTAK_INSECURE=1)")
    .option('--server <url>', 'server URL (default $HOMESTAK_SERVER)')
    .option('--identity <name>', 'identity asked for (default: this host name)')
    .option('--json-output', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 saved, 1 client error (token, identity), 2 server or network, 3 validation.\n',
    )
    .action(configFetch);
  config
    .command('apply')
    .description('apply the fetched spec: Ansible variables, the config-apply playbook here, the marker complete.json')
    .option('--spec <path>', 'spec file (default $HOMESTAK_ROOT/.state/config/spec.yaml)')
    .option('--playbook <path>', 'playbook (default $HOMESTAK_ROOT/iac/ansible/playbooks/config-apply.yml)')
    .option('--dry-run', 'print the spec and the Ansible variables, run nothing')
    .option('--json-output', 'print the result as JSON')
    .action(configApply);

  const server = program
    .command('server')
    .description("iac-driver's server daemon: strata serve --site-config in the background, with a pid file");
  for (const [verb, action, description] of [
    ['start', serverStart, 'start the daemon (reuses a healthy one) and wait for /health'],
    ['stop', serverStop, 'stop the daemon (SIGTERM, SIGKILL after 10 s)'],
    ['status', serverStatus, 'exit 0 healthy, 1 not running, 2 running but not healthy'],
  ] as const) {
    const cmd = server
      .command(verb)
      .description(description)
      .option('-p, --port <port>', 'port', '44443')
      .option('-b, --bind <address>', 'address', '127.0.0.1')
      .option('--json', 'print the result as JSON');
    if (verb === 'start') {
      cmd
        .option('--site-config <dir>', 'site-config folder (default $HOMESTAK_ROOT/config)')
        .option('--cert <file>', 'TLS certificate (PEM)')
        .option('--key <file>', 'TLS key (PEM)')
        .option('--no-repo', 'serve no repository (default: the site-config, when it is a git work tree)');
    }
    cmd.action(action);
  }

  program
    .command('token')
    .description('provisioning tokens (iac-driver)')
    .command('inspect <token>')
    .description('print the claims of a provisioning token; --verify checks it with secrets.auth.signing_key')
    .option('--verify', 'check the signature (exit 1 when invalid)')
    .option('--site-config <dir>', 'site-config folder (default $HOMESTAK_ROOT/config)')
    .option('--json', 'print the result as JSON')
    .action(tokenInspect);
}
