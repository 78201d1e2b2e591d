/**
 * `!store` / `!store.get` over atmos.yaml `stores:` (issue 19): a file store and a PostgreSQL store (a real
 * server), defaults and queries, and clear errors for store types strata does not read.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { componentKey } from '../../src/functions/stores.ts';
import { describeComponent } from '../../src/services/describe.ts';
import { skipWithoutPostgres, startPostgresDatabase } from '../helpers/postgres.ts';
import { ATMOS_YAML, withRepo } from '../stacks/fixtures.ts';

const atmos = (stores: string) => `${ATMOS_YAML}stores:\n${stores}`;

const STACK = (vars: string[]) =>
  ['name: plat-dev', 'components:', '  terraform:', '    app:', '      vars:', ...vars.map((v) => `        ${v}`)].join(
    '\n',
  );

test('the key of a component value: prefix, the stack split at its delimiter, component, key', () => {
  assert.equal(componentKey({}, 'plat-dev', 'vpc', 'id'), 'plat-dev/vpc/id');
  assert.equal(
    componentKey({ prefix: 'atmos', stack_delimiter: '-' }, 'plat-dev', 'vpc', 'id'),
    'atmos/plat/dev/vpc/id',
  );
});

test('a file store: !store for the current or another stack, !store.get, defaults and queries', async () => {
  await withRepo(
    {
      'store.yaml': [
        'plat-dev/vpc/vpc_id: vpc-123',
        'plat-prod/vpc/vpc_id: vpc-999',
        'plat-dev/vpc/subnets: {private: [a, b]}',
        'shared/dns_zone: example.org',
      ].join('\n'),
      'stacks/deploy/dev.yaml': STACK([
        'vpc_id: !store local vpc vpc_id',
        'prod_vpc: !store local plat-prod vpc vpc_id',
        'subnet: !store local vpc subnets | query .private[1]',
        'missing: !store local vpc nothing | default "none"',
        'zone: !store.get local shared/dns_zone',
        'other: !store.get local shared/nothing | default 42',
      ]),
    },
    async (repo) => {
      const { description } = await describeComponent(await repo.engine(), 'app', 'plat-dev');
      assert.deepEqual(description.vars, {
        vpc_id: 'vpc-123',
        prod_vpc: 'vpc-999',
        subnet: 'b',
        missing: 'none',
        zone: 'example.org',
        other: 42,
      });
    },
    { atmos: atmos('  local:\n    type: file\n    options: {path: store.yaml}\n') },
  );
});

test('a missing key without a default, an unknown store and an unsupported type are errors naming them', async () => {
  await withRepo(
    {
      'store.yaml': '{}',
      'stacks/deploy/dev.yaml': STACK(['a: !store local vpc vpc_id']),
      'stacks/deploy/other.yaml': [
        'name: other',
        'components:',
        '  terraform:',
        '    b: {vars: {x: !store lokal vpc id}}',
      ].join('\n'),
      'stacks/deploy/ssm.yaml': [
        'name: ssm',
        'components:',
        '  terraform:',
        '    c: {vars: {x: !store.get cloud /x}}',
      ].join('\n'),
    },
    async (repo) => {
      const engine = await repo.engine();
      await assert.rejects(
        describeComponent(engine, 'app', 'plat-dev'),
        (error: Error & { location?: { file: string } }) => {
          assert.match(error.message, /!store local vpc vpc_id in component 'app' \(stack 'plat-dev'\)/);
          assert.match(error.message, /'vpc_id' of 'vpc' in stack 'plat-dev' is not in store 'local'/);
          assert.match(error.location?.file ?? '', /dev\.yaml$/);
          return true;
        },
      );
      await assert.rejects(describeComponent(engine, 'b', 'other'), (error: Error & { hint?: string }) => {
        assert.match(error.message, /no store 'lokal'/);
        assert.match(error.hint ?? '', /local/);
        return true;
      });
      await assert.rejects(describeComponent(engine, 'c', 'ssm'), (error: Error & { hint?: string }) => {
        assert.match(error.message, /store 'cloud' has type 'aws-ssm-parameter-store', which strata does not read/);
        assert.match(error.hint ?? '', /file and postgres/);
        return true;
      });
    },
    {
      atmos: atmos(
        '  local:\n    type: file\n    options: {path: store.yaml}\n  cloud:\n    type: aws-ssm-parameter-store\n    options: {region: us-east-1}\n',
      ),
    },
  );
});

let database: { url: string; stop(): void } | undefined;
before(async () => {
  if (!skipWithoutPostgres) database = await startPostgresDatabase('stores');
});
after(() => database?.stop());

test('a postgres store: JSON values by key, with the prefix', { skip: skipWithoutPostgres }, async () => {
  const url = database?.url ?? '';
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE strata_store (key text PRIMARY KEY, value jsonb)');
  await client.query(
    `INSERT INTO strata_store VALUES ('lab/plat/dev/vpc/cidr', '"10.0.0.0/16"'), ('lab/shared', '{"a": [1, 2]}')`,
  );
  await client.end();
  await withRepo(
    {
      'stacks/deploy/dev.yaml': STACK([
        'cidr: !store db vpc cidr',
        'second: !store.get db shared | query .a[1]',
        'absent: !store db vpc nothing | default ""',
      ]),
    },
    async (repo) => {
      const { description } = await describeComponent(await repo.engine(), 'app', 'plat-dev');
      assert.deepEqual(description.vars, { cidr: '10.0.0.0/16', second: 2, absent: '' });
    },
    {
      atmos: atmos(`  db:\n    type: postgres\n    options: {url: "${url}", prefix: lab, stack_delimiter: "-"}\n`),
    },
  );
});
