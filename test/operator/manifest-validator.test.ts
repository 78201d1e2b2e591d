import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { validate } from '../../src/operator/manifest-validator.generated.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the precompiled manifest validator is generated from the current schema', () => {
  // Fails (exit 1) when manifest.schema.json changed without `node scripts/manifest-validator.mjs`.
  execFileSync(process.execPath, ['scripts/manifest-validator.mjs', '--check'], { cwd: root, stdio: 'pipe' });
});

const schema = JSON.parse(readFileSync(new URL('../../src/operator/manifest.schema.json', import.meta.url), 'utf8'));
const compiled = new Ajv({ allErrors: true, strict: false }).compile(schema);

const scalar = fc.oneof(
  fc.string({ maxLength: 70 }),
  fc.integer({ min: -5, max: 300 }),
  fc.boolean(),
  fc.constant(null),
);
const node = fc.record(
  {
    name: fc.oneof(fc.constantFrom('a', 'b', 'pve-1', 'x y', ''), scalar),
    type: fc.oneof(fc.constantFrom('vm', 'ct', 'pve', 'lxc'), scalar),
    parent: fc.oneof(fc.constantFrom('a', 'pve-1'), scalar),
    preset: fc.oneof(fc.constantFrom('small', 'large'), scalar),
    vmid: fc.oneof(fc.integer({ min: 90, max: 1_000_000_000 }), scalar),
    disk: scalar,
    bogus: scalar,
  },
  { requiredKeys: [] },
);
const manifest = fc.record(
  {
    schema_version: fc.oneof(fc.constant(2), scalar),
    name: scalar,
    description: scalar,
    nodes: fc.oneof(fc.array(fc.oneof(node, scalar), { maxLength: 5 }), scalar),
    settings: fc.oneof(
      fc.record(
        { on_error: fc.oneof(fc.constantFrom('stop', 'rollback', 'continue', 'explode'), scalar), extra: scalar },
        { requiredKeys: [] },
      ),
      scalar,
    ),
    unknown: scalar,
  },
  { requiredKeys: [] },
);

test('property: the precompiled validator decides and reports exactly as ajv compiling the schema', () => {
  fc.assert(
    fc.property(manifest, (data) => {
      const expected = compiled(data);
      assert.equal(validate(data), expected);
      assert.deepEqual(validate.errors ?? null, compiled.errors ?? null);
    }),
    { numRuns: 300 },
  );
});
