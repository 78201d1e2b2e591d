#!/usr/bin/env node
/**
 * The executable's first module (`dist/strata.mjs`, the single binary's script): answers `strata --version` before
 * anything else loads, a completion request from its cache, and otherwise hands the words to the CLI. No top-level await, so the same module also runs
 * as the CommonJS script of the single binary.
 */
import { VERSION } from '../util/version.ts';

const argv = process.argv.slice(2);
const finish = (code: number) => {
  process.exitCode = code;
};
if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`${VERSION}\n`);
} else if (argv[0] === '__complete') {
  // A shell's TAB: answered from the completion cache, without the CLI (see completion.ts).
  void import('./completion-cache.ts').then(({ completeCommand }) => completeCommand(argv.slice(1))).then(finish);
} else {
  void import('./main.ts').then(({ main }) => main(argv)).then(finish);
}
