/**
 * Examples for the `--help` of commands whose module adds none (the groups among them): every command's help ends
 * with an example (test/cli/help-examples.test.ts walks the whole program tree).
 */
import type { Command } from 'commander';

const EXAMPLES: Record<string, string[]> = {
  describe: [
    'strata describe component k3s-cluster -s pve-prod',
    'strata describe stacks --format json --sections vars',
  ],
  'describe config': ['strata describe config', 'strata describe config --format yaml'],
  'describe locals': ['strata describe locals -s pve-prod', "strata describe locals --format json -q '.[].locals'"],
  'describe dependents': [
    'strata describe dependents k3s-cluster -s pve-prod   # what settings.depends_on points here',
  ],
  list: ['strata list stacks', 'strata list components -s pve-prod --format json'],
  'list stacks': ['strata list stacks', 'strata list stacks -c k3s-cluster --format json'],
  'list components': ['strata list components -s pve-prod', 'strata list components --format yaml'],
  'list instances': ['strata list instances -s pve-prod', 'strata list instances --format json'],
  validate: ['strata validate stacks', 'strata validate component k3s-cluster -s pve-prod'],
  'validate config': ['strata validate config', 'strata validate config --format json   # {valid, problems}'],
  'validate stacks': ['strata validate stacks', 'strata validate stacks --stack pve-prod --format json'],
  'validate component': [
    'strata validate component k3s-cluster -s pve-prod',
    'strata validate component k3s-cluster -s pve-prod --schema-path schemas/vm.json',
  ],
  'secrets keys': ['strata secrets keys', 'strata secrets keys --format json'],
  'serve token': ['strata serve token issue k3s-s1', 'strata serve token verify "$TOKEN"'],
  generate: ['strata generate env -s pve-prod --out build/pve-prod'],
  lock: ['strata lock list', 'strata lock release k3s-cluster@pve-prod'],
  doctor: ['strata doctor backend k3s-cluster -s pve-prod'],
  ci: ['strata ci init github', 'strata ci comment github --repo me/infra --pr 12 --file strata-plan.md'],
  'ci comment': ['STRATA_FORGE_TOKEN=... strata ci comment github --repo me/infra --pr 12 --file strata-plan.md'],
  vendor: ['strata vendor pull', 'strata vendor pull --component k3s-cluster'],
  scenario: ['strata scenario vm-roundtrip   # prints the strata command that replaces it'],
  config: ['strata config fetch --insecure', 'strata config apply --dry-run'],
  'config fetch': ['HOMESTAK_SERVER=https://10.0.0.5:44443 HOMESTAK_TOKEN=... strata config fetch --insecure'],
  'config apply': ['strata config apply --dry-run', 'strata config apply --json-output'],
  server: ['strata server start --port 44443', 'strata server status --json'],
  'server start': ['strata server start', 'strata server start --port 44444 --json'],
  'server stop': ['strata server stop', 'strata server stop --port 44444'],
  'server status': ['strata server status || strata server start'],
  token: ['strata token inspect "$HOMESTAK_TOKEN"'],
  'token inspect': ['strata token inspect "$HOMESTAK_TOKEN"', 'strata token inspect "$HOMESTAK_TOKEN" --verify --json'],
};

/** Adds the examples above to the commands of `program` that exist in this run (modules load per command). */
export function addHelpExamples(program: Command, path: string[] = []): void {
  for (const command of program.commands) {
    const name = [...path, command.name()];
    const examples = EXAMPLES[name.join(' ')];
    if (examples) command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n`);
    addHelpExamples(command, name);
  }
}
