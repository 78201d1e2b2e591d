// A kubeconfig the stack names but that does not exist is reported by strata (file and stack) before kubectl runs,
// instead of kubectl's fallback to localhost:8080 and "connection refused".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runKubernetes } from '../../src/components/kubernetes/index.ts';
import type { StrataError } from '../../src/errors.ts';
import { makeConfig, makeInstance, tempDir, writeTree } from './helpers.ts';

const skip = spawnSync('kubectl', ['version', '--client']).status === 0 ? false : 'kubectl is not installed';
const dir = tempDir('kubeconfig');
after(() => dir.cleanup());
writeTree(dir.path, {
  'components/kubernetes/app/kustomization.yaml': 'resources:\n  - cm.yaml\n',
  'components/kubernetes/app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: "1"\n',
});
const config = makeConfig(dir.path);
const missing = join(dir.path, 'home/.kube/homelab-prod.yaml');

test('KUBECONFIG in the component env naming a missing file: strata names it and the stack; kubectl never runs', {
  skip,
}, async () => {
  const lines: string[] = [];
  for (const spec of [{ env: { KUBECONFIG: missing } }, { settings: { kubernetes: { kubeconfig: missing } } }]) {
    const instance = makeInstance(config, { kind: 'kubernetes', name: 'app', stack: 'prod', ...spec });
    await assert.rejects(
      runKubernetes(config, instance, { verb: 'apply', onLine: (l) => lines.push(l) }),
      (error: StrataError) => {
        assert.equal(error.message, `the kubeconfig of 'app' in stack 'prod' does not exist: ${missing}`);
        assert.match(error.hint ?? '', /KUBECONFIG/);
        return true;
      },
    );
  }
  assert.deepEqual(lines, [], 'kubectl printed nothing: it never ran');
  // render needs no cluster, so it still works.
  const instance = makeInstance(config, {
    kind: 'kubernetes',
    name: 'app',
    stack: 'prod',
    env: { KUBECONFIG: missing },
  });
  const rendered: string[] = [];
  const result = await runKubernetes(config, instance, { verb: 'render', onLine: (l) => rendered.push(l) });
  assert.equal(result.exitCode, 0, rendered.join('\n'));
  assert.match(rendered.join('\n'), /name: app/);
});
