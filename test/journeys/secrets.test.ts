// Journey: secrets from SOPS/age, Ansible Vault (a file and an inline `!vault`), and `!env` (a secret-like name, a
// variable declared sensitive) reach Terraform (pg backend, read back with `terraform show -json`), an Ansible play
// and a Packer build through the installed CLI; afterwards nothing strata printed or left behind holds one.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { skipWithoutPostgres, startPostgresDatabase } from '../helpers/postgres.ts';
import { sharedDir, skipWithoutShared } from '../helpers/shared.ts';
import { dataInputs, findSecrets, type Journey, journey, terraformShow, waitFor } from './helpers.ts';

const missing = ['terraform', 'packer', 'ansible-playbook', 'ansible-vault'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
const skip = skipWithoutShared || skipWithoutPostgres || (missing.length > 0 && `not installed: ${missing.join(', ')}`);

const SOPS_SECRET = 'this is a secret'; // strata:allow-secret (the public SOPS test vector's value)
const token = (label: string) => `${label}-${randomBytes(9).toString('hex')}`;
const VAULT_FILE_SECRET = token('vaultfile');
const VAULT_INLINE_SECRET = token('vaultinline');
const ENV_TOKEN = token('envtoken');
const SENSITIVE_WORD = token('sensitive');
const SECRETS = [SOPS_SECRET, VAULT_FILE_SECRET, VAULT_INLINE_SECRET, ENV_TOKEN, SENSITIVE_WORD];
/** A sensitive number: Terraform prints it bare in JSON (`"value": 481516234200`). */
const SENSITIVE_PIN = String(100_000_000_000 + Math.floor(Math.random() * 800_000_000_000));

let j: Journey;
let db: { url: string; stop(): void } | undefined;
let env: NodeJS.ProcessEnv;

function vaultEncrypt(passFile: string, args: string[], input?: string): string {
  return execFileSync('ansible-vault', ['encrypt_string', '--vault-password-file', passFile, ...args], {
    encoding: 'utf8',
    input,
  });
}

before(async () => {
  if (skip) return;
  j = await journey('secrets');
  db = await startPostgresDatabase('tfstate');
  const passFile = join(j.root, 'vault-pass');
  writeFileSync(passFile, 'journey-vault-password\n', { mode: 0o600 });
  const vaultFile = vaultEncrypt(passFile, ['--name', 'api_token', VAULT_FILE_SECRET]);
  const inline = vaultEncrypt(passFile, ['--stdin-name', 'x'], VAULT_INLINE_SECRET).replace(/^x: !vault \|\n/, '');
  env = {
    STRATA_AGE_KEY_FILE: join(sharedDir, 'testdata', 'sops', 'age-test-key.txt'),
    ANSIBLE_VAULT_PASSWORD_FILE: passFile,
    JOURNEY_API_TOKEN: ENV_TOKEN,
    JOURNEY_WORD: SENSITIVE_WORD,
    JOURNEY_PIN: SENSITIVE_PIN,
  };
  const out = j.out;
  j.write({
    'atmos.yaml': `base_path: .
components:
  terraform:
    base_path: components/terraform
    auto_generate_backend_file: true
  packer:
    base_path: components/packer
  ansible:
    base_path: components/ansible
stacks:
  base_path: stacks
  included_paths: ["*.yaml"]
  name_pattern: "{stage}"
`,
    'secrets/vault.yml': vaultFile,
    'stacks/dev.yaml': `vars:
  stage: dev
  db_password: !secret ${join(sharedDir, 'testdata', 'sops', 'secret.enc.yaml')} secret
  api_token: !secret secrets/vault.yml api_token
  inline_secret: !vault |
${inline.replace(/\n+$/, '')}
  env_token: !env JOURNEY_API_TOKEN
  out_dir: ${out}
components:
  terraform:
    app:
      backend_type: pg
      backend:
        pg:
          conn_str: ${db?.url}
          schema_name: journey
      vars:
        word: !env JOURNEY_WORD
        pin: !env JOURNEY_PIN
    slow:
      metadata:
        component: slow
      backend_type: pg
      backend:
        pg:
          conn_str: ${db?.url}
          schema_name: journey_slow
  packer:
    image:
      vars:
        word: !env JOURNEY_WORD
  ansible:
    play:
      settings:
        ansible:
          inventory: "localhost,"
`,
    'components/terraform/app/main.tf': `variable "db_password" { type = string }
variable "api_token" { type = string }
variable "inline_secret" { type = string }
variable "env_token" { type = string }
variable "word" {
  type      = string
  sensitive = true
}
variable "pin" {
  type      = number
  sensitive = true
}
variable "stage" { type = string }
variable "out_dir" { type = string }
output "pin" {
  value     = var.pin
  sensitive = true
}
resource "terraform_data" "secrets" {
  input = {
    db     = var.db_password
    api    = var.api_token
    inline = var.inline_secret
    env    = var.env_token
    word   = nonsensitive(var.word)
  }
}
output "db" { value = terraform_data.secrets.output.db }
`,
    'components/terraform/slow/main.tf': `variable "db_password" { type = string }
variable "out_dir" { type = string }
resource "terraform_data" "slow" {
  input = var.db_password
  provisioner "local-exec" {
    command = "touch \${var.out_dir}/slow-started && sleep 30"
  }
}
`,
    'components/packer/image/build.pkr.hcl': `variable "db_password" { type = string }
variable "api_token" { type = string }
variable "inline_secret" { type = string }
variable "env_token" { type = string }
variable "stage" { type = string }
variable "out_dir" { type = string }
variable "word" {
  type      = string
  sensitive = true
}
source "null" "local" {
  communicator = "none"
}
build {
  sources = ["source.null.local"]
  provisioner "shell-local" {
    inline = ["printf '%s|%s|%s|%s|%s' '\${var.db_password}' '\${var.api_token}' '\${var.inline_secret}' '\${var.env_token}' '\${var.word}' > \${var.out_dir}/packer.txt"]
  }
}
`,
    'components/ansible/play/site.yml': `- hosts: all
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out_dir }}/ansible.txt"
        content: "{{ db_password }}|{{ api_token }}|{{ inline_secret }}|{{ env_token }}"
        mode: "0600"
`,
  });
  j.git('init', '-q');
  j.git('add', '-A');
  j.git('commit', '-qm', 'journey');
});

after(() => {
  db?.stop();
  j?.cleanup();
});

test('secrets reach Terraform, Ansible and Packer, and nothing strata prints or leaves holds them', {
  skip,
}, async () => {
  const described = await j.strata(['describe', 'component', 'app', '-s', 'dev'], { env });
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /db_password: "\*\*\* \(secret from sops:\S+secret\.enc\.yaml#secret\)"/);
  assert.match(described.stdout, /env_token: "\*\*\* \(secret from env:JOURNEY_API_TOKEN\)"/);
  assert.match(described.stdout, /word: "\*\*\* \(sensitive variable\)"/);
  const dry = await j.strata(['terraform', 'deploy', 'app', '-s', 'dev', '--dry-run'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /-var-file=\S+\/strata-secret-XXXXXX\/dev-app\.terraform\.tfvars\.json/);
  const generated = await j.strata(['generate', 'env', '-s', 'dev', '--out', 'generated'], { env });
  assert.equal(generated.code, 0, generated.stderr);
  const tfvars = JSON.parse(readFileSync(join(j.repo, 'generated/terraform/app.tfvars.json'), 'utf8'));
  assert.equal(tfvars.word, '*** (sensitive variable)');
  assert.equal(tfvars.api_token, '*** (secret from vault:secrets/vault.yml#api_token)');

  const deploy = await j.strata(['terraform', 'deploy', 'app', '-s', 'dev'], { env });
  assert.equal(deploy.code, 0, deploy.stderr);
  const state = terraformShow(join(j.repo, 'components/terraform/app'), 'dev', { PG_CONN_STR: db?.url });
  assert.deepEqual(dataInputs(state)['terraform_data.secrets'], {
    db: SOPS_SECRET,
    api: VAULT_FILE_SECRET,
    inline: VAULT_INLINE_SECRET,
    env: ENV_TOKEN,
    word: SENSITIVE_WORD,
  });
  assert.equal(state.values?.outputs?.pin?.value, Number(SENSITIVE_PIN));

  const play = await j.strata(['ansible', 'playbook', 'play', '-s', 'dev'], { env });
  assert.equal(play.code, 0, play.stdout + play.stderr);
  assert.equal(
    readFileSync(join(j.out, 'ansible.txt'), 'utf8'),
    [SOPS_SECRET, VAULT_FILE_SECRET, VAULT_INLINE_SECRET, ENV_TOKEN].join('|'),
  );

  const build = await j.strata(['packer', 'build', 'image', '-s', 'dev'], { env });
  assert.equal(build.code, 0, build.stdout + build.stderr);
  assert.equal(readFileSync(join(j.out, 'packer.txt'), 'utf8'), SECRETS.join('|'));

  // A failing run and an interrupted one clean up too.
  const failing = await j.strata(['terraform', 'plan', 'app', '-s', 'dev', '-var', 'nope=1'], { env });
  assert.notEqual(failing.code, 0);
  const slow = j.start(['terraform', 'deploy', 'slow', '-s', 'dev'], { env });
  assert.ok(await waitFor(() => existsSync(join(j.out, 'slow-started')), 60_000), 'the slow apply started');
  slow.child.kill('SIGTERM');
  const stopped = await slow.done;
  assert.notEqual(stopped.code, 0);

  const left = readdirSync(j.tmp).filter((name) => name.startsWith('strata-'));
  assert.deepEqual(left, [], 'no private folder is left in the temp folder');
  const hits = findSecrets([...SECRETS, SENSITIVE_PIN], [j.repo, j.tmp], j.printed);
  assert.deepEqual(hits, [], `plain secrets left behind: ${JSON.stringify(hits, null, 2)}`);
});

test('machine output stays valid: terraform output -json with a sensitive number is still JSON', {
  skip,
}, async () => {
  const output = await j.strata(['terraform', 'output', 'app', '-s', 'dev', '-json'], { env });
  assert.equal(output.code, 0, output.stderr);
  const parsed = JSON.parse(output.stdout) as Record<string, { value: unknown }>;
  assert.ok(!output.stdout.includes(SENSITIVE_PIN));
  assert.notEqual(parsed.pin.value, Number(SENSITIVE_PIN));
});
