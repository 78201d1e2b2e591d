// Child process of test/helpers/aws.ts: s3rver and dynalite on random loopback ports; prints their URLs as one JSON
// line, then serves until stdin closes (so a test that blocks its own event loop, e.g. with spawnSync, still works).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const dynalite = require('dynalite');

const [dir, ...buckets] = process.argv.slice(2);
const s3 = new S3rver({
  port: 0,
  address: '127.0.0.1',
  silent: true,
  directory: dir,
  configureBuckets: buckets.map((name) => ({ name })),
});
const s3address = await s3.run();
const ddb = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise((resolve) => ddb.listen(0, '127.0.0.1', resolve));
process.stdout.write(
  `${JSON.stringify({ s3: `http://127.0.0.1:${s3address.port}`, dynamodb: `http://127.0.0.1:${ddb.address().port}` })}\n`,
);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
