/** The error messages users see: where, what, and what to do next (seed "Error Handling"). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatError, StrataError } from '../../src/errors.ts';
import { describeComponent, describeStacks } from '../../src/services/describe.ts';
import { ATMOS_YAML_TEMPLATES, withRepo } from './fixtures.ts';

async function failure(files: Record<string, string>, run: 'stacks' | [string, string], atmos?: string) {
  return withRepo(
    files,
    async (repo) => {
      try {
        const engine = await repo.engine();
        if (run === 'stacks') await describeStacks(engine);
        else await describeComponent(engine, run[0], run[1]);
      } catch (error) {
        assert.ok(error instanceof StrataError, `expected a StrataError, got ${String(error)}`);
        return { error, text: formatError(error), dir: repo.dir };
      }
      assert.fail('expected an error');
    },
    atmos ? { atmos } : {},
  );
}

test('YAML syntax error: file:line:col, a code frame with a caret, and a hint', async () => {
  const { error, text, dir } = await failure(
    { 'stacks/deploy/prod.yaml': 'vars:\n  stage: prod\n  region: [eu, us\ncomponents: {}\n' },
    'stacks',
  );
  assert.equal(error.location?.file, `${dir}/stacks/deploy/prod.yaml`);
  assert.match(text, /invalid YAML in .*stacks\/deploy\/prod\.yaml/);
  assert.match(text, new RegExp(`at ${dir}/stacks/deploy/prod\\.yaml:\\d+:\\d+`));
  assert.match(text, /> +\d \| /, 'the line is marked');
  assert.match(text, /\| +\^/, 'a caret points at the column');
  assert.match(text, /region: \[eu, us/, 'the frame shows the source');
});

test('YAML syntax error: bad indentation and duplicate keys have their own hints', async () => {
  const indentation = await failure({ 'stacks/deploy/prod.yaml': 'vars:\n  a: 1\n   b: 2\n' }, 'stacks');
  assert.equal(indentation.error.location?.line, 3);
  assert.match(indentation.text, /Hint: check the indentation/);
  const duplicate = await failure({ 'stacks/deploy/prod.yaml': 'vars:\n  a: 1\n  a: 2\n' }, 'stacks');
  assert.equal(duplicate.error.location?.line, 3);
  assert.match(duplicate.text, /Hint: a key appears twice/);
  const tag = await failure({ 'stacks/deploy/prod.yaml': 'vars:\n  a: !nope x\n' }, 'stacks');
  assert.match(tag.text, /unsupported YAML function or tag '!nope'/);
  assert.match(tag.text, /Hint: supported: .*!env.*!terraform\.output/);
});

test('missing import: names the importing file, the line, and the nearest existing paths', async () => {
  const { error, text } = await failure(
    {
      'stacks/catalog/network.yaml': 'vars: {}\n',
      'stacks/catalog/networks.yaml': 'vars: {}\n',
      'stacks/catalog/compute.yaml': 'vars: {}\n',
      'stacks/deploy/prod.yaml': 'import:\n  - catalog/compute\n  - catalog/netwrk\n',
    },
    'stacks',
  );
  assert.match(error.message, /import 'catalog\/netwrk' in stacks\/deploy\/prod\.yaml not found/);
  assert.equal(error.location?.line, 3);
  assert.match(text, /Did you mean 'catalog\/network', 'catalog\/networks'\?/);
  assert.doesNotMatch(text, /catalog\/compute'/);
});

test('missing import deep in a chain: the chain that led there is shown', async () => {
  const { text } = await failure(
    {
      'stacks/catalog/a.yaml': 'import: [catalog/b]\n',
      'stacks/catalog/b.yaml': 'import: [catalog/gone]\n',
      'stacks/deploy/prod.yaml': 'import: [catalog/a]\n',
    },
    'stacks',
  );
  assert.match(text, /import 'catalog\/gone' in stacks\/catalog\/b\.yaml not found/);
  assert.match(
    text,
    /Imported via: stacks\/deploy\/prod\.yaml -> stacks\/catalog\/a\.yaml -> stacks\/catalog\/b\.yaml/,
  );
});

test('import cycle: the full chain, from the first file of the cycle back to it', async () => {
  const { error, text } = await failure(
    {
      'stacks/catalog/a.yaml': 'import: [catalog/b]\n',
      'stacks/catalog/b.yaml': 'import: [catalog/c]\n',
      'stacks/catalog/c.yaml': 'import: [catalog/a]\n',
      'stacks/deploy/prod.yaml': 'import: [catalog/a]\n',
    },
    'stacks',
  );
  assert.match(
    error.message,
    /import cycle: stacks\/catalog\/a\.yaml -> stacks\/catalog\/b\.yaml -> stacks\/catalog\/c\.yaml -> stacks\/catalog\/a\.yaml/,
  );
  assert.match(text, /Import chain/);
  assert.match(text, /Hint: break the cycle/);
});

const TWO_STACKS = {
  'stacks/deploy/prod.yaml': 'components:\n  terraform:\n    network: {}\n    compute: {}\n',
  'stacks/deploy/dev.yaml': 'components:\n  terraform:\n    network: {}\n',
};

test('unknown component: the closest names in that stack', async () => {
  const { error } = await failure(TWO_STACKS, ['netwrk', 'deploy/prod']);
  assert.match(error.message, /component 'netwrk' not found in stack 'deploy\/prod'/);
  assert.equal(error.hint, "Did you mean 'network'?");
  const unrelated = await failure(TWO_STACKS, ['zzz', 'deploy/prod']);
  assert.match(unrelated.error.hint ?? '', /components in 'deploy\/prod': compute, network/);
});

test('unknown stack: the closest names and how to list them', async () => {
  const { error } = await failure(TWO_STACKS, ['network', 'deploy/prd']);
  assert.match(error.message, /stack 'deploy\/prd' not found/);
  assert.match(error.hint ?? '', /Did you mean one of: 'deploy\/prod', 'deploy\/dev'\? Run `strata list stacks`/);
});

test('unknown base in metadata.inherits: the component, the base, the manifest and the closest names', async () => {
  const { error } = await failure(
    {
      'stacks/deploy/prod.yaml':
        'components:\n  terraform:\n    vpc-defaults: {metadata: {type: abstract}}\n    vpc: {metadata: {inherits: [vpc-default]}}\n',
    },
    'stacks',
  );
  assert.match(error.message, /component 'vpc' inherits from 'vpc-default', but 'vpc-default' is not defined/);
  assert.match(error.location?.file ?? '', /deploy\/prod\.yaml$/);
  assert.match(error.hint ?? '', /vpc-defaults/);
});

test('unknown base of a base: the base that names it, not an internal error', async () => {
  const { error } = await failure(
    {
      'stacks/deploy/prod.yaml':
        'components:\n  terraform:\n    app: {metadata: {inherits: [mid]}}\n    mid: {metadata: {inherits: [gone]}}\n',
    },
    'stacks',
  );
  assert.match(error.message, /component 'mid' inherits from 'gone', but 'gone' is not defined/);
});

test('inheritance cycle: the whole loop', async () => {
  const { error } = await failure(
    {
      'stacks/deploy/prod.yaml':
        'components:\n  terraform:\n    a: {metadata: {inherits: [b]}}\n    b: {metadata: {inherits: [c]}}\n    c: {metadata: {inherits: [a]}}\n',
    },
    'stacks',
  );
  assert.match(error.message, /circular component inheritance: a -> b -> c -> a/);
});

test('template error: the expression, the file and the available keys', async () => {
  const { error, text } = await failure(
    {
      'stacks/deploy/prod.yaml':
        'components:\n  terraform:\n    app:\n      vars:\n        bad: "{{ .vars.name | nosuchfunc }}"\n        name: x\n',
    },
    ['app', 'deploy/prod'],
    ATMOS_YAML_TEMPLATES,
  );
  assert.match(error.location?.file ?? '', /deploy\/prod\.yaml$/);
  assert.equal(error.location?.line, 5);
  assert.match(text, /nosuchfunc/);
  assert.match(text, /\{\{ \.vars\.name \| nosuchfunc \}\}/, 'the expression');
  // Templates are rendered after merging: the error still names the imported file the expression is written in.
  const imported = await failure(
    {
      'stacks/catalog/app.yaml':
        'components:\n  terraform:\n    app:\n      vars:\n        name: x\n        bad: "{{ .vars.name | nosuchfunc }}"\n',
      'stacks/deploy/prod.yaml': 'import: [catalog/app]\n',
    },
    ['app', 'deploy/prod'],
    ATMOS_YAML_TEMPLATES,
  );
  assert.match(imported.error.location?.file ?? '', /stacks\/catalog\/app\.yaml$/);
  assert.equal(imported.error.location?.line, 6);
  const missing = await failure(
    {
      'stacks/deploy/prod.yaml': 'vars: {stage: prod}\nimport:\n  - path: catalog/x\n    context: {regoin: eu}\n',
      'stacks/catalog/x.yaml': 'vars:\n  r: "{{ .region }}"\n',
    },
    'stacks',
  );
  assert.match(missing.text, /catalog\/x\.yaml/);
  assert.match(missing.text, /region/);
  assert.match(missing.text, /regoin/, 'the keys that are available');
});
