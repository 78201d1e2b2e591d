// The status line of a live multi-component run, through a real pseudo-terminal (util-linux `script`): a bottom line
// with running/finished/failed counts, redrawn in place while components run, cleared before the summary table;
// never in CI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cliEnv, makeRepo } from '../components/fixture.ts';
import { repoRoot } from '../helpers/shared.ts';

const FAST_TF = 'resource "terraform_data" "this" {\n  input = "fast"\n}\n';
const SLOW_TF = `resource "terraform_data" "this" {
  input = "slow"
  provisioner "local-exec" {
    command = "sleep 2"
  }
}
`;

const repo = makeRepo(
  'status',
  { components: { terraform: { network: {}, web: {} } } },
  { 'components/terraform/network/main.tf': SLOW_TF, 'components/terraform/web/main.tf': FAST_TF },
);
after(() => repo.cleanup());

/** Everything strata wrote to the terminal, raw (escape sequences and carriage returns kept). */
function runInTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<{ raw: string; code: number }> {
  const command = [process.execPath, join(repoRoot, 'bin', 'strata.js'), ...args].map((w) => `'${w}'`).join(' ');
  const { CI: _ci, NO_COLOR: _color, FORCE_COLOR: _force, ...inherited } = process.env;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: repo.path,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let raw = '';
  child.stdout.on('data', (data: Buffer) => {
    raw += data.toString('utf8');
  });
  return new Promise((done) => child.on('close', (code) => done({ raw, code: code ?? 1 })));
}

const CLEAR = '\r\u001b[2K';
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*[mK]/g, '');
const deploy = ['terraform', 'deploy', '--components', 'network,web', '-s', 'dev'];

test('on a terminal: the counts are redrawn in place and cleared before the summary table', async () => {
  const { raw, code } = await runInTerminal(deploy, { ...cliEnv(), NO_COLOR: '1' });
  const text = plain(raw);
  assert.equal(code, 0, text);
  assert.match(text, /running 2 · finished 0 · failed 0/, 'both components running');
  assert.match(text, /running 1 · finished 1 · failed 0/, 'the fast one finished while the slow one runs');
  assert.match(text, /running 0 · finished 2 · failed 0/, 'both finished');
  // Redrawn in place: every status line is erased (carriage return, erase line) before the next output.
  const last = raw.lastIndexOf('running 0 · finished 2');
  const cleared = raw.indexOf(CLEAR, last);
  assert.ok(cleared > last, 'the last status line is cleared');
  assert.ok(raw.indexOf('COMPONENT', cleared) > cleared, 'the summary table comes after the cleared line');
  assert.ok(!/finished \d+ · failed \d+\s*$/.test(text), 'the status line is not left on the screen');
});

test('in CI, on a terminal too, there is no status line', async () => {
  const { raw, code } = await runInTerminal(deploy, { ...cliEnv(), NO_COLOR: '1', CI: 'true' });
  assert.equal(code, 0, raw);
  assert.doesNotMatch(raw, /running \d+ · finished/);
  assert.match(plain(raw), /2 component\(s\): 2 succeeded/);
});
