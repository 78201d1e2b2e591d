// Live output of multi-component runs: through a real pseudo-terminal (util-linux `script`), each line arrives as
// terraform prints it, prefixed with its aligned stack/component label (coloured on a terminal), then the summary.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../helpers/shared.ts';
import { cliEnv, makeRepo } from './fixture.ts';

const FAST_TF = 'resource "terraform_data" "this" {\n  input = "fast"\n}\n';
// A real, offline slow apply: the provisioner runs while the resource is created.
const SLOW_TF = `resource "terraform_data" "this" {
  input = "slow"
  provisioner "local-exec" {
    command = "sleep 3"
  }
}
`;

const repo = makeRepo(
  'live',
  { components: { terraform: { network: {}, web: {} } } },
  { 'components/terraform/network/main.tf': SLOW_TF, 'components/terraform/web/main.tf': FAST_TF },
);
after(() => repo.cleanup());

interface Chunk {
  at: number;
  text: string;
}

/** Runs strata under a pseudo-terminal and keeps every chunk it writes with the time it arrived. */
function runInTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<{ chunks: Chunk[]; code: number }> {
  const command = [process.execPath, join(repoRoot, 'bin', 'strata.js'), ...args].map((w) => `'${w}'`).join(' ');
  const { NO_COLOR: _unset, FORCE_COLOR: _unset2, ...inherited } = process.env;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: repo.path,
    // CI keeps the status line (test/cli/status-line.test.ts) out of these byte-level checks of the prefixed lines.
    env: { ...inherited, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Chunk[] = [];
  child.stdout.on('data', (data: Buffer) => chunks.push({ at: Date.now(), text: data.toString('utf8') }));
  return new Promise((done) => child.on('close', (code) => done({ chunks, code: code ?? 1 })));
}

const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '').replace(/\r/g, '');

/** When the first chunk that completes a match of `pattern` arrived. */
function arrival(chunks: Chunk[], pattern: RegExp): number {
  let text = '';
  for (const chunk of chunks) {
    text += chunk.text;
    if (pattern.test(plain(text))) return chunk.at;
  }
  assert.fail(`never saw ${pattern} in:\n${plain(text)}`);
}

test('deploy --components on a terminal: each line live with a coloured, aligned prefix; the table last', async () => {
  const { chunks, code } = await runInTerminal(
    ['terraform', 'deploy', '--components', 'network,web', '-s', 'dev'],
    cliEnv(),
  );
  const raw = chunks.map((c) => c.text).join('');
  const text = plain(raw);
  assert.equal(code, 0, text);
  const firstLine = arrival(chunks, /^dev\/network \| /m);
  const applied = arrival(chunks, /^dev\/network \| .*Apply complete!/m);
  assert.ok(applied - firstLine >= 2000, `network's first line came ${applied - firstLine} ms before its end`);
  // The fast component finishes while the slow one still runs.
  assert.ok(arrival(chunks, /^dev\/web {4} \| <== succeeded/m) < applied);
  assert.match(raw, /\u001b\[\d+mdev\/network\u001b\[0m \| /, 'the prefix is coloured on a terminal');
  assert.match(raw, /\u001b\[\d+mdev\/web {4}\u001b\[0m \| /);
  const table = text.indexOf('COMPONENT');
  assert.ok(table > text.lastIndexOf(' | '), 'the summary table comes after every prefixed line');
  assert.match(text, /2 component\(s\): 2 succeeded/);
  // Terraform's coloured closing line still gives the counts.
  assert.match(text, /^network\s+dev\s+succeeded\s+1\s+0\s+0\s/m);
});

test('with NO_COLOR on a terminal the prefixes are plain', async () => {
  const { chunks, code } = await runInTerminal(
    ['terraform', 'plan', '--components', 'network,web', '-s', 'dev'],
    cliEnv({ NO_COLOR: '1' }),
  );
  const raw = chunks.map((c) => c.text).join('');
  assert.equal(code, 0, plain(raw));
  assert.match(raw, /^dev\/web {4} \| ==> terraform plan\r?$/m);
  assert.doesNotMatch(raw, /\u001b\[/);
});
