/**
 * What every journey shares: a throw-away project (a git repository), a temp folder the installed strata uses as
 * TMPDIR and for its private secret files, a folder for what the tools themselves write (the artifacts a journey
 * checks), the installed `strata` run as a user runs it, and the scan for plain-text secrets left behind.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  type Dirent,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { installedStrata } from '../helpers/installed.ts';

export interface CliRun {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Journey {
  root: string;
  /** The installed `node_modules/.bin/strata`. */
  bin: string;
  /** The project: atmos.yaml, stacks/, components/; a git repository. */
  repo: string;
  /** TMPDIR and STRATA_SECRET_TMPDIR of every strata process. */
  tmp: string;
  /** Where the tools write their artifacts (these hold the secrets on purpose; never scanned). */
  out: string;
  env: NodeJS.ProcessEnv;
  /** Every stdout and stderr strata printed, for the secret scan. */
  printed: string[];
  /** How long each strata command took (ms), in order. */
  timings: Array<[string, number]>;
  write(files: Record<string, string>): void;
  git(...args: string[]): string;
  /** Runs the installed strata to its end (bounded by `timeoutMs`). */
  strata(args: string[], options?: RunOptions): Promise<CliRun>;
  /** Starts the installed strata and hands back the process and its eventual result. */
  start(args: string[], options?: RunOptions): { child: ChildProcess; done: Promise<CliRun> };
  cleanup(): void;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /**
   * `bin` (default): node_modules/.bin/strata. `library`: a program outside the package that imports 'strata-iac'
   * and runs the workflow named by `workflow <name> [-f file] [--resume]` with `workflows.runWorkflow`, so code
   * loaded as a library (not started as the CLI) is exercised.
   */
  entry?: 'bin' | 'library';
}

/** The atmos.yaml of a journey repository: Terraform components, stacks named by their `stage` var. */
export const TERRAFORM_ATMOS_YAML = `base_path: .
components:
  terraform:
    base_path: components/terraform
stacks:
  base_path: stacks
  included_paths: ["*.yaml"]
  name_pattern: "{stage}"
`;

/** The same, with the backend file generated from each stack's `backend` section. */
export const BACKEND_ATMOS_YAML = TERRAFORM_ATMOS_YAML.replace(
  'base_path: components/terraform\n',
  'base_path: components/terraform\n    auto_generate_backend_file: true\n',
);

/** Terraform's quiet, offline settings; the machine's TF_CLI_CONFIG_FILE points at a file that does not exist. */
export const TOOL_ENV = {
  NO_COLOR: '1',
  CHECKPOINT_DISABLE: '1',
  TF_CLI_CONFIG_FILE: '',
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
};

export async function journey(name: string): Promise<Journey> {
  const { bin, packageDir } = await installedStrata();
  const library = pathToFileURL(join(packageDir, 'dist', 'index.mjs')).href;
  const libraryWorkflow = `const { workflows } = await import(${JSON.stringify(library)});
const [, name, ...rest] = process.argv.slice(1);
const file = rest.includes('-f') ? rest[rest.indexOf('-f') + 1] : undefined;
const streams = { stdout: process.stdout, stderr: process.stderr };
const options = { workflowsDir: process.cwd() + '/workflows', file, resume: rest.includes('--resume'), streams };
try {
  await workflows.runWorkflow(name, options);
} catch (error) {
  process.stderr.write(String(error?.message ?? error) + '\\n');
  process.exitCode = 1;
}`;
  const root = mkdtempSync(join(tmpdir(), `strata-journey-${name}-`));
  const repo = join(root, 'repo');
  const tmp = join(root, 'tmp');
  const out = join(root, 'out');
  for (const dir of [repo, tmp, out]) mkdirSync(dir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, ...TOOL_ENV, TMPDIR: tmp, STRATA_SECRET_TMPDIR: tmp };
  delete env.STRATA_DATABASE_URL;
  const printed: string[] = [];
  const timings: Array<[string, number]> = [];
  const start = (args: string[], options: RunOptions = {}) => {
    const started = performance.now();
    const [command, words] =
      options.entry === 'library'
        ? [process.execPath, ['--input-type=module', '-e', libraryWorkflow, '--', ...args]]
        : [bin, args];
    const child = spawn(command, words, {
      cwd: options.cwd ?? repo,
      env: { ...env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    const done = new Promise<CliRun>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        printed.push(stdout, stderr);
        const ms = Math.round(performance.now() - started);
        timings.push([args.slice(0, 3).join(' '), ms]);
        resolve({ code: code ?? 128, signal, stdout, stderr, ms });
      });
    });
    return { child, done };
  };
  return {
    root,
    bin,
    repo,
    tmp,
    out,
    env,
    printed,
    timings,
    write(files) {
      for (const [path, content] of Object.entries(files)) {
        const target = join(repo, path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, content);
      }
    },
    git(...args) {
      return execFileSync('git', args, {
        cwd: repo,
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 'journey',
          GIT_AUTHOR_EMAIL: 'journey@example.test',
          GIT_COMMITTER_NAME: 'journey',
          GIT_COMMITTER_EMAIL: 'journey@example.test',
        },
      }).trim();
    },
    strata: (args, options) => start(args, options).done,
    start,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

function filesUnder(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

export interface SecretHit {
  secret: string;
  where: string;
}

/**
 * Every place a plain secret shows up: files under `roots` (the repository with .strata/ and reports, the temp
 * folder) and the texts strata printed. Secrets are looked for as written and as JSON writes them.
 */
export function findSecrets(secrets: string[], roots: string[], texts: string[]): SecretHit[] {
  const forms = (secret: string) => [...new Set([secret, JSON.stringify(secret).slice(1, -1)])];
  const hits: SecretHit[] = [];
  const look = (text: string, where: string) => {
    for (const secret of secrets) {
      if (forms(secret).some((form) => text.includes(form))) hits.push({ secret, where });
    }
  };
  for (const root of roots) {
    for (const file of filesUnder(root)) {
      if (statSync(file).size > 16 * 1024 * 1024) continue;
      look(readFileSync(file, 'latin1'), relative(dirname(root), file));
    }
  }
  texts.forEach((text, i) => {
    look(text, `printed output #${i}`);
  });
  return hits;
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

/** `terraform show -json` of the state a component folder's backend holds for a workspace. */
export function terraformShow(dir: string, workspace: string, env: NodeJS.ProcessEnv = {}): TerraformState {
  const text = execFileSync('terraform', ['show', '-json', '-no-color'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...TOOL_ENV, TF_WORKSPACE: workspace, ...env },
  });
  return JSON.parse(text) as TerraformState;
}

export interface TerraformState {
  values?: {
    outputs?: Record<string, { value: unknown; sensitive?: boolean }>;
    root_module?: { resources?: Array<{ address: string; values: Record<string, unknown> }> };
  };
}

/** The `input` of each terraform_data resource in a state, by address. */
export function dataInputs(state: TerraformState): Record<string, unknown> {
  return Object.fromEntries(
    (state.values?.root_module?.resources ?? []).map((r) => [
      r.address,
      (r.values.output ?? r.values.input) as unknown,
    ]),
  );
}
