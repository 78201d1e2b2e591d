// The child of test/helpers/cli-server.ts: loads strata's CLI once (the bundle when fresh, else the sources through
// tsx, as bin/strata.js chooses) and runs one request at a time, each in its own folder and environment, with its
// output captured.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bundleIsFresh, root } from '../../bin/cli-target.js';

async function loadMain() {
  if (bundleIsFresh()) {
    const chunk = readdirSync(join(root, 'dist')).find((name) => /^main-[A-Z0-9]+\.mjs$/.test(name));
    if (chunk) return (await import(join(root, 'dist', chunk))).main;
  }
  const { register } = await import('tsx/esm/api');
  register();
  return (await import('../../src/cli/main.ts')).main;
}

const main = await loadMain();
const baseEnv = { ...process.env };
// main() adds its pipe-error listeners on every run.
process.stdout.setMaxListeners(0);
process.stderr.setMaxListeners(0);

async function run({ args, cwd, env }) {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, baseEnv, { NO_COLOR: '1' }, env);
  process.chdir(cwd);
  process.exitCode = undefined;
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ['stdout', 'stderr']) {
    process[name].write = (chunk, encoding, callback) => {
      out[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const done = typeof encoding === 'function' ? encoding : callback;
      if (done) queueMicrotask(done);
      return true;
    };
  }
  try {
    const code = await main(args);
    return { code, ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.exitCode = undefined;
  }
}

let queue = Promise.resolve();
process.on('message', (request) => {
  queue = queue.then(async () => {
    const result = await run(request).catch((error) => ({
      code: 1,
      stdout: '',
      stderr: `cli-server: ${error?.stack ?? error}`,
    }));
    process.send({ id: request.id, ...result });
  });
});
process.send({ ready: true });
