import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import type { IacDriverSite } from '../../controller/iacdriver-site.ts';
import {
  type Controller,
  type Credentials,
  DEFAULT_BIND,
  DEFAULT_PORT,
  decodeClaims,
  defaultSigningKeyFile,
  issueToken,
  loadSigningKey,
  parseDuration,
  type SpecSource,
  siteConfigSpecSource,
  startController,
  verifyToken,
} from '../../controller/index.ts';
import { StrataError, UsageError } from '../../errors.ts';
import { didYouMean } from '../../util/suggest.ts';
import { parseFormat, render } from '../output.ts';
import { globals } from '../shared.ts';

export const SITE_TOKEN_ENV = 'STRATA_SITE_TOKEN';
export const REPO_TOKEN_ENV = 'STRATA_REPO_TOKEN';

interface ServeOptions {
  bind: string;
  port: string;
  cert?: string;
  key?: string;
  signingKey?: string;
  siteTokenFile?: string;
  siteConfig?: string;
  protocol?: string;
  repo?: string | false;
  git: boolean;
  rateLimit: string;
  burst: string;
  maxBody: string;
  drainTimeout: string;
  handshakeTimeout: string;
  headerTimeout: string;
  json?: boolean;
}

interface SourceOptions {
  siteConfig?: string;
  protocol?: string;
}

/** With --site-config the daemon speaks iac-driver's protocol unless --protocol strata asks for strata's. */
function protocolOf(opts: SourceOptions): 'strata' | 'iac-driver' {
  const protocol = opts.protocol ?? (opts.siteConfig ? 'iac-driver' : 'strata');
  if (protocol !== 'strata' && protocol !== 'iac-driver') {
    throw new UsageError(`invalid --protocol '${protocol}'`, { hint: 'use strata or iac-driver' });
  }
  if (protocol === 'iac-driver' && !opts.siteConfig) {
    throw new UsageError('--protocol iac-driver needs --site-config <dir>');
  }
  return protocol;
}

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** Specs from an iac-driver site-config folder, or from the stacks (loaded lazily: only `serve` needs the engine). */
async function openSource(cmd: Command, opts: SourceOptions): Promise<SpecSource> {
  if (opts.siteConfig && protocolOf(opts) === 'iac-driver') {
    const { IacDriverSite } = await import('../../controller/iacdriver-site.ts');
    return IacDriverSite.open(resolve(opts.siteConfig));
  }
  if (opts.siteConfig) return siteConfigSpecSource(opts.siteConfig);
  const { stacksSpecSource } = await import('../../controller/stacks-source.ts');
  const { defaultResolvers } = await import('../../services/engine.ts');
  const g = globals(cmd);
  return stacksSpecSource({ configPath: g.config, basePath: g.basePath, resolvers: defaultResolvers });
}

async function readCredentials(opts: { signingKey?: string; siteTokenFile?: string }): Promise<Credentials> {
  const key = await loadSigningKey({ file: opts.signingKey });
  let siteToken = process.env[SITE_TOKEN_ENV] || undefined;
  if (opts.siteTokenFile) {
    try {
      siteToken = (await readFile(opts.siteTokenFile, 'utf8')).trim();
    } catch (error) {
      throw new StrataError(`cannot read the site token file ${opts.siteTokenFile}: ${(error as Error).message}`);
    }
    if (siteToken.length < 16) {
      throw new StrataError(`the site token in ${opts.siteTokenFile} is shorter than 16 characters`, {
        hint: 'generate one with `openssl rand -hex 32`',
      });
    }
  }
  return { signingKey: key?.key, siteToken, repoToken: process.env[REPO_TOKEN_ENV] || undefined };
}

/** The folder served under /repo/: --repo, else the project's base path when it is a git work tree. */
async function repoFolder(cmd: Command, opts: ServeOptions): Promise<string | undefined> {
  if (opts.repo === false) return undefined;
  if (typeof opts.repo === 'string') return opts.repo;
  const { snapshotRepo } = await import('../../controller/repo.ts');
  const g = globals(cmd);
  const base = opts.siteConfig ?? loadConfig({ configPath: g.config, basePath: g.basePath }).basePath;
  return (await snapshotRepo(base, { mirror: false })) ? base : undefined;
}

async function serve(opts: ServeOptions, cmd: Command): Promise<void> {
  // First of all: a SIGHUP or SIGTERM sent while the stacks load must not kill the daemon half-started.
  const signals = installSignals();
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event: 'starting', pid: process.pid })}\n`);
  try {
    const controller = await startFromOptions(opts, cmd);
    await signals.serving(controller);
  } finally {
    signals.remove();
  }
}

async function startFromOptions(opts: ServeOptions, cmd: Command): Promise<Controller> {
  if ((opts.cert === undefined) !== (opts.key === undefined)) {
    throw new UsageError('--cert and --key go together', {
      hint: 'pass both, or neither for a self-signed certificate',
    });
  }
  const perSecond = integer(opts.rateLimit, '--rate-limit', 0, 1_000_000);
  const burst = integer(opts.burst, '--burst', 1, 1_000_000);
  const timeouts = {
    handshakeMs: parseDuration(opts.handshakeTimeout) * 1000,
    headersMs: parseDuration(opts.headerTimeout) * 1000,
  };
  const source = await openSource(cmd, opts);
  const repo = await repoFolder(cmd, opts);
  const iacDriver =
    protocolOf(opts) === 'iac-driver' ? await import('../../controller/iacdriver-routes.ts') : undefined;
  const controller = await startController({
    source,
    routes: iacDriver ? iacDriver.iacDriverRoutes(source as IacDriverSite) : undefined,
    bind: opts.bind,
    port: integer(opts.port, '--port', 0, 65535),
    tls: opts.cert && opts.key ? { certFile: opts.cert, keyFile: opts.key } : undefined,
    credentials: () => readCredentials(opts),
    repo,
    protectFiles: [opts.signingKey ?? defaultSigningKeyFile(), ...(opts.siteTokenFile ? [opts.siteTokenFile] : [])],
    gitMirror: opts.git,
    rateLimit: { perSecond, burst },
    maxBodyBytes: integer(opts.maxBody, '--max-body', 0, 1 << 30),
    timeouts,
    drainTimeoutMs: parseDuration(opts.drainTimeout) * 1000,
    // The daemon's log (access lines and lifecycle events, one JSON line each) goes to standard error.
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const nodes = source.identities();
  const summary = {
    url: controller.url,
    port: controller.port,
    fingerprint: controller.fingerprint,
    selfSigned: controller.selfSigned,
    nodes: nodes.length,
    repo: repo ?? null,
    pid: process.pid,
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `strata controller listening on ${controller.url}\n` +
        `TLS certificate SHA-256 fingerprint: ${controller.fingerprint}${controller.selfSigned ? ' (self-signed)' : ''}\n` +
        `serving ${nodes.length} node spec(s)${repo ? `; repository ${repo} under /repo/ and /repo.git/` : ''}\n` +
        'SIGHUP reloads, SIGTERM or Ctrl-C drains and stops\n',
    );
  }
  return controller;
}

/**
 * The daemon's signal handlers, installed before anything else. Until the controller runs, a SIGHUP is kept for
 * one reload once it does (the stacks may have been read before the edit it announces) and SIGTERM/SIGINT stop it
 * as soon as it is up; afterwards SIGHUP reloads and SIGTERM/SIGINT drain. `serving` resolves once it stopped.
 */
function installSignals(): { serving(controller: Controller): Promise<void>; remove(): void } {
  let controller: Controller | undefined;
  let reloadPending = false;
  let stopRequested = false;
  let stopped: () => void = () => undefined;
  const reload = () => {
    if (controller) void controller.reload();
    else reloadPending = true;
  };
  const stop = () => {
    stopRequested = true;
    if (controller) void controller.close().then(() => stopped());
  };
  const remove = () => {
    process.off('SIGHUP', reload);
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
  process.on('SIGHUP', reload);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return {
    serving: (running) =>
      new Promise<void>((resolve) => {
        controller = running;
        stopped = resolve;
        if (stopRequested) stop();
        else if (reloadPending) reload();
      }),
    remove,
  };
}

/** Options that `serve` declares and its `token` subcommands share (commander hands them to `serve`). */
function shared(cmd: Command): { signingKey?: string; siteConfig?: string } {
  const opts = cmd.optsWithGlobals() as { signingKey?: string; siteConfig?: string };
  return { signingKey: opts.signingKey, siteConfig: opts.siteConfig };
}

async function issue(
  identity: string,
  local: { ttl: string; check: boolean; format: string },
  cmd: Command,
): Promise<void> {
  const opts = { ...local, ...shared(cmd) };
  const format = parseFormat(opts.format, ['text', 'json']);
  const ttl = parseDuration(opts.ttl);
  if (opts.check) {
    const source = await openSource(cmd, opts);
    const node = source.node(identity);
    if (!node) {
      throw new StrataError(`no node '${identity}' in the ${opts.siteConfig ? 'site-config specs' : 'stacks'}`, {
        hint:
          didYouMean(identity, source.identities()) ??
          'nodes are component instances with settings.controller.identity (or --no-check to issue anyway)',
      });
    }
    if (node.auth !== 'node_token') {
      process.stderr.write(`note: node '${identity}' uses the '${node.auth}' posture; the token is accepted anyway\n`);
    }
  }
  const loaded = await loadSigningKey({ file: opts.signingKey, create: true });
  if (!loaded) throw new StrataError('no signing key');
  if (loaded.created) process.stderr.write(`created the signing key ${loaded.origin} (mode 0600)\n`);
  const now = Date.now();
  const token = issueToken(loaded.key, identity, ttl, now);
  const expires = new Date(now + Math.floor(ttl) * 1000).toISOString();
  if (format === 'json') process.stdout.write(`${JSON.stringify({ identity, token, expires })}\n`);
  else {
    // The token alone on stdout, so `TOKEN=$(strata serve token issue edge)` works.
    process.stdout.write(`${token}\n`);
    process.stderr.write(`token for '${identity}' expires ${expires}\n`);
  }
}

async function verify(token: string, local: { format: string }, cmd: Command): Promise<void> {
  const opts = { ...local, ...shared(cmd) };
  const format = parseFormat(opts.format, ['yaml', 'json']);
  const loaded = await loadSigningKey({ file: opts.signingKey });
  if (!loaded) {
    throw new StrataError('no signing key found', {
      hint: 'set STRATA_CONTROLLER_KEY, pass --signing-key, or issue a token first (it creates the key)',
    });
  }
  const check = verifyToken(loaded.key, token);
  const claims = decodeClaims(token);
  const data = {
    valid: check.ok,
    ...(check.ok ? {} : { reason: check.reason }),
    identity: claims?.n ?? null,
    issued: typeof claims?.iat === 'number' ? new Date(claims.iat * 1000).toISOString() : null,
    expires: typeof claims?.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : null,
  };
  process.stdout.write(render(data, format));
  if (!check.ok) process.exitCode = 1;
}

/** `strata serve` and `strata serve token issue|verify`. */
export function register(program: Command): void {
  const serveCommand = program
    .command('serve')
    .description('run the controller daemon: node specs and the repository over HTTPS')
    .option('--bind <address>', 'address to listen on', DEFAULT_BIND)
    .option('--port <port>', 'port to listen on (0: any free port)', String(DEFAULT_PORT))
    .option('--cert <file>', 'TLS certificate (PEM); default: a self-signed one made at start')
    .option('--key <file>', 'TLS private key (PEM) for --cert')
    .option(
      '--signing-key <file>',
      'node token signing key (default $STRATA_CONTROLLER_KEY or ~/.config/strata/controller.key)',
    )
    .option('--site-token-file <file>', `file holding the site token (default $${SITE_TOKEN_ENV})`)
    .option('--site-config <dir>', 'serve an iac-driver site-config (specs/, postures/) instead of the stacks')
    .option('--protocol <protocol>', 'iac-driver (default with --site-config: its endpoints and tokens) or strata')
    .option('--repo <dir>', 'git work tree served under /repo/ and /repo.git/ (default: the base path, if in git)')
    .option('--no-repo', 'serve no repository')
    .option('--no-git', 'serve files under /repo/ only, not git dumb HTTP under /repo.git/')
    .option('--rate-limit <n>', 'requests per second per client address (0: no limit)', '50')
    .option('--burst <n>', 'requests a client may send at once', '100')
    .option('--max-body <bytes>', 'largest request body accepted', '16384')
    .option('--drain-timeout <duration>', 'how long SIGTERM waits for in-flight requests', '10s')
    .option('--handshake-timeout <duration>', 'time a client has to complete the TLS handshake', '10s')
    .option('--header-timeout <duration>', 'time a client has to send its request headers', '10s')
    .option('--json', 'print the startup information (url, port, fingerprint, pid) as one JSON line')
    .addHelpText(
      'after',
      `
Nodes are component instances whose settings hold controller.identity (see docs/controller.md):
  settings:
    controller: { identity: edge, auth: node_token, spec: { platform: { packages: [htop] } } }

Examples:
  strata serve                                   # https://127.0.0.1:44443, self-signed certificate
  strata serve --bind 0.0.0.0 --port 8443 --cert tls.crt --key tls.key
  STRATA_SITE_TOKEN=$(cat site.token) strata serve --site-config ../site-config
  TOKEN=$(strata serve token issue edge --ttl 24h)
  curl -k -H "Authorization: Bearer $TOKEN" https://127.0.0.1:44443/spec/edge
  kill -HUP <pid>                                # reload stacks, keys and repository`,
    )
    .action(serve);

  // --signing-key and --site-config belong to `serve` (commander parses parent options anywhere on the line),
  // so `strata serve token issue edge --signing-key k` reads them from there.
  const token = serveCommand
    .command('token')
    .description('issue and check node tokens (also takes --signing-key and --site-config)');
  token
    .command('issue <identity>')
    .description('print a signed token that lets one node read its spec and the repository')
    .option('--ttl <duration>', 'lifetime: 90s, 30m, 24h, 7d', '24h')
    .option('--no-check', 'issue even when no such node exists (yet)')
    .option('--format <format>', 'text (the token alone) or json', 'text')
    .addHelpText(
      'after',
      '\nThe signing key (--signing-key, $STRATA_CONTROLLER_KEY or ~/.config/strata/controller.key) is created when missing.\n' +
        '\nExamples:\n  strata serve token issue edge\n  strata serve token issue edge --ttl 7d --format json --signing-key ./controller.key',
    )
    .action(issue);
  token
    .command('verify <token>')
    .description('check a token offline: signature, expiry, identity (exit 1 when invalid)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .addHelpText('after', '\nExample:\n  strata serve token verify "$TOKEN"')
    .action(verify);
}
