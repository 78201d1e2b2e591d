import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { makeProject, projectEnv, records, runCliAsync, startCli } from './helpers.ts';

const project = makeProject({
  'main.yaml': `workflows:
  ok:
    description: Two shell steps
    steps:
      - command: echo "first" >> log.txt && echo one
        type: shell
      - name: second
        command: echo two
        type: shell
  ok-from:
    steps:
      - command: echo one
        type: shell
      - name: second
        command: echo two
        type: shell
  ok-tty:
    steps:
      - command: echo "first"
        type: shell
      - name: second
        command: echo two
        type: shell
  cyclic:
    steps:
      - { name: a, command: echo a, type: shell, needs: [b] }
      - { name: b, command: echo b, type: shell, needs: [a] }
  dangling:
    steps:
      - { name: first, command: echo a, type: shell }
      - { name: second, command: echo b, type: shell, needs: [firts] }
  breaks:
    steps:
      - command: echo fine
        type: shell
      - name: boom
        command: |
          echo "about to fail"
          exit 7
        type: shell
      - name: never
        command: echo never
        type: shell
  parallel:
    steps:
      - name: a
        command: sleep 1
        type: shell
      - name: b
        command: sleep 1
        type: shell
        needs: []
      - name: join
        command: echo joined
        type: shell
        needs: [a, b]
  sequential:
    steps:
      - name: a
        command: sleep 1
        type: shell
      - name: b
        command: sleep 1
        type: shell
  slow:
    steps:
      - name: hang
        command: sleep 20
        type: shell
        timeout: 500ms
  flaky:
    steps:
      - name: third-time-lucky
        type: shell
        command: |
          n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
          echo "attempt $n"; test $n -ge 3
        retry: { max_attempts: 5, delay: 50ms, backoff: exponential, max_delay: 200ms }
  hopeless:
    steps:
      - name: always-fails
        type: shell
        command: exit 3
        retry: { max_attempts: 2, delay: 10ms }
  stacks:
    stack: wf-stack
    steps:
      - command: terraform plan vpc -s own-stack
      - command: terraform plan vpc -s own-stack
        stack: step-stack
      - command: terraform apply vpc -- -target=x
      - command: atmos packer build image
        type: atmos
      - command: echo not a strata step
        type: shell
  envs:
    env: { FOO: workflow, KEEP: kept }
    steps:
      - type: env
        vars: { FROM_ENV_STEP: set-by-env-step }
      - command: echo "$FOO|$KEEP|$FROM_ENV_STEP|$STEP_ONLY"
        type: shell
        env: { FOO: step, STEP_ONLY: yes }
      - command: echo "$FOO|\${STEP_ONLY:-unset}"
        type: shell
      - command: pwd
        type: shell
        working_directory: sub
  interruptible:
    steps:
      - name: first
        command: echo ran >> first.log
        type: shell
      - name: long
        type: shell
        command: |
          if [ -f long.done ]; then echo "long finished"; exit 0; fi
          touch long.done; echo "long started"; sleep 30
      - name: last
        command: echo last
        type: shell
`,
});
after(project.cleanup);
const env = projectEnv(project.dir);
const cwd = project.dir;

// Alone, before the concurrent group: the timing figures must not compete for the CPU.
test('needs: two 1 s sleeps run in parallel (~1 s); without needs they run one after the other (~2 s)', async () => {
  const parallel = await runCliAsync(['workflow', 'parallel', '-f', 'main'], { cwd, env });
  const sequential = await runCliAsync(['workflow', 'sequential', '-f', 'main'], { cwd, env });
  assert.equal(parallel.code, 0, parallel.stderr);
  assert.equal(sequential.code, 0, sequential.stderr);
  const p = records(cwd, 'parallel').at(-1)!;
  const s = records(cwd, 'sequential').at(-1)!;
  const step = (name: string) => p.steps.find((x) => x.name === name)!;
  const [a, b] = [step('a'), step('b')];
  // The two sleeps overlapped in time, and the whole run saved most of a second (loose: CI machines are shared).
  assert.ok(
    Date.parse(a.startedAt!) < Date.parse(b.finishedAt!) && Date.parse(b.startedAt!) < Date.parse(a.finishedAt!),
  );
  assert.ok(s.durationMs! >= 2000, `sequential took ${s.durationMs} ms`);
  assert.ok(p.durationMs! < s.durationMs! - 500, `parallel ${p.durationMs} ms vs sequential ${s.durationMs} ms`);
  // Parallel output is prefixed with the step name; the join step ran after both.
  assert.match(parallel.stdout, /^\[join\] joined$/m);
  const join_ = p.steps.find((x) => x.name === 'join')!;
  for (const name of ['a', 'b']) {
    assert.ok(Date.parse(join_.startedAt!) >= Date.parse(p.steps.find((x) => x.name === name)!.finishedAt!));
  }
  process.stdout.write(`# measured: parallel ${p.durationMs} ms, sequential ${s.durationMs} ms\n`);
});

describe('workflow runs', { concurrency: 3 }, () => {
  test('success: steps run in order, output reaches stdout, the record says succeeded', async () => {
    const result = await runCliAsync(['workflow', 'ok', '-f', 'main'], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'one\ntwo\n');
    assert.match(result.stderr, /▶ step1: echo "first"/);
    assert.match(result.stderr, /✔ second succeeded in/);
    const [record] = records(cwd, 'ok');
    assert.equal(record.status, 'succeeded');
    assert.equal(record.file, 'main.yaml');
    assert.deepEqual(
      record.steps.map((s) => [s.name, s.status, s.attempts]),
      [
        ['step1', 'succeeded', 1],
        ['second', 'succeeded', 1],
      ],
    );
    assert.ok(existsSync(join(cwd, '.strata', 'runs', 'ok', `${record.id}.md`)));
    // The workflow is found without -f because its name is unique.
    assert.equal((await runCliAsync(['workflow', 'ok'], { cwd, env })).code, 0);
  });

  test('failure: stops, exits with the step code, prints the command and the exact resume hint', async () => {
    const result = await runCliAsync(['workflow', 'breaks', '-f', 'main', '-s', 'dev'], { cwd, env });
    assert.equal(result.code, 7);
    assert.match(result.stdout, /about to fail/);
    assert.doesNotMatch(result.stdout, /never/);
    assert.match(
      result.stderr,
      /workflow step execution failed: max attempts \(1\) exceeded, last error: step boom exited with code 7/,
    );
    assert.match(result.stderr, /The following command failed to execute:\n\n echo "about to fail"\n exit 7/);
    assert.match(
      result.stderr,
      /To resume the workflow from this step, run:\n\n strata workflow breaks -f main --from-step 'boom' -s 'dev'\n/,
    );
    const record = records(cwd, 'breaks').at(-1)!;
    assert.equal(record.status, 'failed');
    assert.equal(record.failedStep, 'boom');
    assert.deepEqual(record.steps[1].output, ['about to fail']);
    assert.equal(record.steps[1].exitCode, 7);
    assert.equal(record.steps[2].status, 'cancelled');
    const md = readFileSync(join(cwd, '.strata', 'runs', 'breaks', `${record.id}.md`), 'utf8');
    assert.match(md, /## Failed step: boom/);
    assert.match(md, /strata workflow breaks -f main --from-step 'boom' -s 'dev'/);
  });

  test('--from-step skips the earlier steps', async () => {
    const result = await runCliAsync(['workflow', 'ok-from', '-f', 'main', '--from-step', 'second'], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'two\n');
    const record = records(cwd, 'ok-from').at(-1)!;
    assert.deepEqual(
      record.steps.map((s) => s.status),
      ['skipped', 'succeeded'],
    );
  });

  test('timeout: the step is stopped, exit code 124, status timed_out', async () => {
    const result = await runCliAsync(['workflow', 'slow', '-f', 'main'], { cwd, env });
    assert.equal(result.code, 124);
    assert.match(result.stderr, /last error: step hang timed out after 500ms/);
    const [step] = records(cwd, 'slow').at(-1)!.steps;
    assert.equal(step.status, 'timed_out');
    // Stopped soon after the 500 ms limit, not after the 20 s sleep (startup of strata itself is not counted).
    assert.ok(step.durationMs! < 5_000, `step ran ${step.durationMs} ms`);
  });

  test('retry: attempts are counted; the last failure reports max attempts', async () => {
    const ok = await runCliAsync(['workflow', 'flaky', '-f', 'main'], { cwd, env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'attempt 1\nattempt 2\nattempt 3\n');
    assert.equal(records(cwd, 'flaky').at(-1)!.steps[0].attempts, 3);
    const bad = await runCliAsync(['workflow', 'hopeless', '-f', 'main'], { cwd, env });
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /max attempts \(2\) exceeded, last error: step always-fails exited with code 3/);
    assert.equal(records(cwd, 'hopeless').at(-1)!.steps[0].attempts, 2);
  });

  test('--dry-run prints every command with the resolved stack (precedence) and runs nothing', async () => {
    const result = await runCliAsync(['workflow', 'stacks', '-f', 'main', '--dry-run'], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n').slice(1);
    assert.deepEqual(lines, [
      'step1: strata terraform plan vpc -s wf-stack',
      'step2: strata terraform plan vpc -s step-stack',
      'step3: strata terraform apply vpc -s wf-stack -- -target=x',
      'step4: strata packer build image -s wf-stack',
      'step5: echo not a strata step  [type shell]',
    ]);
    const cli = await runCliAsync(['workflow', 'stacks', '-f', 'main', '--dry-run', '-s', 'cli-stack'], { cwd, env });
    assert.match(cli.stdout, /step2: strata terraform plan vpc -s cli-stack/);
    assert.ok(!existsSync(join(cwd, '.strata', 'runs', 'stacks')));
  });

  test('env: workflow env < env step < step env; step env does not leak; working_directory', async () => {
    mkdirSync(join(cwd, 'sub'), { recursive: true });
    const result = await runCliAsync(['workflow', 'envs', '-f', 'main'], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `step|kept|set-by-env-step|yes\nworkflow|unset\n${join(cwd, 'sub')}\n`);
  });

  test('wait step: waits for a real TCP port on 127.0.0.1 that opens later', async () => {
    const server: Server = createServer((socket) => socket.end());
    const probe = createServer();
    const port = await new Promise<number>((resolve) =>
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    writeFileSync(
      join(cwd, 'stacks', 'workflows', 'waits.yaml'),
      `workflows:
  tcp:
    steps:
      - name: port-open
        type: wait
        until: { tcp: { host: 127.0.0.1, port: ${port} } }
        interval: 100ms
        timeout: 15s
      - command: echo "after wait"
        type: shell
`,
    );
    const cli = startCli(['workflow', 'tcp', '-f', 'waits'], { cwd, env });
    await cli.waitFor('not ready', 'stderr');
    server.listen(port, '127.0.0.1');
    const result = await cli.done;
    server.close();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'after wait\n');
    const record = records(cwd, 'tcp').at(-1)!;
    assert.ok(record.steps[0].attempts >= 2, `probes: ${record.steps[0].attempts}`);
  });

  test('wait step: HTTP status until ready; times out with the last reason', async () => {
    let calls = 0;
    const server = createHttpServer((_req, res) => {
      calls++;
      res.writeHead(calls < 3 ? 503 : 200).end('ok');
    });
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    // A port that was free a moment ago: connections to it are refused.
    const closed = createServer();
    const closedPort = await new Promise<number>((resolve) =>
      closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)),
    );
    await new Promise((resolve) => closed.close(resolve));
    const wf = makeProject({
      'http.yaml': `workflows:
  http:
    steps:
      - type: wait
        until: { http: { url: "http://127.0.0.1:${port}/health", status: 200 } }
        interval: 100ms
        timeout: 10s
  never:
    steps:
      - name: closed
        type: wait
        until: { http: "http://127.0.0.1:${closedPort}/" }
        interval: 100ms
        timeout: 600ms
`,
    });
    try {
      const ok = await runCliAsync(['workflow', 'http'], { cwd: wf.dir, env: projectEnv(wf.dir) });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(calls, 3);
      assert.equal(records(wf.dir, 'http').at(-1)!.steps[0].attempts, 3);
      const bad = await runCliAsync(['workflow', 'never'], { cwd: wf.dir, env: projectEnv(wf.dir) });
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        new RegExp(
          `http http://127\\.0\\.0\\.1:${closedPort}/ not ready after 600ms \\(\\d+ probes, last: ECONNREFUSED\\)`,
        ),
      );
    } finally {
      server.close();
      wf.cleanup();
    }
  });

  test('Ctrl-C during a step leaves a record saying where it stopped; --resume finishes the run', async () => {
    const cli = startCli(['workflow', 'interruptible', '-f', 'main'], { cwd, env });
    await cli.waitFor('long started');
    cli.child.kill('SIGINT');
    const stopped = await cli.done;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /workflow interruptible interrupted by SIGINT during step long/);
    assert.match(stopped.stderr, /strata workflow interruptible --resume/);
    const interrupted = records(cwd, 'interruptible').at(-1)!;
    assert.equal(interrupted.status, 'interrupted');
    assert.deepEqual(
      interrupted.steps.map((s) => s.status),
      ['succeeded', 'interrupted', 'cancelled'],
    );

    const resumed = await runCliAsync(['workflow', 'interruptible', '--resume'], { cwd, env });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.stdout, 'long finished\nlast\n');
    assert.equal(readFileSync(join(cwd, 'first.log'), 'utf8'), 'ran\n');
    const record = records(cwd, 'interruptible').at(-1)!;
    assert.equal(record.status, 'succeeded');
    assert.equal(record.resumedFrom, interrupted.id);
    assert.equal(record.steps[0].reusedFrom, interrupted.id);

    const again = await runCliAsync(['workflow', 'interruptible', '--resume'], { cwd, env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /nothing to resume: the last run of workflow interruptible .* succeeded/);
  });

  test('describe workflows and list workflows', async () => {
    const described = await runCliAsync(['describe', 'workflows', '--format', 'json'], { cwd, env });
    assert.equal(described.code, 0, described.stderr);
    const rows = JSON.parse(described.stdout) as Array<{ file: string; workflow: string }>;
    assert.deepEqual(rows[0], { file: 'main.yaml', workflow: 'ok' });
    assert.ok(rows.some((r) => r.file === 'main.yaml' && r.workflow === 'interruptible'));
    const map = await runCliAsync(['describe', 'workflows', '-o', 'map'], { cwd, env });
    assert.match(map.stdout, /^main\.yaml:\n {2}- ok\n/m);
    const listed = await runCliAsync(['list', 'workflows'], { cwd, env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^FILE\s+WORKFLOW\s+DESCRIPTION\nmain\.yaml\s+ok\s+Two shell steps$/m);
  });

  test('a needs cycle is reported with the whole cycle before anything runs', async () => {
    const result = await runCliAsync(['workflow', 'cyclic', '-f', 'main'], { cwd, env });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /Error: workflow cyclic: dependency cycle: a -> b -> a\n {2}at .*main\.yaml:\d+/);
    const dangling = await runCliAsync(['workflow', 'dangling', '-f', 'main'], { cwd, env });
    assert.equal(dangling.code, 1);
    assert.match(dangling.stderr, /workflow dangling: 'second' needs 'firts', which does not exist/);
    assert.match(dangling.stderr, /Did you mean 'first'\?/);
  });

  test('unknown workflow without -f: did-you-mean over all files', async () => {
    const result = await runCliAsync(['workflow', 'paralel'], { cwd, env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no workflow found: no workflow exists with name paralel/);
    assert.match(result.stderr, /Did you mean 'parallel'\?/);
  });

  test('--progress tty redraws a task list in place; output stays on stdout', async () => {
    const result = await runCliAsync(['workflow', 'ok-tty', '-f', 'main', '--progress', 'tty'], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'first\ntwo\n');
    assert.match(result.stderr, /\u001b\[\d+A\u001b\[0J/);
    // The last frame: both steps done, with timings.
    const lastFrame = result.stderr.split('\u001b[0J').at(-1) ?? '';
    assert.match(lastFrame, /^✔ step1\s+\d+ms {2}echo "first"/m);
    assert.match(lastFrame, /^✔ second\s+\d+ms {2}echo two$/m);
  });
});

test("strata steps start strata's own package entry, wherever this code was loaded from", async () => {
  const { strataInvocation } = await import('../../src/workflows/run.ts');
  const { repoRoot } = await import('../helpers/shared.ts');
  const declared = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { strata: string } };
  assert.deepEqual(strataInvocation(), { command: process.execPath, args: [join(repoRoot, declared.bin.strata)] });
});

test('an unknown workflow, step or -s stack fails before any step runs, with a did-you-mean; steps may have a title', async () => {
  const stacked = makeProject({
    'typo.yaml': `workflows:
  by-workflow:
    stack: deploy/prodd
    steps:
      - title: Record that a step ran
        command: echo ran >> ran.txt
        type: shell
      - command: list components
  by-step:
    steps:
      - command: echo ran >> ran.txt
        type: shell
      - command: list components
        stack: deploy/prodd
  titled:
    steps:
      - title: List the stacks
        command: list components
        stack: deploy/prod
`,
  });
  try {
    mkdirSync(join(stacked.dir, 'stacks', 'deploy'), { recursive: true });
    writeFileSync(join(stacked.dir, 'stacks', 'deploy', 'prod.yaml'), 'components: {terraform: {app: {vars: {}}}}\n');
    writeFileSync(
      join(stacked.dir, 'atmos.yaml'),
      'base_path: "./"\nstacks:\n  base_path: stacks\n  included_paths: ["deploy/**/*"]\nworkflows:\n  base_path: stacks/workflows\n',
    );
    const env = projectEnv(stacked.dir);
    for (const args of [['by-workflow'], ['by-step'], ['titled', '-s', 'deploy/prodd']]) {
      const result = await runCliAsync(['workflow', ...args, '-f', 'typo'], { cwd: stacked.dir, env });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /uses stack 'deploy\/prodd', which does not exist/);
      assert.match(result.stderr, /Did you mean 'deploy\/prod'\?/);
      assert.equal(existsSync(join(stacked.dir, 'ran.txt')), false, 'no step ran');
    }
    const titled = await runCliAsync(['workflow', 'titled', '-f', 'typo'], { cwd: stacked.dir, env });
    assert.equal(titled.code, 0, titled.stderr);
  } finally {
    stacked.cleanup();
  }
});
