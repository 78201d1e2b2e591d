// Journey: output piped into a reader that stops early (`strata describe stacks | head -1`) ends quietly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { type Journey, journey, TERRAFORM_ATMOS_YAML } from './helpers.ts';

let j: Journey;

before(async () => {
  j = await journey('pipes');
  const files: Record<string, string> = {
    'atmos.yaml': TERRAFORM_ATMOS_YAML,
  };
  // Far more output than a pipe buffers (64 KiB), so strata is still writing when head has gone.
  const text = 'x'.repeat(400);
  for (let i = 0; i < 400; i++) {
    files[`stacks/s${i}.yaml`] =
      `vars:\n  stage: s${i}\ncomponents:\n  terraform:\n    app:\n      vars:\n        text: ${text}\n`;
  }
  j.write(files);
});

after(() => j?.cleanup());

for (const [format, first] of [
  ['', 's0:\n'],
  [' --format json', '{\n'],
]) {
  test(`strata describe stacks${format} | head -1 ends quietly`, () => {
    const result = spawnSync(
      'bash',
      ['-c', `"${j.bin}" describe stacks${format} | head -1; echo "status=\${PIPESTATUS[0]}" >&2`],
      {
        cwd: j.repo,
        env: j.env,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.equal(result.stdout, first);
    const status = /status=(\d+)/.exec(result.stderr)?.[1];
    assert.ok(status === '0' || status === '141', `exit 0 or SIGPIPE's 141, got ${status}`);
    assert.equal(result.stderr.replace(/status=\d+\n/, ''), '', 'nothing on stderr');
  });
}
