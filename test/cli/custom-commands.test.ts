/**
 * atmos.yaml `commands:` (issue 19): arguments, flags, env (value and valueCommand), nested commands,
 * component_config, steps run through the shell, shown in --help; a failing step's exit code is strata's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { ATMOS_YAML, makeRepo, type Repo } from '../stacks/fixtures.ts';

const COMMANDS = `commands:
  - name: hello
    description: Greets someone
    arguments:
      - name: name
        description: who to greet
        required: true
    flags:
      - name: greeting
        shorthand: g
        description: the greeting
        default: Hello
      - name: loud
        type: bool
    env:
      - key: SUFFIX
        value: "{{ if .Flags.loud }}!{{ else }}.{{ end }}"
      - key: HOST_WORD
        valueCommand: echo from-shell
    steps:
      - 'echo "{{ .Flags.greeting }}, {{ .Arguments.name }}$SUFFIX $HOST_WORD" > hello.txt'
  - name: ops
    description: Terraform helpers
    commands:
      - name: cidr
        description: Prints a component's cidr
        arguments:
          - name: component
            required: true
        flags:
          - name: stack
            shorthand: s
            required: true
        component_config:
          component: "{{ .Arguments.component }}"
          stack: "{{ .Flags.stack }}"
        verbose: true
        steps:
          - echo {{ .ComponentConfig.vars.cidr }} {{ .ComponentConfig.atmos_stack }} > cidr.txt
  - name: fail
    steps:
      - echo first > first.txt
      - exit 3
      - echo never > never.txt
  - name: describe
    steps:
      - echo shadowed
`;

let repo: Repo;
before(() => {
  repo = makeRepo(
    {
      'components/terraform/vpc/main.tf': '',
      'stacks/deploy/dev.yaml': 'name: dev\ncomponents:\n  terraform:\n    vpc: {vars: {cidr: 10.1.0.0/16}}\n',
    },
    { atmos: `${ATMOS_YAML}${COMMANDS}` },
  );
});
after(() => repo.cleanup());

const read = (name: string) => readFileSync(join(repo.dir, name), 'utf8').trim();

test('a custom command with an argument, flags and env runs its step through the shell', () => {
  const plain = runCli(['hello', 'world'], { cwd: repo.dir });
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(read('hello.txt'), 'Hello, world. from-shell');
  const flags = runCli(['hello', 'you', '-g', 'Hi', '--loud'], { cwd: repo.dir });
  assert.equal(flags.code, 0, flags.stderr);
  assert.equal(read('hello.txt'), 'Hi, you! from-shell');
});

test('a nested custom command reads the described component through component_config', () => {
  const result = runCli(['ops', 'cidr', 'vpc', '-s', 'dev'], { cwd: repo.dir });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(read('cidr.txt'), '10.1.0.0/16 dev');
  assert.match(result.stderr, /ops cidr step 1: echo 10\.1\.0\.0\/16 dev/, 'verbose prints the step');
});

test('a failing step stops the command with its exit code', () => {
  const result = runCli(['fail'], { cwd: repo.dir });
  assert.equal(result.code, 3);
  assert.equal(read('first.txt'), 'first');
  assert.throws(() => read('never.txt'));
});

test('--help lists the custom commands; one named like a strata command is ignored with a warning', () => {
  const help = runCli(['--help'], { cwd: repo.dir });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /hello \[options\] <name>\s+Greets someone/);
  assert.match(help.stdout, /ops\s+Terraform helpers/);
  assert.match(help.stderr, /custom command 'describe' has the name of a strata command; it is ignored/);
  const missing = runCli(['hello'], { cwd: repo.dir });
  assert.equal(missing.code, 2, 'a missing required argument is a usage error');
});
