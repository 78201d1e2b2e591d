// Drives the real kubectl: kustomize renders offline; apply --dry-run=client talks to a minimal discovery server
// started here (no Kubernetes API server can run on these machines).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runKubernetes } from '../../src/components/kubernetes/index.ts';
import { secretTempRoot } from '../../src/secrets/tempfile.ts';
import { envSecret } from '../../src/secrets/values.ts';
import { makeConfig, makeInstance, tempDir, writeTree } from './helpers.ts';

const skip = spawnSync('kubectl', ['version', '--client']).status === 0 ? false : 'kubectl is not installed';

const dir = tempDir('k8s');
const config = makeConfig(dir.path);
const requests: string[] = [];
let server: Server | undefined;
let port = 0;

const discovery: Record<string, unknown> = {
  '/api': {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }],
  },
  '/apis': {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [
      {
        name: 'apps',
        versions: [{ groupVersion: 'apps/v1', version: 'v1' }],
        preferredVersion: { groupVersion: 'apps/v1', version: 'v1' },
      },
    ],
  },
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      {
        name: 'configmaps',
        singularName: 'configmap',
        namespaced: true,
        kind: 'ConfigMap',
        verbs: ['create', 'get', 'list', 'patch'],
      },
      {
        name: 'namespaces',
        singularName: 'namespace',
        namespaced: false,
        kind: 'Namespace',
        verbs: ['create', 'get', 'list', 'patch'],
      },
    ],
  },
  '/apis/apps/v1': {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'apps/v1',
    resources: [
      {
        name: 'deployments',
        singularName: 'deployment',
        namespaced: true,
        kind: 'Deployment',
        verbs: ['create', 'get', 'list', 'patch'],
      },
    ],
  },
  '/version': { major: '1', minor: '32', gitVersion: 'v1.32.0-test' },
};

before(async () => {
  writeTree(dir.path, {
    'components/kubernetes/web/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
    'components/kubernetes/web/deployment.yaml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: web',
      'spec:',
      '  replicas: 1',
      '  template:',
      '    spec:',
      '      containers:',
      '        - name: web',
      '          image: nginx:latest',
      '',
    ].join('\n'),
  });
  server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    requests.push(`${request.method} ${path}`);
    const body = discovery[path] ?? {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
    };
    response.writeHead(discovery[path] ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  writeTree(dir.path, {
    'kube/config': [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}"}}]`,
      'contexts: [{name: fake, context: {cluster: fake, user: me}}]',
      'users: [{name: me, user: {}}]',
      'current-context: fake',
      '',
    ].join('\n'),
  });
});
after(() => {
  server?.close();
  dir.cleanup();
});

const web = () =>
  makeInstance(config, {
    kind: 'kubernetes',
    name: 'web',
    stack: 'home',
    vars: { image: 'nginx:1.27', tier: { name: 'front' } },
    // kubectl caches discovery under $HOME/.kube: keep it inside the test folder.
    env: { HOME: join(dir.path, 'home') },
    settings: {
      kubernetes: {
        namespace: 'apps',
        kubeconfig: 'kube/config',
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
  });

test('render: kustomize build with stack vars applied through replacements, offline', { skip }, async () => {
  const lines: string[] = [];
  const result = await runKubernetes(config, web(), {
    verb: 'render',
    onLine: (l, s) => s === 'stdout' && lines.push(l),
  });
  assert.equal(result.exitCode, 0, lines.join('\n'));
  const docs = parseAllDocuments(lines.join('\n')).map((d) => d.toJS());
  // The vars ConfigMap is local-config: used for replacements, dropped from the output.
  assert.deepEqual(
    docs.map((d) => d.kind),
    ['Deployment'],
  );
  assert.equal(docs[0].metadata.namespace, 'apps');
  assert.equal(docs[0].spec.template.spec.containers[0].image, 'nginx:1.27');
});

test('emit_vars keeps the strata-vars ConfigMap in the output, maps as JSON', { skip }, async () => {
  const instance = web();
  (instance.description.settings.kubernetes as Record<string, unknown>).emit_vars = true;
  const lines: string[] = [];
  await runKubernetes(config, instance, { verb: 'render', onLine: (l, s) => s === 'stdout' && lines.push(l) });
  const map = parseAllDocuments(lines.join('\n'))
    .map((d) => d.toJS())
    .find((d) => d.kind === 'ConfigMap');
  assert.deepEqual(map?.data, { image: 'nginx:1.27', tier: '{"name":"front"}' });
});

test('a secret among the vars is resolved for kustomize and masked in what it prints', { skip }, async () => {
  process.env.STRATA_K8S_TEST_IMAGE_TOKEN = 'registry.example/web:secret-tag-4711';
  // This process's folders only (the name holds the pid): test files running alongside make their own.
  const ours = () =>
    readdirSync(secretTempRoot()).filter((n) => n.startsWith('strata-k8s-') && n.includes(`-${process.pid}-`));
  const before = ours();
  try {
    const instance = web();
    instance.description.vars = { ...instance.description.vars, image: envSecret('STRATA_K8S_TEST_IMAGE_TOKEN') };
    const lines: string[] = [];
    const result = await runKubernetes(config, instance, { verb: 'render', onLine: (l) => lines.push(l) });
    assert.equal(result.exitCode, 0, lines.join('\n'));
    const text = lines.join('\n');
    // The plaintext reached the Deployment (the reference's own text would read "secret from"), masked in output.
    assert.match(text, /image: "?\*\*\*"?$/m);
    assert.doesNotMatch(text, /secret from|secret-tag-4711/);
    assert.deepEqual(ours(), before);
  } finally {
    delete process.env.STRATA_K8S_TEST_IMAGE_TOKEN;
  }
});

test('apply: rendered manifests go to the cluster of settings.kubernetes.kubeconfig', { skip }, async () => {
  const lines: string[] = [];
  const result = await runKubernetes(config, web(), {
    verb: 'apply',
    args: ['--dry-run=client', '--validate=false'],
    onLine: (l) => lines.push(l),
  });
  assert.equal(result.exitCode, 0, lines.join('\n'));
  assert.match(lines.join('\n'), /deployment\.apps\/web created \(dry run\)/);
  assert.ok(requests.includes('GET /apis/apps/v1'), requests.join(', '));
});

test('a broken kustomization fails with kubectl exit code 1 and its message', { skip }, async () => {
  writeTree(dir.path, { 'components/kubernetes/bad/kustomization.yaml': 'resources:\n  - missing.yaml\n' });
  const bad = makeInstance(config, {
    kind: 'kubernetes',
    name: 'bad',
    stack: 'home',
    env: { HOME: join(dir.path, 'home') },
  });
  const lines: string[] = [];
  const result = await runKubernetes(config, bad, { verb: 'apply', onLine: (l) => lines.push(l) });
  assert.equal(result.exitCode, 1);
  assert.match(lines.join('\n'), /missing\.yaml/);
  const locked = makeInstance(config, { kind: 'kubernetes', name: 'web', stack: 'home', locked: true });
  await assert.rejects(runKubernetes(config, locked, { verb: 'delete' }), /locked component cannot be provisioned/);
});
