/** Small stack repositories written to temp dirs, so each test states the files it reads. */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openEngine } from '../../src/services/engine.ts';
import type { EngineOptions, StackEngine } from '../../src/stacks/index.ts';

/** A minimal atmos.yaml: stacks under deploy/, shared files under catalog/ and mixins/. */
export const ATMOS_YAML = `base_path: "."
components:
  terraform:
    base_path: components/terraform
  packer:
    base_path: components/packer
stacks:
  base_path: stacks
  included_paths: ["deploy/**/*"]
  excluded_paths: ["**/_defaults.yaml"]
schemas:
  jsonschema:
    base_path: schemas
`;

export interface Repo {
  /** Absolute (real) path of the repository root. */
  dir: string;
  /** Writes a file relative to the root, creating folders. */
  write(path: string, content: string): void;
  /** A fresh engine over the repository (discovery from the root, no ATMOS_* from the test process). */
  engine(options?: EngineOptions): Promise<StackEngine>;
  cleanup(): void;
}

/** Creates a repository from `files` (paths relative to the root); atmos.yaml defaults to ATMOS_YAML. */
export function makeRepo(files: Record<string, string>, options: { atmos?: string | null } = {}): Repo {
  // realpath: macOS and some CI runners put tmpdir behind a symlink, and the engine prints resolved paths.
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'strata-stacks-')));
  const write = (path: string, content: string) => {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  };
  if (options.atmos !== null) write('atmos.yaml', options.atmos ?? ATMOS_YAML);
  for (const [path, content] of Object.entries(files)) write(path, content);
  return {
    dir,
    write,
    engine: (engineOptions = {}) => openEngine({ cwd: dir, env: {}, ...engineOptions }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs `body` with a repository and always removes it. */
export async function withRepo<T>(
  files: Record<string, string>,
  body: (repo: Repo) => Promise<T> | T,
  options: { atmos?: string | null } = {},
): Promise<T> {
  const repo = makeRepo(files, options);
  try {
    return await body(repo);
  } finally {
    repo.cleanup();
  }
}

/** The same repository with templates enabled (templates.settings.enabled: true). */
export const ATMOS_YAML_TEMPLATES = `${ATMOS_YAML}templates:
  settings:
    enabled: true
`;

/** A one-component stack manifest. */
export function stackFile(vars: Record<string, unknown>, extra = ''): string {
  return `${extra}vars: ${JSON.stringify(vars)}
components:
  terraform:
    app:
      vars: {}
`;
}

/** Runs `body` with its own cache folder ($XDG_CACHE_HOME), removed afterwards. */
export async function withCacheHome<T>(body: (home: string) => Promise<T>): Promise<T> {
  const home = mkdtempSync(join(tmpdir(), 'strata-cache-'));
  const before = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = home;
  try {
    return await body(home);
  } finally {
    if (before === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = before;
    rmSync(home, { recursive: true, force: true });
  }
}
