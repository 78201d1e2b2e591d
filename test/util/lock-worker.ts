/** Holds a util/lock lock in its own process: prints `held`, releases on `release` from stdin (or never when killed). */
import { acquireFileLock } from '../../src/util/lock.ts';

const [path, command] = process.argv.slice(2);
const release = await acquireFileLock(path, { command });
process.stdout.write('held\n');
process.stdin.setEncoding('utf8');
process.stdin.on('data', async (text: string) => {
  if (!text.includes('release')) return;
  await release();
  process.stdout.write('released\n');
  process.exit(0);
});
