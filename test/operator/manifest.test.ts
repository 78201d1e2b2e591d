import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { resolveNodes } from '../../src/operator/context.ts';
import {
  ManifestValidationError,
  parseManifest,
  planManifest,
  validateManifestData,
} from '../../src/operator/manifest.ts';

function issuesOf(text: string): ManifestValidationError {
  try {
    parseManifest(text, 'm.yaml');
  } catch (error) {
    assert.ok(error instanceof ManifestValidationError, String(error));
    return error;
  }
  assert.fail('expected a validation error');
}

const HEAD = 'schema_version: 2\nname: m\nnodes:\n';

test('iac-driver messages for missing fields and schema version', () => {
  assert.match(
    issuesOf('name: m\nnodes: []\n').message,
    /^Manifest missing required field: schema_version\. v1 manifests/,
  );
  assert.equal(
    issuesOf('schema_version: "2"\nname: m\nnodes: []\n').message,
    'Unsupported manifest schema version: 2. Supported versions: [2]',
  );
  assert.equal(
    issuesOf('schema_version: 1\nname: m\n').message,
    'Unsupported manifest schema version: 1. Supported versions: [2]',
  );
  assert.equal(issuesOf('schema_version: 2\nnodes: []\n').message, 'Manifest missing required field: name');
  assert.equal(issuesOf('schema_version: 2\nname: m\n').message, 'Manifest v2 missing required field: nodes');
  assert.equal(issuesOf('schema_version: 2\nname: m\nnodes: []\n').message, 'Manifest v2 must have at least one node');
  assert.equal(issuesOf(`${HEAD}  - type: vm\n`).message, 'Node 0 missing required field: name');
  assert.equal(issuesOf(`${HEAD}  - name: a\n`).message, 'Node 0 (a) missing required field: type');
  assert.equal(issuesOf('- 1\n').message, 'Manifest m.yaml must be a YAML object (dict)');
});

test('graph errors: duplicates, unknown parent with did-you-mean, cycles, vmid collisions, non-pve parents', () => {
  const dup = issuesOf(`${HEAD}  - {name: a, type: vm}\n  - {name: a, type: vm}\n`);
  assert.equal(dup.message, "Duplicate node name: 'a'");
  assert.deepEqual(dup.location, { file: 'm.yaml', line: 5, col: 12 });

  const parent = issuesOf(`${HEAD}  - {name: root-pve, type: pve}\n  - {name: b, type: vm, parent: root-pv}\n`);
  assert.equal(parent.message, "Node 'b' references unknown parent 'root-pv'");
  assert.equal(parent.hint, "Did you mean 'root-pve'?");
  assert.equal(parent.location?.line, 5);

  const self = issuesOf(`${HEAD}  - {name: a, type: pve, parent: a}\n`);
  assert.equal(self.message, "Cycle detected in node graph involving 'a'");
  assert.match(self.hint ?? '', /its own parent/);

  const loop = issuesOf(
    `${HEAD}  - {name: a, type: pve, parent: c}\n  - {name: b, type: pve, parent: a}\n  - {name: c, type: pve, parent: b}\n`,
  );
  assert.equal(loop.message, "Cycle detected in node graph involving 'a'");
  assert.match(loop.hint ?? '', /a -> c -> b -> a/);

  const vmid = issuesOf(`${HEAD}  - {name: a, type: vm, vmid: 100}\n  - {name: b, type: vm, vmid: 100}\n`);
  assert.equal(vmid.message, "Duplicate vmid 100: nodes 'a' and 'b'");

  const host = issuesOf(`${HEAD}  - {name: a, type: vm}\n  - {name: b, type: vm, parent: a}\n`);
  assert.match(host.message, /only pve nodes can host children/);
});

test('schema errors: unknown enums and fields with suggestions, every problem listed with line:col', () => {
  const error = issuesOf(`${HEAD}  - name: a\n    type: vmm\n    parnet: x\nsettings:\n  on_error: rollbak\n`);
  assert.equal(error.issues.length, 3);
  assert.match(
    error.message,
    /^Unknown type 'vmm' in node 'a' \(expected one of: vm, ct, pve\) \(and 2 more problems\)$/,
  );
  assert.equal(error.hint, "Did you mean 'vm'?");
  assert.deepEqual(error.location, { file: 'm.yaml', line: 5, col: 11 });
  const messages = error.issues.map((i) => i.message);
  assert.ok(messages.includes("Unknown field 'parnet' in node 'a'"));
  assert.ok(messages.some((m) => m.startsWith("Unknown on_error 'rollbak' in settings")));
  assert.equal(error.issues.find((i) => i.message.startsWith('Unknown field'))?.hint, "Did you mean 'parent'?");
  assert.match(error.details ?? '', />\s+5 \|\s+type: vmm/);
  assert.match(issuesOf(`${HEAD}  - {name: a, type: vm, ip: 10.0.0.1}\n`).hint ?? '', /CIDR/);
  assert.match(issuesOf('schema_version: 2\nname: m\nnodes: [\n').message, /^Invalid YAML in manifest m.yaml/);
});

test('defaults and normalisation follow iac-driver', () => {
  const m = parseManifest(`${HEAD}  - {name: a, type: vm, execution: {mode: pull}, parent: null}\n`, 'm.yaml');
  assert.equal(m.pattern, 'flat');
  assert.equal(m.defaultMode, 'push');
  assert.deepEqual(
    [
      m.settings.verifySsh,
      m.settings.cleanupOnFailure,
      m.settings.onError,
      m.settings.provisioner,
      m.settings.verifyPort,
    ],
    [true, true, 'stop', 'proxmox-api', 22],
  );
  assert.equal(m.nodes[0].mode, 'pull');
  assert.equal(m.nodes[0].parent, undefined);
});

test('plan: breadth-first create order with manifest order among siblings, exact reverse for destroy', () => {
  const m = parseManifest(
    `${HEAD}  - {name: leaf, type: vm, parent: inner}\n  - {name: root, type: pve}\n  - {name: inner, type: pve, parent: root}\n  - {name: edge, type: vm, parent: root}\n  - {name: solo, type: vm}\n`,
    'm.yaml',
  );
  const plan = planManifest(m);
  assert.deepEqual(plan.levels, [['root', 'solo'], ['inner', 'edge'], ['leaf']]);
  assert.deepEqual(plan.create_order, ['root', 'solo', 'inner', 'edge', 'leaf']);
  assert.deepEqual(plan.destroy_order, ['leaf', 'edge', 'inner', 'solo', 'root']);
});

test('a 10,000-deep chain listed child-first validates and orders without recursion, quickly', () => {
  const n = 10_000;
  const nodes = Array.from({ length: n }, (_, i) => ({
    name: `n${n - 1 - i}`,
    type: 'pve',
    parent: n - 1 - i > 0 ? `n${n - 2 - i}` : undefined,
  }));
  const started = performance.now();
  const m = validateManifestData({ schema_version: 2, name: 'deep', nodes });
  const plan = planManifest(m);
  const ms = performance.now() - started;
  assert.equal(plan.levels.length, n);
  assert.equal(plan.create_order[0], 'n0');
  assert.equal(plan.create_order[n - 1], `n${n - 1}`);
  assert.ok(ms < 3000, `took ${ms} ms`);
  nodes[0].parent = `n${n - 1}`; // close the chain into a loop
  assert.throws(() => validateManifestData({ schema_version: 2, name: 'deep', nodes }), /Cycle detected in node graph/);
});

test('presets resolve from stack vars, unknown ones fail with a suggestion', () => {
  const m = parseManifest(
    `${HEAD}  - {name: a, type: vm, preset: small, disk: 50}\n  - {name: b, type: vm, preset: smal}\n`,
    'm.yaml',
  );
  const context = { stack: 'dev', vars: { presets: { small: { cores: 2, memory: 2048, disk: 10 } } }, settings: {} };
  assert.throws(
    () => resolveNodes(m, context),
    (e: Error & { hint?: string }) => {
      assert.equal(e.message, "Node 'b': preset 'smal' is not in vars.presets of stack 'dev'");
      assert.equal(e.hint, "Did you mean 'small'?");
      return true;
    },
  );
  const ok = parseManifest(`${HEAD}  - {name: a, type: vm, preset: small, disk: 50}\n`, 'm.yaml');
  const resolved = resolveNodes(ok, context).get('a');
  assert.deepEqual([resolved?.cores, resolved?.memory, resolved?.disk], [2, 2048, 50]);
});

test('the JSON Schema file is a valid draft-07 schema that accepts the example manifests', () => {
  const schema = JSON.parse(readFileSync(new URL('../../src/operator/manifest.schema.json', import.meta.url), 'utf8'));
  const validate = new Ajv({ strict: false }).compile(schema);
  for (const file of ['nested-pve.yaml', 'k3s-single.yaml']) {
    const text = readFileSync(new URL(`../../examples/homelab/stacks/manifests/${file}`, import.meta.url), 'utf8');
    const m = parseManifest(text, file);
    assert.equal(m.schemaVersion, 2);
  }
  assert.equal(validate({ schema_version: 2, name: 'x', nodes: [{ name: 'a', type: 'vm' }] }), true);
  assert.equal(validate({ schema_version: 2, name: 'x', nodes: [{ name: 'a', type: 'lxc' }] }), false);
});

// ---------------------------------------------------------------------------------------------------------------
// Property tests over generated graphs.

/** A random forest: node i's parent is an earlier pve node (or none); then the list is shuffled. */
const forest = fc
  .array(fc.tuple(fc.nat(), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 40 })
  .chain((specs) =>
    fc
      .shuffledSubarray(
        specs.map((_, i) => i),
        { minLength: specs.length, maxLength: specs.length },
      )
      .map((order) => ({ specs, order })),
  )
  .map(({ specs, order }) => {
    const nodes = specs.map(([pick, pve, hasParent], i) => {
      const candidates = specs
        .slice(0, i)
        .map((s, j) => ({ j, pve: s[1] }))
        .filter((c) => c.pve);
      const parent = hasParent && candidates.length > 0 ? `n${candidates[pick % candidates.length].j}` : undefined;
      return { name: `n${i}`, type: pve ? 'pve' : 'vm', ...(parent ? { parent } : {}) };
    });
    return order.map((i) => nodes[i]);
  });

test('property: every valid graph orders parents before children, levels hold each node once', () => {
  fc.assert(
    fc.property(forest, (nodes) => {
      const m = parseManifest(stringify({ schema_version: 2, name: 'p', nodes }), 'p.yaml');
      const plan = planManifest(m);
      const position = new Map(plan.create_order.map((n, i) => [n, i]));
      assert.equal(plan.create_order.length, nodes.length);
      for (const node of nodes) {
        if (node.parent) assert.ok((position.get(node.parent) ?? -1) < (position.get(node.name) ?? -1));
      }
      assert.deepEqual(plan.destroy_order, [...plan.create_order].reverse());
      assert.deepEqual(plan.levels.flat().sort(), nodes.map((n) => n.name).sort());
    }),
    { numRuns: 150 },
  );
});

const breakage = fc.constantFrom('cycle', 'dangling', 'duplicate', 'enum', 'vmid');

test('property: every broken graph fails with a clear, located message', () => {
  fc.assert(
    fc.property(forest, breakage, fc.nat(), (nodes, kind, pick) => {
      const broken = nodes.map((n) => ({ ...n })) as Array<Record<string, unknown>>;
      const victim = broken[pick % broken.length];
      let expected: RegExp;
      if (kind === 'cycle') {
        victim.type = 'pve';
        victim.parent = victim.name;
        expected = new RegExp(`^Cycle detected in node graph involving '${victim.name}'`);
      } else if (kind === 'dangling') {
        victim.parent = 'nowhere';
        expected = new RegExp(`^Node '${victim.name}' references unknown parent 'nowhere'`);
      } else if (kind === 'duplicate') {
        broken.push({ name: victim.name, type: 'vm' });
        expected = new RegExp(`^Duplicate node name: '${victim.name}'`);
      } else if (kind === 'enum') {
        victim.type = 'vmx';
        delete victim.parent;
        for (const n of broken) if (n.parent === victim.name) delete n.parent;
        expected = new RegExp(`^Unknown type 'vmx' in node '${victim.name}'`);
      } else {
        victim.vmid = 4242;
        broken.push({ name: 'zz-extra', type: 'vm', vmid: 4242 });
        expected = /^Duplicate vmid 4242/;
      }
      const text = stringify({ schema_version: 2, name: 'p', nodes: broken });
      let caught: ManifestValidationError | undefined;
      try {
        parseManifest(text, 'p.yaml');
      } catch (error) {
        caught = error as ManifestValidationError;
      }
      assert.ok(caught instanceof ManifestValidationError, `no error for ${kind}`);
      assert.ok(
        caught.issues.some((i) => expected.test(i.message) && (i.location?.line ?? 0) > 0),
        `${kind}: ${caught.issues.map((i) => i.message).join(' | ')}`,
      );
    }),
    { numRuns: 150 },
  );
});
