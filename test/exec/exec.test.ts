import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { formatCommand, run, shellQuote, ToolNotFoundError } from '../../src/exec/index.ts';
import { Masker } from '../../src/util/mask.ts';
import { repoRoot, TS_CHILD_ARGS } from '../helpers/shared.ts';

const tmp = mkdtempSync(join(tmpdir(), 'strata-exec-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A small program that uses run() the way strata does, so signals can be sent to "strata" for real.
const driver = join(tmp, 'driver.mts');
writeFileSync(
  driver,
  `import { run } from ${JSON.stringify(pathToFileURL(join(repoRoot, 'src/exec/index.ts')).href)};
const [script, copies, mode] = process.argv.slice(2);
const results = await Promise.all(
  Array.from({ length: Number(copies ?? 1) }, (_, i) => run('bash', ['-c', script], { prefix: \`[c\${i}] \`, stdio: (mode ?? 'stream') as 'stream' })),
);
for (const r of results) process.stdout.write(\`RESULT \${JSON.stringify({ exitCode: r.exitCode, signal: r.signal, interrupted: r.interrupted })}\\n\`);
process.stdout.write(\`LISTENERS \${process.listenerCount('SIGINT')} \${process.listenerCount('SIGTERM')}\\n\`);
`,
);

function startDriver(
  script: string,
  copies = 1,
  mode = 'stream',
): { child: ChildProcess; output: () => string; ready: Promise<void>; done: Promise<number> } {
  const child = spawn(process.execPath, [...TS_CHILD_ARGS, driver, script, String(copies), mode], { cwd: repoRoot });
  let out = '';
  let readyCount = 0;
  let resolveReady: () => void;
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    readyCount = out.split('ready').length - 1;
    if (readyCount >= copies) resolveReady();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, output: () => out, ready, done };
}

function results(output: string): Array<{ exitCode: number; signal?: string; interrupted: boolean }> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => JSON.parse(l.slice(7)));
}

test('streams lines with a prefix, captures them, and masks secrets in both', async () => {
  const masker = new Masker();
  masker.add('hunter2-secret');
  const lines: Array<[string, string]> = [];
  const result = await run('bash', ['-c', 'echo "token=hunter2-secret"; echo oops >&2; printf partial; exit 3'], {
    masker,
    onLine: (line, stream) => lines.push([stream, line]),
  });
  assert.equal(result.exitCode, 3);
  assert.equal(result.stdout, 'token=***\npartial');
  assert.equal(result.stderr, 'oops');
  // stdout and stderr are separate pipes: order is kept within a stream, not across them.
  assert.deepEqual(
    lines.filter(([stream]) => stream === 'stdout'),
    [
      ['stdout', 'token=***'],
      ['stdout', 'partial'],
    ],
  );
  assert.deepEqual(
    lines.filter(([stream]) => stream === 'stderr'),
    [['stderr', 'oops']],
  );
  assert.equal(result.timedOut, false);
  assert.equal(result.interrupted, false);
});

test('lines: CRLF and LF ends, empty lines, a last line without newline, a character split between writes', async () => {
  const lines: string[] = [];
  // "é" is two bytes in UTF-8: the child writes them in two writes, 50 ms apart.
  const script = "printf 'a\\r\\nb\\n\\n'; printf '\\303'; sleep 0.05; printf '\\251!\\nlast'";
  const result = await run('bash', ['-c', script], { onLine: (line) => lines.push(line) });
  assert.deepEqual(lines, ['a', 'b', '', 'é!', 'last']);
  assert.equal(result.stdout, 'a\r\nb\n\né!\nlast');
  const ending = await run('bash', ['-c', 'printf "x\\n\\n"'], { stdio: 'capture' });
  assert.equal(ending.stdout, 'x\n', 'only the final newline is stripped');
  const empty = await run('true', [], { stdio: 'capture' });
  assert.deepEqual([empty.stdout, empty.stderr, empty.exitCode], ['', '', 0]);
});

test('a command that cannot start (not executable) fails with exit 1 and says why', async () => {
  const script = join(tmp, 'not-executable.sh');
  writeFileSync(script, 'echo hi\n', { mode: 0o644 });
  const result = await run(script, [], { stdio: 'capture' });
  assert.equal(result.exitCode, 1);
  assert.match(result.stderr, /EACCES/);
});

test('stream mode prints each line with the prefix; capture mode prints nothing', async () => {
  const d = startDriver('echo one; echo two >&2; echo ready');
  assert.equal(await d.done, 0);
  assert.match(d.output(), /^\[c0\] one$/m);
  assert.match(d.output(), /^\[c0\] two$/m);
  const quiet = startDriver('echo quiet-line; echo ready', 1, 'capture');
  assert.equal(await quiet.done, 0);
  assert.doesNotMatch(quiet.output(), /quiet-line/);
  assert.match(quiet.output(), /RESULT \{"exitCode":0/);
});

test('env is merged over process.env and undefined deletes; cwd and input are honoured', async () => {
  process.env.STRATA_EXEC_TEST_DROP = 'present';
  const result = await run('bash', ['-c', 'echo "$A|$(printenv STRATA_EXEC_TEST_DROP || echo unset)|$PWD"; cat'], {
    env: { A: 'x y', STRATA_EXEC_TEST_DROP: undefined },
    cwd: tmp,
    input: 'from-stdin',
    stdio: 'capture',
  });
  delete process.env.STRATA_EXEC_TEST_DROP;
  assert.equal(result.stdout, `x y|unset|${tmp}\nfrom-stdin`);
});

test('a missing tool is a ToolNotFoundError with an install hint; a missing cwd is named', async () => {
  await assert.rejects(
    run('terraform-not-installed-here', ['version']),
    (e: unknown) => e instanceof ToolNotFoundError && e.message === 'terraform-not-installed-here not found on PATH',
  );
  const error = new ToolNotFoundError('packer');
  assert.match(error.hint ?? '', /developer\.hashicorp\.com\/packer/);
  // OpenTofu missing (Atmos's examples set command: tofu): how to install it, or how to run Terraform instead.
  const tofu = new ToolNotFoundError('tofu');
  assert.equal(tofu.message, 'tofu not found on PATH');
  assert.match(tofu.hint ?? '', /opentofu\.org\/docs\/intro\/install/);
  assert.match(tofu.hint ?? '', /components\.terraform\.command: terraform/);
  assert.match(tofu.hint ?? '', /ATMOS_COMPONENTS_TERRAFORM_COMMAND=terraform/);
  await assert.rejects(run('echo', ['x'], { cwd: join(tmp, 'nope') }), /working directory .*nope does not exist/);
});

test('timeout stops the whole process group quickly and reports 128+SIGTERM', async () => {
  const started = Date.now();
  const result = await run('bash', ['-c', 'sleep 30; echo never'], { timeoutMs: 200, stdio: 'capture' });
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, 'SIGTERM');
  assert.equal(result.exitCode, 143);
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
});

test('an AbortSignal stops the child', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const result = await run('sleep', ['30'], { signal: controller.signal, stdio: 'capture' });
  assert.equal(result.exitCode, 143);
});

test('formatCommand quotes for a POSIX shell', () => {
  assert.equal(
    formatCommand('terraform', ['plan', '-var=a=b c', "it's", '']),
    `terraform plan '-var=a=b c' 'it'\\''s' ''`,
  );
  assert.equal(shellQuote('-s'), '-s');
});

test('SIGINT to strata is forwarded once to every running child and strata waits for them', async () => {
  const script = `trap 'echo got-INT; sleep 0.5; echo cleaned; exit 3' INT; echo ready; sleep 30 & wait; kill $! 2>/dev/null`;
  const d = startDriver(script, 2);
  await d.ready;
  const sent = Date.now();
  d.child.kill('SIGINT');
  assert.equal(await d.done, 0);
  const waited = Date.now() - sent;
  const out = d.output();
  assert.equal(out.split('got-INT').length - 1, 2, out);
  assert.match(out, /\[c0\] cleaned/);
  assert.match(out, /\[c1\] cleaned/);
  assert.ok(waited >= 450, `strata exited after ${waited} ms, before its children`);
  assert.deepEqual(
    results(out).map((r) => [r.exitCode, r.interrupted]),
    [
      [3, true],
      [3, true],
    ],
  );
  assert.match(out, /LISTENERS 0 0/);
});

test('a second SIGINT escalates to SIGKILL; exit code is 128+9', async () => {
  const d = startDriver(`trap 'echo got-INT' INT; echo ready; while true; do sleep 0.1; done`);
  await d.ready;
  d.child.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.match(d.output(), /got-INT/);
  d.child.kill('SIGINT');
  assert.equal(await d.done, 0);
  const [result] = results(d.output());
  assert.equal(result.signal, 'SIGKILL');
  assert.equal(result.exitCode, 137);
});

test('SIGTERM is forwarded too', async () => {
  const d = startDriver(`trap 'echo got-TERM; exit 5' TERM; echo ready; sleep 30 & wait`);
  await d.ready;
  d.child.kill('SIGTERM');
  assert.equal(await d.done, 0);
  assert.match(d.output(), /got-TERM/);
  assert.equal(results(d.output())[0].exitCode, 5);
});
