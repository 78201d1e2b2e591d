// Journey: the README tour's workflow commands run as written (`npx strata ...`) on a copy of examples/homelab
// with the installed package, and the offline workflow leaves its real artifact: a passed test report.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { installedStrata } from '../helpers/installed.ts';
import { repoRoot } from '../helpers/shared.ts';
import { type Journey, journey } from './helpers.ts';

const example = join(repoRoot, 'examples', 'homelab');
const GENERATED = /(^|\/)(\.terraform|\.strata|reports|terraform\.tfstate\.d)(\/|$)/;

let j: Journey;

/** The commands of one `###` section of the README's tour, without their comments. */
function tourCommands(section: string): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`### ${section}\n`);
  assert.ok(start >= 0, `README has a "### ${section}" section`);
  const block = /```bash\n([\s\S]*?)```/.exec(readme.slice(start))?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
}

before(async () => {
  j = await journey('tour');
  cpSync(example, j.repo, { recursive: true, filter: (path) => !GENERATED.test(relative(example, path)) });
  // `npx strata` finds the installed package in node_modules above the project, as in a user's checkout.
  symlinkSync(join((await installedStrata()).project, 'node_modules'), join(j.root, 'node_modules'));
});

after(() => j?.cleanup());

test("the README tour's workflow commands run as written on the example", () => {
  const commands = tourCommands('Workflows');
  assert.ok(
    commands.some((c) => /workflow \S+ .*-f \S+$/.test(c) && !c.includes('--dry-run')),
    'one runs for real',
  );
  for (const command of commands) {
    assert.match(command, /^npx strata /);
    const result = spawnSync('bash', ['-c', command], { cwd: j.repo, env: j.env, encoding: 'utf8', timeout: 300_000 });
    assert.equal(result.status, 0, `${command}\n${result.stdout}${result.stderr}`);
  }
  const reports = readdirSync(join(j.repo, 'reports')).filter((f) => f.endsWith('.passed.json'));
  assert.equal(reports.length, 2, 'the full run and the --from-step run each wrote a passed report');
  const report = JSON.parse(readFileSync(join(j.repo, 'reports', reports[0]), 'utf8')) as { success: boolean };
  assert.equal(report.success, true);
});
