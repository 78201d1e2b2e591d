// `node --import <this file>`: the test runner's TypeScript loader (see hooks.mjs for why not tsx), and each test
// file's own cache folder.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

register('./hooks.mjs', import.meta.url);

// A test process (the runner sets NODE_TEST_CONTEXT in each file's process) gets an empty XDG_CACHE_HOME, inherited
// by the CLIs it starts: strata's caches never grow in the user's home, and a test never pays for the thousands of
// manifest packs that earlier runs' throwaway repositories left (a parse-cache write lists the folder). The HCL
// cache (one file per distinct text and strata version) stays shared by every test file and run, as a user's is:
// each parse it saves starts the WebAssembly parser, ~0.5 s of CPU.
if (process.env.NODE_TEST_CONTEXT && !process.env.STRATA_TEST_CACHE_HOME) {
  const home = mkdtempSync(join(tmpdir(), 'strata-test-cache-'));
  const hcl = join(tmpdir(), 'strata-test-hcl-cache');
  mkdirSync(hcl, { recursive: true });
  mkdirSync(join(home, 'strata'));
  symlinkSync(hcl, join(home, 'strata', 'hcl'));
  process.env.XDG_CACHE_HOME = home;
  process.env.STRATA_TEST_CACHE_HOME = home;
  process.on('exit', () => rmSync(home, { recursive: true, force: true }));
}
