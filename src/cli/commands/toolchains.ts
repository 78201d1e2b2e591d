import type { Command } from 'commander';
import type { ToolchainKind } from '../../services/toolchain.ts';
import { wordsAfterCommand } from '../toolchains/argv.ts';
import { runComponentCommand } from '../toolchains/command.ts';

const TERRAFORM_HELP = `
Verbs: any terraform/tofu subcommand (plan, apply, output, validate, state list, import, ...), plus
  deploy                      apply -auto-approve (--from-plan applies the saved planfile)
  clean                       delete .terraform, lock file, generated and var files (--everything, --force)
  shell                       a shell in the component folder with init done and the workspace selected
  generate varfile|backend|planfile

Flags (strata's own; every other word is passed to terraform in order, as is everything after --):
  -s, --stack <stack>         the stack (required for one component)
  --dry-run                   print the files and exact commands, run nothing
  --skip-init                 do not run init / workspace select first
  --from-plan, --planfile <f> apply a saved plan (deploy)
  --all | --components a,b    many components in dependency order (settings.depends_on / dependencies.components)
  --affected [--ref r|--sha s] the instances a git change affects (as describe affected), in dependency order
  --max-concurrency <n>       parallel components for --all/--components (default 4)
  --continue-on-error         keep running components that do not depend on a failed one
  --format json|yaml          summary of a multi-component run as data
  --file <path>               generate varfile/planfile: where to write

Examples:
  strata terraform plan vpc -s dev
  strata terraform deploy vpc -s dev -- -parallelism=2
  strata terraform plan --all -s dev --max-concurrency 4
  strata terraform plan --affected --ref main
  strata terraform output vpc -s dev -json
  strata terraform deploy vpc -s dev --dry-run
`;

const PACKER_HELP = `
Verbs: init, validate, build, inspect, fmt, version, console, output
Flags: -s/--stack, --template <file|dir> (default settings.packer.template, then .), --query <expr> (output),
       --format json|yaml (output), --dry-run; other words are passed to packer.

Examples:
  strata packer validate alma9 -s pve-prod
  strata packer build alma9 -s pve-prod -- -on-error=abort
  strata packer output alma9 -s pve-prod --query '.builds[0].artifact_id'
`;

const KUBERNETES_HELP = `
Verbs: render (kustomize build), diff, apply, delete, wait
The stack's vars reach kustomize as the ConfigMap 'strata-vars' (dropped from the output unless
settings.kubernetes.emit_vars) for settings.kubernetes.replacements; settings.kubernetes.kubeconfig,
.context and .namespace choose the cluster. Other words are passed to kubectl.

Examples:
  strata kubernetes render apps -s home
  strata kubernetes apply apps -s home -- --server-side
`;

const ANSIBLE_HELP = `
Runs ansible-playbook in the component folder with the stack's vars as extra vars (a 0600 file removed after).
Playbook: --playbook > settings.ansible.playbook > site.yml / playbook.yml.
Inventory: --inventory > settings.ansible.inventory_from_terraform {component, output, group} >
settings.ansible.inventory (path, host list or inventory map).

Examples:
  strata ansible playbook k3s -s pve-prod
  strata ansible playbook k3s -s pve-prod --dry-run -- --check --diff
`;

const KINDS: Array<{ kind: ToolchainKind; aliases: string[]; summary: string; help: string }> = [
  {
    kind: 'terraform',
    aliases: ['tf'],
    summary: 'run Terraform/OpenTofu for a component in a stack (var file, backend, init, workspace)',
    help: TERRAFORM_HELP,
  },
  { kind: 'packer', aliases: [], summary: 'run Packer for a component in a stack', help: PACKER_HELP },
  {
    kind: 'kubernetes',
    aliases: ['k8s'],
    summary: 'render, diff, apply, delete or wait for a kustomize component in a stack',
    help: KUBERNETES_HELP,
  },
  { kind: 'ansible', aliases: [], summary: 'run an Ansible playbook component in a stack', help: ANSIBLE_HELP },
];

/** Commands of the toolchains concern. Arguments are split by strata's own splitter, not commander's (single-dash flags). */
export function register(program: Command): void {
  for (const { kind, aliases, summary, help } of KINDS) {
    program
      .command(kind)
      .aliases(aliases)
      .description(summary)
      .usage('<verb> <component> -s <stack> [native args] [-- native args]')
      .argument('[words...]')
      .allowUnknownOption()
      .allowExcessArguments()
      .addHelpText('after', help)
      .action(async () => {
        const globals = program.opts() as { config?: string; basePath?: string };
        // commander keeps the untouched argv in rawArgs (not in its typings).
        const raw = (program as unknown as { rawArgs: string[] }).rawArgs;
        const words = wordsAfterCommand(raw, [kind, ...aliases]);
        const code = await runComponentCommand(kind, words, {
          configPath: globals.config,
          basePath: globals.basePath,
        });
        process.exitCode = code;
      });
  }
}
