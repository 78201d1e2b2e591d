// Atmos's function forms beyond words (issue 18): query expressions, doubled-quote defaults, `!secret NAME | default`,
// `!git.*`, `!version`, `!labels`/`!tags`, `!random`, and the functions strata recognises but does not run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePipes, parseTerraformArgs } from '../../src/functions/args.ts';
import { describeComponent } from '../../src/services/describe.ts';
import { loadEngine } from '../../src/stacks/index.ts';
import { withRepo } from '../stacks/fixtures.ts';

test('terraform function arguments: component, optional stack, then the rest is one expression', () => {
  assert.deepEqual(parseTerraformArgs('kms-key .key_arn // "default"'), {
    component: 'kms-key',
    expression: '.key_arn // "default"',
  });
  assert.deepEqual(parseTerraformArgs('vpc dev vpc_id'), { component: 'vpc', stack: 'dev', expression: 'vpc_id' });
  assert.deepEqual(parseTerraformArgs('vpc vpc_id'), { component: 'vpc', expression: 'vpc_id' });
  assert.deepEqual(parseTerraformArgs('vpc prod .ids | length'), {
    component: 'vpc',
    stack: 'prod',
    expression: '.ids | length',
  });
  // Atmos's documented escaping: the expression in double quotes, its strings' quotes doubled.
  assert.deepEqual(parseTerraformArgs('config ".username // ""default-user"""'), {
    component: 'config',
    expression: '.username // "default-user"',
  });
  assert.deepEqual(parseTerraformArgs('security \'.users["github-dependabot"].key\''), {
    component: 'security',
    expression: '.users["github-dependabot"].key',
  });
  assert.equal(parseTerraformArgs('vpc'), undefined);
});

test('pipes: | default <value> | path <jq>, outside quotes', () => {
  assert.deepEqual(parsePipes('REDIS_URL | default "redis://localhost:6379"'), {
    base: 'REDIS_URL',
    fallback: { value: 'redis://localhost:6379' },
  });
  assert.deepEqual(parsePipes('DB | path ".host" | default 5432'), {
    base: 'DB',
    query: '.host',
    fallback: { value: 5432 },
  });
  assert.deepEqual(parsePipes('"a | b"'), { base: '"a | b"' });
});

test('!terraform.state with a jq default reaches the resolver as one expression', async () => {
  await withRepo(
    {
      'stacks/deploy/prod.yaml': [
        'components:',
        '  terraform:',
        '    app:',
        '      vars:',
        '        arn: !terraform.state kms-key .key_arn // "arn:aws:kms:{{ .vars.region }}:0:key/0"',
        `        user: !terraform.output config ".username // ""default-user"""`,
      ].join('\n'),
    },
    async (repo) => {
      const asked: string[] = [];
      const engine = await loadEngine({
        cwd: repo.dir,
        env: {},
        resolvers: {
          async terraformOutput(_engine, ref) {
            asked.push(`${ref.component}@${ref.stack}: ${ref.expression}`);
            return 'x';
          },
        },
      });
      await describeComponent(engine, 'app', 'deploy/prod');
      assert.deepEqual(asked, [
        'kms-key@deploy/prod: .key_arn // "arn:aws:kms:{{ .vars.region }}:0:key/0"',
        'config@deploy/prod: .username // "default-user"',
      ]);
    },
  );
});

test("!secret NAME | default: Atmos's declared secrets read from the provider's SOPS file; the default when absent", async () => {
  await withRepo(
    {
      // SOPS keeps key names in clear: only the presence of a key is read here, never a value.
      'secrets/dev.enc.yaml': 'DATADOG_API_KEY: ENC[AES256_GCM,data:AAAA,type:str]\nsops:\n  version: 3.8.1\n',
      'stacks/deploy/prod.yaml': [
        'secrets:',
        '  providers:',
        '    dev-sops: {kind: sops/age, spec: {file: secrets/dev.enc.yaml}}',
        'components:',
        '  terraform:',
        '    app:',
        '      secrets:',
        '        vars:',
        '          DATADOG_API_KEY: {sops: dev-sops}',
        '          REDIS_URL: {sops: dev-sops}',
        '          TOKEN: {store: ssm}',
        '      vars:',
        '        datadog: !secret DATADOG_API_KEY',
        '        redis: !secret REDIS_URL | default "redis://localhost:6379"',
        '        token: !secret TOKEN | default none',
      ].join('\n'),
    },
    async (repo) => {
      const { description } = await describeComponent(await repo.engine(), 'app', 'deploy/prod');
      const vars = JSON.parse(JSON.stringify(description.vars));
      assert.match(String(vars.datadog), /secrets\/dev\.enc\.yaml#DATADOG_API_KEY/);
      assert.equal(vars.redis, 'redis://localhost:6379');
      assert.equal(vars.token, 'none');
    },
  );
});

test('!git.*, !version, !labels, !tags and !random', async () => {
  await withRepo(
    {
      'versions.lock.yaml':
        'version: 1\ntracks:\n  default: {redis: {version: 7.2.5}}\n  dev: {redis: {version: 7.4.0}}\n',
      'stacks/deploy/prod.yaml': [
        'version: {track: dev}',
        'components:',
        '  terraform:',
        '    app:',
        '      metadata: {tags: [prod, net], labels: {team: core, tier: "1"}}',
        '      vars:',
        '        root: !git.root',
        '        name: !git.name',
        '        repo: !git.repository',
        '        redis: !version redis',
        '        labels: !labels',
        '        team: !labels team',
        '        keys: !labels.keys',
        '        tags: !tags',
        '        port: !random 1024 1025',
      ].join('\n'),
    },
    async (repo) => {
      const git = (...args: string[]) => execFileSync('git', args, { cwd: repo.dir, stdio: 'ignore' });
      git('init', '-q');
      git('remote', 'add', 'origin', 'git@github.com:acme/homelab.git');
      const { description } = await describeComponent(await repo.engine(), 'app', 'deploy/prod');
      const vars = description.vars as Record<string, unknown>;
      assert.equal(vars.root, repo.dir);
      assert.equal(vars.name, 'homelab');
      assert.equal(vars.repo, 'acme/homelab');
      assert.equal(vars.redis, '7.4.0');
      assert.deepEqual(vars.labels, { team: 'core', tier: '1' });
      assert.equal(vars.team, 'core');
      assert.deepEqual(vars.keys, ['team', 'tier']);
      assert.deepEqual(vars.tags, ['prod', 'net']);
      assert.ok(vars.port === 1024 || vars.port === 1025);
    },
  );
});

test('a versions.lock.yaml that is a device or huge fails with the size limit instead of filling memory', async () => {
  await withRepo(
    { 'stacks/deploy/prod.yaml': 'components:\n  terraform:\n    app:\n      vars:\n        redis: !version redis\n' },
    async (repo) => {
      symlinkSync('/dev/zero', join(repo.dir, 'versions.lock.yaml'));
      const engine = await repo.engine();
      await assert.rejects(engine.instances(), /versions\.lock\.yaml is too large: over the limit of 8388608 bytes/);
    },
  );
});

test('functions strata does not run load with the stack and fail with a message naming them', async () => {
  await withRepo(
    { 'stacks/deploy/prod.yaml': 'components:\n  terraform:\n    app:\n      vars:\n        id: !aws.account_id\n' },
    async (repo) => {
      const engine = await repo.engine();
      assert.deepEqual(await engine.stackNames(), ['deploy/prod']);
      await assert.rejects(engine.instances(), /!aws\.account_id in component 'app'.*AWS lookups are not supported/);
    },
  );
});
