// docs/output.md is the contract of `--format json`: every row of its table is run on a copy of examples/homelab,
// and stdout must be exactly one JSON document of the documented shape. Every command of the program tree whose
// --format offers json is in the table or in the page's list of commands that need a service.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { cliEntry } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';

const example = join(repoRoot, 'examples', 'homelab');
const page = readFileSync(join(repoRoot, 'docs', 'output.md'), 'utf8');
const GENERATED = /(^|\/)(\.terraform|\.strata|\.kube|reports|terraform\.tfstate\.d)(\/|$)/;
let dir: string;

interface Row {
  command: string;
  document: string;
  keys: string[];
}

/** The rows of the page's shape table. */
function rows(): Row[] {
  return [...page.matchAll(/^\| `([^`]+)` \| ([^|]+) \|([^|]*)\|$/gm)].map((m) => ({
    command: m[1],
    document: m[2].trim(),
    keys: [...m[3].matchAll(/`([^`]+)`/g)].map((k) => k[1]),
  }));
}

/** Runs `strata <command> --format json` in the copy; a long-running command is stopped after its first document. */
function run(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [...command.split(' '), '--format', 'json'];
  const child = spawn(process.execPath, [cliEntry, ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', STRATA_PVE_SIMULATOR: '', PROXMOX_VE_ENDPOINT: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    if (command.startsWith('pve-sim') && isJson(stdout)) child.kill('SIGTERM');
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Every command path (`describe config`) of the program tree whose --format offers json. */
function jsonCommands(program: Command, path: string[] = []): string[] {
  return program.commands.flatMap((command) => {
    const name = [...path, command.name()];
    const format = command.options.find((o) => o.long === '--format');
    const own = format && /json/.test(format.description) ? [name.join(' ')] : [];
    return [...own, ...jsonCommands(command, name)];
  });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-output-'));
  cpSync(example, dir, { recursive: true, filter: (path) => !GENERATED.test(relative(example, path)) });
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
      },
    });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'homelab');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('every reporting command is on the page: in the shape table or among those that need a service', async () => {
  const listed = [
    ...rows().map((r) => r.command),
    // `serve token issue|verify` names two commands.
    ...[...page.slice(page.indexOf('not in the table')).matchAll(/`([^`]+)`/g)].flatMap((m) => {
      const [head, ...alternatives] = m[1].split('|');
      const stem = head.split(' ').slice(0, -1).join(' ');
      return [head, ...alternatives.map((alt) => `${stem} ${alt}`)];
    }),
  ];
  const missing = jsonCommands(await buildProgram([])).filter(
    (name) => !listed.some((c) => c === name || c.startsWith(`${name} `)),
  );
  assert.deepEqual(missing, [], 'commands with --format json that docs/output.md does not list');
});

test('--format json: stdout is exactly one JSON document of the documented shape', async () => {
  const table = rows();
  assert.ok(table.length >= 20, `the page's table has the reporting commands (${table.length} rows)`);
  // A few at a time: each is its own strata process.
  const results = new Map<string, Awaited<ReturnType<typeof run>>>();
  const queue = [...table];
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      for (let row = queue.shift(); row; row = queue.shift()) results.set(row.command, await run(row.command));
    }),
  );
  for (const row of table) {
    const result = results.get(row.command);
    assert.ok(result);
    if (!row.command.startsWith('pve-sim')) assert.equal(result.code, 0, `${row.command}\n${result.stderr}`);
    let document: unknown;
    assert.doesNotThrow(
      () => {
        document = JSON.parse(result.stdout);
      },
      `${row.command}: stdout is one JSON document\n${result.stdout.slice(0, 500)}`,
    );
    const isArray = row.document.startsWith('array');
    assert.equal(Array.isArray(document), isArray, `${row.command}: ${row.document}`);
    const sample = (isArray ? (document as unknown[])[0] : document) as Record<string, unknown> | undefined;
    for (const key of row.keys) assert.ok(sample && key in sample, `${row.command}: has ${key}`);
  }
});
