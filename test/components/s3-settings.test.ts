// Where strata looks for an s3 backend's state, and with which endpoint, region and credentials: the order Terraform
// uses. Pure functions over a component instance and an environment.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { s3Url } from '../../src/components/terraform/aws.ts';
import { s3Backend, stateObjectKey } from '../../src/components/terraform/s3.ts';
import { versioningCheck } from '../../src/gitops/doctor-s3.ts';
import { makeConfig, makeInstance, tempDir } from './helpers.ts';

const dir = tempDir('s3-settings');
after(() => dir.cleanup());
const config = makeConfig(dir.path);
const credentialsFile = join(dir.path, 'credentials');
writeFileSync(
  credentialsFile,
  '[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = d\n\n[profile ops]  ; a comment\naws_access_key_id = OPSKEY\naws_secret_access_key = o\naws_session_token = t\n',
);

const backendOf = (backend: Record<string, unknown>, env: Record<string, string> = {}) =>
  s3Backend(
    makeInstance(config, {
      name: 'vpc',
      stack: 'prod',
      backend_type: 's3',
      backend: { bucket: 'b', key: 'k', ...backend },
    }),
    { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, ...env },
  );

test('the object key: `key` for the default workspace, else <workspace_key_prefix>/<workspace>/<key>', () => {
  assert.equal(stateObjectKey(backendOf({ region: 'r' }), 'prod'), 'env:/prod/k');
  assert.equal(stateObjectKey(backendOf({ region: 'r', workspace_key_prefix: 'vpc' }), 'prod'), 'vpc/prod/k');
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9-]{1,20}$/), fc.stringMatching(/^[a-z0-9/._-]{1,30}$/), (ws, key) => {
      const backend = { key, workspaceKeyPrefix: 'p' };
      assert.equal(stateObjectKey(backend, ws), ws === 'default' ? key : `p/${ws}/${key}`);
    }),
    { numRuns: 200 },
  );
});

test('endpoint: endpoints.s3, the older endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then AWS', () => {
  const env = { AWS_ENDPOINT_URL_S3: 'http://s3.env', AWS_ENDPOINT_URL: 'http://all.env' };
  assert.equal(
    backendOf({ region: 'r', endpoints: { s3: 'http://a/' }, endpoint: 'http://b' }, env).target.s3Endpoint,
    'http://a',
  );
  assert.equal(backendOf({ region: 'r', endpoint: 'http://b' }, env).target.s3Endpoint, 'http://b');
  assert.equal(backendOf({ region: 'r' }, env).target.s3Endpoint, 'http://s3.env');
  assert.equal(backendOf({ region: 'r' }, { AWS_ENDPOINT_URL: 'http://all.env' }).target.s3Endpoint, 'http://all.env');
  const aws = backendOf({ region: 'eu-west-1' }).target;
  assert.equal(aws.s3Endpoint, 'https://s3.eu-west-1.amazonaws.com');
  assert.equal(aws.dynamodbEndpoint, 'https://dynamodb.eu-west-1.amazonaws.com');
  assert.equal(s3Url(aws, 'b', 'x/y'), 'https://b.s3.eu-west-1.amazonaws.com/x/y');
  const pathStyle = backendOf({ region: 'r', endpoints: { s3: 'http://127.0.0.1:9' }, use_path_style: true }).target;
  assert.equal(s3Url(pathStyle, 'b', 'x/y', 'versioning'), 'http://127.0.0.1:9/b/x/y?versioning');
});

test('region: region, then AWS_REGION, then AWS_DEFAULT_REGION; none is an error naming the component', () => {
  assert.equal(backendOf({ region: 'a' }, { AWS_REGION: 'b' }).region, 'a');
  assert.equal(backendOf({}, { AWS_REGION: 'b', AWS_DEFAULT_REGION: 'c' }).region, 'b');
  assert.equal(backendOf({}, { AWS_DEFAULT_REGION: 'c' }).region, 'c');
  assert.throws(() => backendOf({}), /the s3 backend of 'vpc' in stack 'prod' has no region/);
});

test('credentials: backend keys, the backend profile, the environment, then AWS_PROFILE or default', () => {
  const env = { AWS_ACCESS_KEY_ID: 'ENVKEY', AWS_SECRET_ACCESS_KEY: 'e', AWS_PROFILE: 'ops' };
  const source = (backend: Record<string, unknown>, e: Record<string, string>) => {
    const found = backendOf({ region: 'r', ...backend }, e);
    return found.credentialsMissing ?? found.target.credentials.accessKeyId;
  };
  assert.equal(source({ access_key: 'BK', secret_key: 's', profile: 'ops' }, env), 'BK');
  assert.equal(source({ profile: 'ops' }, env), 'OPSKEY');
  assert.equal(backendOf({ region: 'r', profile: 'ops' }).target.credentials.sessionToken, 't');
  assert.equal(source({}, env), 'ENVKEY');
  assert.equal(source({}, { AWS_PROFILE: 'ops' }), 'OPSKEY');
  assert.equal(source({}, {}), 'DEFAULTKEY');
  assert.match(source({ profile: 'nope' }, env), /profile 'nope' has no keys in .*credentials/);
  assert.match(
    source({ shared_credentials_files: ['/nonexistent'] }, {}),
    /no keys for profile 'default' in \/nonexistent/,
  );
});

test('versioning: Enabled passes; suspended or never set fails with the command that turns it on', () => {
  const backend = backendOf({ region: 'r' });
  const xml = (status: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${status}</VersioningConfiguration>`;
  assert.equal(versioningCheck({ status: 200, body: xml('<Status>Enabled</Status>') }, backend).ok, true);
  const suspended = versioningCheck({ status: 200, body: xml('<Status>Suspended</Status>') }, backend);
  assert.equal(suspended.ok, false);
  assert.match(suspended.detail, /versioning is suspended/);
  assert.equal(suspended.fix, 'aws s3api put-bucket-versioning --bucket b --versioning-configuration Status=Enabled');
  const never = versioningCheck({ status: 200, body: xml('') }, backend);
  assert.equal(never.ok, false);
  assert.match(never.detail, /versioning is off/);
  const notImplemented = versioningCheck(
    { status: 501, body: '<Error><Code>NotImplemented</Code></Error>', code: 'NotImplemented' },
    backend,
  );
  assert.deepEqual([notImplemented.ok, notImplemented.warning], [true, true]);
});
