/**
 * The package as users get it: `npm pack`, installed from the tarball into an empty project with production
 * dependencies only, then the CLI, the library snippet from the README and the type declarations, on Node 20 (the
 * one running the tests) and Node 24.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { VERSION } from '../../src/util/version.ts';
import { type InstalledStrata, installedStrata } from '../helpers/installed.ts';
import { node24Bin } from '../helpers/node24.ts';
import { repoRoot } from '../helpers/shared.ts';

const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
let installed: InstalledStrata;
let work: string;

before(async () => {
  installed = await installedStrata();
  // Inside the project, so `import 'strata-iac'` resolves from its node_modules.
  work = mkdtempSync(join(installed.project, 'case-'));
  cpSync(join(repoRoot, 'examples', 'homelab'), join(work, 'examples', 'homelab'), { recursive: true });
});
after(() => rmSync(work, { recursive: true, force: true }));

/** The README's "As a library" snippet, exactly as written. */
function readmeSnippet(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## As a library'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'README has a ts snippet under "As a library"');
  return code;
}

function run(command: string, args: string[], cwd: string, path?: string) {
  const env = { ...process.env, NO_COLOR: '1', ...(path ? { PATH: `${path}:${process.env.PATH}` } : {}) };
  return spawnSync(command, args, { cwd, env, encoding: 'utf8' });
}

test('package.json: the name, the command, compiled entries with types, honest engines, build tools in dev only', () => {
  assert.equal(manifest.name, 'strata-iac');
  assert.deepEqual(Object.keys(manifest.bin), ['strata']);
  assert.equal(manifest.version, VERSION, 'src/util/version.ts follows package.json');
  for (const tool of ['tsx', 'esbuild', 'typescript', 'postject']) {
    assert.equal(manifest.dependencies[tool], undefined, `${tool} is not a runtime dependency`);
  }
  assert.match(manifest.engines.node, /^>=20\.18\.1$/, 'undici 7 needs 20.18.1');
  assert.equal(manifest.license, 'Apache-2.0');
  assert.match(readFileSync(join(repoRoot, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
});

test('the tarball holds the compiled CLI, library, types and licence, and no sources', () => {
  const files = execFileSync('find', ['.', '-type', 'f', '-not', '-path', './node_modules/*'], {
    cwd: installed.packageDir,
    encoding: 'utf8',
  }).split('\n');
  for (const file of ['./LICENSE', './README.md', './dist/strata.mjs', './dist/index.mjs', './dist/simulator.mjs']) {
    assert.ok(files.includes(file), `${file} is in the package`);
  }
  assert.ok(files.includes('./dist/types/index.d.ts'));
  assert.ok(files.includes('./dist/types/proxmox/simulator/index.d.ts'));
  assert.ok(
    !files.some((f) => f.startsWith('./src/') || f.startsWith('./bin/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
  );
  const modules = join(installed.project, 'node_modules');
  for (const tool of ['tsx', 'esbuild', 'typescript']) assert.ok(!existsSync(join(modules, tool)), `${tool} absent`);
  // npm runs (or, since npm 11, asks about) these on install; the package needs none.
  const scripts = JSON.parse(readFileSync(join(installed.packageDir, 'package.json'), 'utf8')).scripts ?? {};
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(scripts[hook], undefined, hook);
});

test('npm install --global puts strata on PATH; npx strata works in a project that depends on it', () => {
  const tarball = readdirSync(installed.project).find((f) => f.endsWith('.tgz')) as string;
  const prefix = join(work, 'global');
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--global',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--prefix',
      prefix,
      join(installed.project, tarball),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(npm.status, 0, npm.stderr);
  assert.doesNotMatch(npm.stderr, /install-scripts/);
  assert.equal(run('strata', ['--version'], work, join(prefix, 'bin')).stdout, `${VERSION}\n`);
  const npx = run('npx', ['--offline', 'strata', 'list', 'stacks'], join(work, 'examples', 'homelab'));
  assert.equal(npx.stdout, 'pve-dev\npve-prod\n', npx.stderr);
});

for (const runtime of ['20', '24'] as const) {
  test(`Node ${runtime}: strata --version, list stacks on a copy of the example, the README snippet`, async () => {
    const path = runtime === '24' ? await node24Bin() : undefined;
    const node = path ? join(path, 'node') : process.execPath;
    assert.match(execFileSync(node, ['--version'], { encoding: 'utf8' }), new RegExp(`^v${runtime}\\.`));
    const version = run(installed.bin, ['--version'], work, path);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout, `${VERSION}\n`);
    const stacks = run(installed.bin, ['list', 'stacks'], join(work, 'examples', 'homelab'), path);
    assert.equal(stacks.status, 0, stacks.stderr);
    assert.deepEqual(stacks.stdout.trim().split('\n'), ['pve-dev', 'pve-prod']);
    const script = join(work, `snippet-${runtime}.mjs`);
    writeFileSync(script, readmeSnippet());
    const snippet = run(node, [script], work);
    assert.equal(snippet.status, 0, snippet.stderr);
    assert.equal(snippet.stdout, '10.23.45.31/24\n');
    const simulator = run(
      node,
      ['--input-type=module', '-e', "import('strata-iac/simulator').then((m) => console.log(typeof m.startSimulator))"],
      work,
    );
    assert.equal(simulator.stdout, 'function\n', simulator.stderr);
  });
}

test('the declarations type-check a strict consumer of both entries', () => {
  const consumer = join(work, 'consumer.ts');
  writeFileSync(
    consumer,
    [
      "import { openEngine, describeComponent, StrataError, type StrataConfig } from 'strata-iac';",
      "import { startSimulator } from 'strata-iac/simulator';",
      "const engine = await openEngine({ cwd: 'examples/homelab' });",
      "const { instance } = await describeComponent(engine, 'k3s-cluster', 'pve-prod');",
      'const name: string = instance.name;',
      'const config: StrataConfig = engine.config;',
      'export { name, config, startSimulator, StrataError };',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(repoRoot, 'node_modules', '@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', work], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
