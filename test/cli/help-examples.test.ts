// Every command and subcommand of the program tree has an example in its --help (README: "Every command has --help
// with examples"). The tree is built in process; a few commands are then asked through the real CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { runCli } from '../helpers/cli.ts';

/** Every command below `program`, with its path (`describe config`). */
function commands(program: Command, path: string[] = []): Array<[string, Command]> {
  return program.commands
    .filter((command) => command.name() !== 'help')
    .flatMap((command) => {
      const name = [...path, command.name()];
      return [[name.join(' '), command] as [string, Command], ...commands(command, name)];
    });
}

/** What `--help` prints, after-texts included. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (chunk) => void (text += chunk), writeErr: (chunk) => void (text += chunk) });
  command.outputHelp();
  return text;
}

test('every command and subcommand has an Examples section in its --help', async () => {
  const all = commands(await buildProgram([]));
  assert.ok(all.length >= 60, `the whole tree (${all.length} commands)`);
  const without = all.filter(([, command]) => !/^Examples?\b/m.test(helpOf(command))).map(([name]) => name);
  assert.deepEqual(without, [], 'commands whose --help has no example');
});

test('the real CLI prints the examples (a group, a leaf)', () => {
  for (const words of [['lock'], ['validate', 'stacks']]) {
    const result = runCli([...words, '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Examples?:\n {2}strata /m, words.join(' '));
  }
});
