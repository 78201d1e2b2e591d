/**
 * A runner process for the lock tests: says `ready` and waits for the `go` file (so all start together), tries to take
 * the lock, prints {"won": true|false}, then either exits without releasing (try) or holds it while renewing (hold).
 */
import { existsSync } from 'node:fs';
import { acquireLock, openStore, withRunLock } from '../../src/store/index.ts';

const [mode, target, id, ttl, go] = process.argv.slice(2);
const store = await openStore(target.startsWith('postgres') ? { dir: '.', url: target } : { dir: target, env: {} });
if (go) process.stdout.write('ready\n');
while (go && !existsSync(go)) await new Promise((r) => setTimeout(r, 5));
if (mode === 'try') {
  const lease = await acquireLock(store, id, {
    operation: 'plan',
    ttlMs: Number(ttl),
    holder: `worker-${process.pid}`,
  });
  process.stdout.write(`${JSON.stringify({ won: lease !== undefined })}\n`);
  process.exit(0);
}
await withRunLock(store, id, { operation: 'apply', ttlMs: Number(ttl), holder: `holder-${process.pid}` }, async () => {
  process.stdout.write('held\n');
  // Stands in for the real work (a terraform child process) that keeps a runner alive until it is killed.
  setInterval(() => {}, 1000);
  await new Promise(() => {});
});
