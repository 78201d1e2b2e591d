// Sensitive values in what the real terraform prints through strata: masked in every form terraform writes them
// (JSON with Go escaping, HCL), and `terraform output -json` stays a JSON document (issues 11 and 13).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { cliEnv, makeRepo } from './fixture.ts';

// strata:allow-secret (fixture values, with the characters tools escape)
const password = 'Pa"ss\\word<&>-7Q';
const pin = 48151623;
// strata:allow-secret
const apiKey = 'k3y-with-$dollar-and-é';

const MAIN_TF = `
variable "stage" { type = string }
variable "password" {
  type      = string
  sensitive = true
}
variable "pin" {
  type      = number
  sensitive = true
}
variable "creds" {
  type      = object({ user = string, api_key = string })
  sensitive = true
}
output "password" {
  value     = var.password
  sensitive = true
}
output "pin" {
  value     = var.pin
  sensitive = true
}
output "creds" {
  value     = var.creds
  sensitive = true
}
output "leaked" { value = "prefix-\${nonsensitive(var.password)}-suffix" }
`;

const repo = makeRepo(
  'masked-output',
  {
    terraform: { backend_type: 'local', backend: { local: {} } },
    components: {
      terraform: {
        vault: { vars: { password, pin, creds: { user: 'admin', api_key: apiKey } } },
      },
    },
  },
  { 'components/terraform/vault/main.tf': MAIN_TF },
);
after(() => repo.cleanup());

const cli = (args: string[]) => runCli(args, { cwd: repo.path, env: cliEnv() });

/** Every way terraform may write the secrets: as is and JSON-escaped (Go escapes <, > and &). */
const printed = [
  password,
  JSON.stringify(password).slice(1, -1),
  'Pa\\"ss\\\\word\\u003c\\u0026\\u003e-7Q',
  String(pin),
  apiKey,
];

test('terraform output -json through strata: sensitive values masked, still JSON', () => {
  const deployed = cli(['terraform', 'deploy', 'vault', '-s', 'dev']);
  assert.equal(deployed.code, 0, deployed.stderr);
  for (const secret of printed) assert.ok(!(deployed.stdout + deployed.stderr).includes(secret), secret);

  const all = cli(['terraform', 'output', 'vault', '-s', 'dev', '-json']);
  assert.equal(all.code, 0, all.stderr);
  for (const secret of printed) assert.ok(!all.stdout.includes(secret), `${secret} in ${all.stdout}`);
  const outputs = JSON.parse(all.stdout) as Record<string, { value: unknown }>;
  assert.equal(outputs.password.value, '***');
  assert.equal(outputs.pin.value, '***');
  assert.deepEqual(outputs.creds.value, { user: '***', api_key: '***' }, 'every leaf of a sensitive value');
  assert.equal(outputs.leaked.value, 'prefix-***-suffix');

  for (const name of ['pin', 'password', 'creds']) {
    const one = cli(['terraform', 'output', 'vault', '-s', 'dev', '-json', name]);
    assert.equal(one.code, 0, one.stderr);
    for (const secret of printed) assert.ok(!one.stdout.includes(secret), `${secret} in ${one.stdout}`);
    assert.doesNotThrow(() => JSON.parse(one.stdout), `${name}: ${one.stdout}`);
  }
  const leaked = cli(['terraform', 'output', 'vault', '-s', 'dev', 'leaked']);
  assert.equal(leaked.code, 0, leaked.stderr);
  assert.equal(leaked.stdout.trim(), '"prefix-***-suffix"', 'the HCL-escaped form');
});
