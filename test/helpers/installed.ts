/**
 * strata as users get it: the repository packed with `npm pack` (whose `prepack` builds the bundle and the types,
 * as for publishing) and installed from the tarball into a temporary project with production dependencies only,
 * so journey tests call `node_modules/.bin/strata` and never the sources, tsx or esbuild. Building, packing and
 * installing cost ~20 s, so the result is cached under the OS temp folder by a hash of everything the package is
 * built from, and shared by the test files of a run under a lock.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { acquireFileLock } from '../../src/util/lock.ts';
import { repoRoot } from './shared.ts';
import { useAndPrune } from './temp-cache.ts';

export interface InstalledStrata {
  /** The temporary project the package is installed in (its node_modules holds strata and its dependencies). */
  project: string;
  /** `<project>/node_modules/.bin/strata`. */
  bin: string;
  /** The package's folder inside node_modules. */
  packageDir: string;
  /** The package name from package.json. */
  name: string;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/** What the package is built from: the sources, the build, the manifest and the lock, the licence and README. */
const PACKAGE_INPUTS = [
  'src',
  'scripts/build.mjs',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'LICENSE',
  'README.md',
];

/** Hash of everything `npm pack` builds the tarball from. */
function packageHash(): string {
  const hash = createHash('sha256');
  const roots = PACKAGE_INPUTS.map((f) => join(repoRoot, f));
  const files = roots.flatMap((root) =>
    statSync(root, { throwIfNoEntry: false })?.isDirectory() ? filesUnder(root) : [root],
  );
  for (const file of files.filter((f) => existsSync(f)).sort()) {
    hash.update(relative(repoRoot, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

let cached: InstalledStrata | undefined;

/** Packs and installs strata once per package content; later calls (and other test files) reuse the install. */
export async function installedStrata(): Promise<InstalledStrata> {
  if (cached) return cached;
  const name = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string }).name;
  const base = join(tmpdir(), 'strata-installed');
  const project = join(base, packageHash());
  const result: InstalledStrata = {
    project,
    bin: join(project, 'node_modules', '.bin', 'strata'),
    packageDir: join(project, 'node_modules', name),
    name,
  };
  const done = join(project, '.installed');
  if (!existsSync(done)) {
    mkdirSync(base, { recursive: true });
    const release = await acquireFileLock(`${project}.lock`, {
      command: 'test: install the packed strata',
      waitMs: 180_000,
    });
    try {
      if (!existsSync(done)) {
        rmSync(project, { recursive: true, force: true });
        mkdirSync(project, { recursive: true });
        const quiet = { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
        const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], {
          ...quiet,
          cwd: repoRoot,
        })
          .toString()
          .trim()
          .split('\n')
          .pop() as string;
        writeFileSync(
          join(project, 'package.json'),
          `${JSON.stringify({ name: 'journey', private: true, type: 'module' })}\n`,
        );
        execFileSync(
          'npm',
          ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', join(project, tarball)],
          quiet,
        );
        writeFileSync(done, `${new Date().toISOString()}\n`);
      }
    } finally {
      await release();
    }
  }
  useAndPrune(base, project, '.installed');
  cached = result;
  return result;
}
