// `strata packer|kubernetes|ansible ...` through the CLI and the real stack engine, with the real tools.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { cliEnv, makeRepo } from './fixture.ts';
import { PACKER_TEMPLATE } from './helpers.ts';

const has = (tool: string, ...args: string[]) => spawnSync(tool, args).status === 0;

const repo = makeRepo(
  'tools',
  {
    vars: { image_name: 'alma' },
    components: {
      packer: {
        image: { vars: { version: '2.0' }, settings: { packer: { template: 'build.pkr.hcl' } } },
      },
      kubernetes: {
        web: {
          vars: { image: 'nginx:1.27' },
          settings: {
            kubernetes: {
              namespace: 'home',
              replacements: [
                {
                  source: { kind: 'ConfigMap', name: 'strata-vars', fieldPath: 'data.image' },
                  targets: [
                    { select: { kind: 'Deployment' }, fieldPaths: ['spec.template.spec.containers.[name=web].image'] },
                  ],
                },
              ],
            },
          },
        },
      },
      ansible: {
        site: { vars: { greeting: 'hi' }, settings: { ansible: { inventory: ['localhost'] } } },
      },
    },
  },
  {
    'components/packer/image/build.pkr.hcl': PACKER_TEMPLATE,
    'components/kubernetes/web/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
    'components/kubernetes/web/deployment.yaml':
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:latest\n',
    'components/ansible/site/site.yml':
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: "{{ greeting }} from {{ stage }}"\n',
  },
);
after(() => repo.cleanup());

const cli = (args: string[]) => runCli(args, { cwd: repo.path, env: cliEnv({ HOME: join(repo.path, 'home') }) });

test('packer build then output --query through the CLI', {
  skip: has('packer', 'version') ? false : 'no packer',
}, () => {
  const built = cli(['packer', 'build', 'image', '-s', 'dev']);
  assert.equal(built.code, 0, built.stdout + built.stderr);
  assert.equal(readFileSync(join(repo.path, 'components/packer/image/out/artifact.txt'), 'utf8').trim(), 'alma-2.0');
  const id = cli(['packer', 'output', 'image', '-s', 'dev', '--query', '.builds[0].custom_data.image']);
  assert.equal(id.code, 0, id.stderr);
  assert.equal(id.stdout, 'alma-2.0\n');
  const unknown = cli(['packer', 'bild', 'image', '-s', 'dev']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown packer command 'bild'/);
});

test('kubernetes render through the CLI', {
  skip: has('kubectl', 'version', '--client') ? false : 'no kubectl',
}, () => {
  const result = cli(['kubernetes', 'render', 'web', '-s', 'dev']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /image: nginx:1\.27/);
  assert.match(result.stdout, /namespace: home/);
  const wait = cli(['k8s', 'wait', 'web', '-s', 'dev', '--dry-run']);
  assert.equal(wait.code, 0, wait.stderr);
  assert.match(wait.stdout, /kubectl wait -f \S+\/rendered\.yaml --for=condition=Available --timeout=300s/);
});

test('ansible playbook through the CLI with a host list inventory', {
  skip: has('ansible-playbook', '--version') ? false : 'no ansible',
}, () => {
  const result = runCli(['ansible', 'playbook', 'site', '-s', 'dev', '--', '-c', 'local'], {
    cwd: repo.path,
    env: cliEnv({ ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False' }),
  });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /"msg": "hi from dev"/);
});
