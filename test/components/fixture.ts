/** Small repositories (atmos.yaml + stacks + components) written to temp dirs for CLI-level tests. */
import { stringify } from 'yaml';
import { BASIC_TF, tempDir, writeTree } from './helpers.ts';

export const ATMOS_YAML = {
  base_path: '.',
  components: {
    terraform: {
      base_path: 'components/terraform',
      command: 'terraform',
      auto_generate_backend_file: true,
      init_run_reconfigure: true,
      apply_auto_approve: false,
      deploy_run_init: true,
    },
    packer: { base_path: 'components/packer', command: 'packer' },
    kubernetes: { base_path: 'components/kubernetes', command: 'kubectl' },
    ansible: { base_path: 'components/ansible', command: 'ansible-playbook' },
  },
  stacks: { base_path: 'stacks', included_paths: ['deploy/**/*'], name_pattern: '{stage}' },
};

/** Writes a repository; `stack` is the `dev` stack manifest (vars.stage = dev is added). */
export function makeRepo(
  prefix: string,
  stack: Record<string, unknown>,
  files: Record<string, string> = {},
  atmos: Record<string, unknown> = ATMOS_YAML,
): { path: string; cleanup: () => void } {
  const dir = tempDir(prefix);
  const stacks: Record<string, string> = {};
  const manifests = (stack.__stacks as Record<string, Record<string, unknown>> | undefined) ?? { dev: stack };
  for (const [stage, doc] of Object.entries(manifests)) {
    const { __stacks: _ignored, ...rest } = doc;
    stacks[`stacks/deploy/${stage}.yaml`] = stringify({
      ...rest,
      vars: { stage, ...((rest.vars as object) ?? {}) },
    });
  }
  writeTree(dir.path, {
    'atmos.yaml': stringify(atmos),
    'components/terraform/app/main.tf': BASIC_TF,
    ...stacks,
    ...files,
  });
  return dir;
}

/** An environment without the machine's TF_CLI_CONFIG_FILE warning source left unset on purpose. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { CHECKPOINT_DISABLE: '1', ...extra };
}
