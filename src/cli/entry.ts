#!/usr/bin/env node
/**
 * The executable's first module (`dist/strata.mjs`, the single binary's script): answers `strata --version` before
 * anything else loads, and otherwise hands the words to the CLI. No top-level await, so the same module also runs
 * as the CommonJS script of the single binary.
 */
import { VERSION } from '../util/version.ts';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`${VERSION}\n`);
} else {
  void import('./main.ts')
    .then(({ main }) => main(argv))
    .then((code) => {
      process.exitCode = code;
    });
}
