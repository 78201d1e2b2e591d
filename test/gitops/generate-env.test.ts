import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { generateEnv } from '../../src/gitops/generate-env.ts';
import { runCli } from '../helpers/cli.ts';
import { TempRepo } from './helpers.ts';

const repos: TempRepo[] = [];
after(() => {
  for (const r of repos) r.cleanup();
});

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out[relative(dir, join(d, e.name))] = readFileSync(join(d, e.name), 'utf8');
    }
  };
  walk(dir);
  return out;
}

test('generate env writes every input of a stack, deterministic byte for byte, with checksums and the commit', async () => {
  const r = new TempRepo();
  repos.push(r);
  r.write(
    'atmos.yaml',
    'base_path: .\ncomponents:\n  terraform: {base_path: components/terraform}\n  packer: {base_path: components/packer}\n  ansible: {base_path: components/ansible}\n  kubernetes: {base_path: components/kubernetes}\nstacks:\n  base_path: stacks\n  included_paths: ["*.yaml"]\n  name_pattern: "{stage}"\n',
  );
  r.write(
    'stacks/prod.yaml',
    `vars: {stage: prod}
terraform:
  backend_type: local
  backend: {local: {path: state/prod.tfstate}}
components:
  terraform:
    network/vpc: {vars: {zeta: 1, alpha: {b: 2, a: 1}}}
    base: {metadata: {type: abstract}, vars: {x: 1}}
    off: {metadata: {enabled: false}}
  packer:
    image: {vars: {iso: debian.iso}}
  ansible:
    site:
      vars: {users: [ann]}
      settings: {ansible: {inventory: [10.0.0.5, 10.0.0.6]}}
  kubernetes:
    app: {vars: {replicas: 2}}
`,
  );
  const commit = r.commit('stacks');
  const first = await generateEnv({ cwd: r.dir, stack: 'prod', out: join(r.dir, 'out1') });
  const second = await generateEnv({ cwd: r.dir, stack: 'prod', out: join(r.dir, 'out2') });
  assert.deepEqual(snapshot(join(r.dir, 'out1')), snapshot(join(r.dir, 'out2')));
  assert.deepEqual(first, second);
  assert.deepEqual(first.config_version, { commit, dirty: true });
  assert.deepEqual(
    first.files.map((f) => f.path),
    [
      'ansible/site/extra-vars.json',
      'ansible/site/inventory.json',
      'kubernetes/app/values.json',
      'packer/image.pkrvars.json',
      'terraform/network-vpc.tfvars.json',
      'terraform/network-vpc.backend.tf.json',
    ],
  );
  const tfvars = readFileSync(join(r.dir, 'out1/terraform/network-vpc.tfvars.json'), 'utf8');
  assert.equal(tfvars, '{\n  "alpha": {\n    "a": 1,\n    "b": 2\n  },\n  "stage": "prod",\n  "zeta": 1\n}\n');
  for (const f of first.files) {
    const sha = createHash('sha256')
      .update(readFileSync(join(r.dir, 'out1', f.path)))
      .digest('hex');
    assert.equal(sha, f.sha256, f.path);
  }
  assert.deepEqual(JSON.parse(readFileSync(join(r.dir, 'out1/ansible/site/inventory.json'), 'utf8')), {
    all: { hosts: { '10.0.0.5': {}, '10.0.0.6': {} } },
  });

  // A component removed from the stack: its old file is cleaned from the output folder.
  r.write(
    'stacks/prod.yaml',
    readFileSync(join(r.dir, 'stacks/prod.yaml'), 'utf8').replace(/ {2}kubernetes:\n.*\n/, ''),
  );
  const third = await generateEnv({ cwd: r.dir, stack: 'prod', out: join(r.dir, 'out1') });
  assert.ok(!third.files.some((f) => f.kind === 'kubernetes'));
  assert.ok(!('kubernetes/app/values.json' in snapshot(join(r.dir, 'out1'))));

  const cli = runCli(['generate', 'env', '-s', 'prd', '--out', 'x'], { cwd: r.dir });
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /stack 'prd' not found[\s\S]*prod/);
});
