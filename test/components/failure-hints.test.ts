// Failure hints classified from the real terraform's output (offline): a provider that cannot be downloaded, a
// backend that refuses the credentials, a required variable without a value; each names the cause, not the backend.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { runTerraform } from '../../src/components/terraform/runner.ts';
import { makeConfig, makeInstance, tempDir, writeTree } from './helpers.ts';

const dir = tempDir('hints');
after(() => dir.cleanup());
writeTree(dir.path, {
  // `.invalid` never resolves (RFC 2606): the registry cannot be reached, as on a machine without network.
  'components/terraform/prov/main.tf':
    'terraform {\n  required_providers {\n    nothing = { source = "example.invalid/strata/nothing" }\n  }\n}\n',
  'components/terraform/novar/main.tf':
    'variable "region" {\n  type = string\n}\n\nresource "terraform_data" "x" {\n  input = var.region\n}\n',
  'components/terraform/auth/main.tf': 'resource "terraform_data" "x" {\n  input = "a"\n}\n',
});
const config = makeConfig(dir.path, { terraform: { auto_generate_backend_file: true } });

async function hintOf(spec: Parameters<typeof makeInstance>[1]): Promise<{ hint?: string; text: string }> {
  const lines: string[] = [];
  const result = await runTerraform(config, makeInstance(config, spec), {
    verb: 'plan',
    color: false,
    interactive: false,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' },
    onLine: (line) => lines.push(line),
  });
  assert.notEqual(result.exitCode, 0);
  return { hint: result.hint, text: lines.join('\n') };
}

test('a provider that cannot be downloaded: the hint names the provider and the mirror/cache fix', async () => {
  const { hint, text } = await hintOf({ name: 'prov', stack: 'dev' });
  assert.match(text, /Failed to query available provider packages/);
  assert.match(hint ?? '', /could not download provider example\.invalid\/strata\/nothing for 'prov' in stack 'dev'/);
  assert.match(hint ?? '', /provider_installation .*TF_PLUGIN_CACHE_DIR/);
  assert.doesNotMatch(text, /check its backend settings/);
});

test('a required variable without a value: the hint names it and where to set it', async () => {
  const { hint } = await hintOf({ name: 'novar', stack: 'dev' });
  assert.match(hint ?? '', /variable 'region' of 'novar' in stack 'dev' has no value; set vars\.region/);
});

test('a backend that refuses the credentials: the hint says so, naming the backend type', async () => {
  const server = createServer((_request, response) => response.writeHead(401).end());
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  try {
    const { port } = server.address() as AddressInfo;
    const { hint } = await hintOf({
      name: 'auth',
      stack: 'dev',
      backend_type: 'http',
      backend: { address: `http://127.0.0.1:${port}/state` },
    });
    assert.match(hint ?? '', /the http backend of 'auth' in stack 'dev' refused the credentials/);
  } finally {
    server.close();
  }
});
