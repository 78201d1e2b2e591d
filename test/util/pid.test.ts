import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { processAlive } from '../../src/util/pid.ts';

const state = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat[stat.lastIndexOf(')') + 2];
};

test('a zombie (exited, not reaped yet) is not alive; running processes are', {
  skip: existsSync('/proc/self/stat') ? false : 'needs /proc',
}, async () => {
  // sh starts `true` in the background, then becomes `sleep`, which never reaps it: `true` stays a zombie.
  const parent = spawn('sh', ['-c', 'true & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d)))));
    for (let i = 0; i < 500 && state(pid) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(state(pid), 'Z');
    assert.equal(processAlive(pid), false);
    assert.equal(processAlive(parent.pid as number), true);
    assert.equal(processAlive(process.pid), true);
  } finally {
    parent.kill('SIGKILL');
  }
});
