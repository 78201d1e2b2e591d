/**
 * `doctor backend` on an s3 backend, before the lock is proved: credentials, bucket, versioning and lock table, each
 * failure with its fix; and the bootstrap that creates the bucket (versioned) and the lock table, or prints the
 * Terraform that does.
 */
import { type AwsResponse, dynamodbRequest, s3Request } from '../components/terraform/aws.ts';
import { backendEnv, type S3Backend, s3Backend } from '../components/terraform/s3.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { StrataError } from '../errors.ts';

export interface DoctorCheck {
  step: string;
  ok: boolean;
  detail: string;
  /** What to do about a failed step. */
  fix?: string;
  /** Passed, but something could not be verified (e.g. a server that does not implement bucket versioning). */
  warning?: boolean;
}

const VERSIONING_ON =
  '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>';

export async function s3BackendOf(instance: ComponentInstance): Promise<S3Backend> {
  return s3Backend(instance, await backendEnv(instance));
}

/** The static checks; `false` from the caller's view when any failed (the lock proof is not worth running then). */
export async function s3Checks(instance: ComponentInstance, backend: S3Backend): Promise<DoctorCheck[]> {
  const bootstrap = `strata doctor backend ${instance.name} -s ${instance.stack} --bootstrap`;
  const checks: DoctorCheck[] = [];
  if (backend.credentialsMissing) {
    checks.push({
      step: 'credentials',
      ok: false,
      detail: backend.credentialsMissing,
      fix: "export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or set them in the stack's env:), or name a profile with backend.s3.profile",
    });
    return checks;
  }
  const role = backend.role ? `; Terraform then assumes ${backend.role}` : '';
  checks.push({ step: 'credentials', ok: true, detail: `from ${backend.target.credentials.source}${role}` });

  const head = await reach(() => s3Request(backend.target, 'HEAD', backend.bucket), checks, 'bucket reachable');
  if (!head) return checks;
  if (head.status !== 200) {
    checks.push({
      step: 'bucket reachable',
      ok: false,
      detail: `HEAD s3://${backend.bucket} answered ${head.status}${head.status === 404 ? ' (no such bucket)' : ''}`,
      fix: head.status === 404 ? bootstrap : 'give the credentials s3:ListBucket, s3:GetObject and s3:PutObject on it',
    });
    return checks;
  }
  checks.push({ step: 'bucket reachable', ok: true, detail: `s3://${backend.bucket} at ${backend.target.s3Endpoint}` });
  checks.push(
    versioningCheck(await s3Request(backend.target, 'GET', backend.bucket, { query: 'versioning' }), backend),
  );
  checks.push(await lockCheck(backend, bootstrap));
  return checks;
}

async function reach(call: () => Promise<AwsResponse>, checks: DoctorCheck[], step: string) {
  try {
    return await call();
  } catch (error) {
    const e = error as StrataError;
    checks.push({ step, ok: false, detail: `${e.message}${e.details ? ` (${e.details})` : ''}`, fix: e.hint });
    return undefined;
  }
}

export function versioningCheck(response: AwsResponse, backend: S3Backend): DoctorCheck {
  const step = 'versioning on';
  const status = /<Status>([^<]*)<\/Status>/.exec(response.body)?.[1];
  if (status === 'Enabled') return { step, ok: true, detail: 'every state write is kept as a version' };
  if (response.status === 200 && !response.body.includes('VersioningConfiguration')) {
    // S3-compatible servers without versioning (s3rver) answer with a listing or NotImplemented.
    return { step, ok: true, warning: true, detail: 'unknown: this S3 server does not implement bucket versioning' };
  }
  if (response.code === 'NotImplemented') {
    return { step, ok: true, warning: true, detail: 'unknown: this S3 server does not implement bucket versioning' };
  }
  return {
    step,
    ok: false,
    detail: `versioning is ${status ? status.toLowerCase() : 'off'}: an overwritten state cannot be recovered`,
    fix: `aws s3api put-bucket-versioning --bucket ${backend.bucket} --versioning-configuration Status=Enabled`,
  };
}

async function lockCheck(backend: S3Backend, bootstrap: string): Promise<DoctorCheck> {
  const step = 'lock';
  if (backend.lock.kind === 'none') {
    return {
      step,
      ok: false,
      detail: 'no dynamodb_table and no use_lockfile: two runs can write the same state at once',
      fix: 'set backend.s3.dynamodb_table (then bootstrap the table) or use_lockfile: true (Terraform >= 1.10)',
    };
  }
  if (backend.lock.kind === 'lockfile') {
    return { step, ok: true, detail: 'use_lockfile: a .tflock object next to the state (S3 conditional writes)' };
  }
  const table = backend.lock.table;
  const response = await dynamodbRequest(backend.target, 'DescribeTable', { TableName: table });
  if (response.code === 'ResourceNotFoundException') {
    return { step, ok: false, detail: `DynamoDB table '${table}' does not exist`, fix: bootstrap };
  }
  if (response.status !== 200) {
    return {
      step,
      ok: false,
      detail: `DescribeTable ${table} answered ${response.status} ${response.code ?? ''}`.trim(),
      fix: 'give the credentials dynamodb:DescribeTable, GetItem, PutItem and DeleteItem on the table',
    };
  }
  const described = JSON.parse(response.body) as {
    Table?: { KeySchema?: Array<{ AttributeName: string; KeyType: string }> };
  };
  const hash = described.Table?.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
  if (hash !== 'LockID') {
    return {
      step,
      ok: false,
      detail: `DynamoDB table '${table}' has hash key '${hash}'; Terraform needs 'LockID' (string)`,
      fix: `create a table with hash key LockID (S) and point backend.s3.dynamodb_table at it`,
    };
  }
  return { step, ok: true, detail: `DynamoDB table '${table}' with hash key LockID` };
}

export interface BootstrapStep {
  step: string;
  result: 'created' | 'exists' | 'unsupported';
  detail: string;
}

/** Creates what the backend needs and is missing: the bucket (versioned) and the DynamoDB lock table. */
export async function bootstrapS3(instance: ComponentInstance): Promise<BootstrapStep[]> {
  const backend = await s3BackendOf(instance);
  if (backend.credentialsMissing) {
    throw new StrataError(`no AWS credentials to bootstrap the s3 backend of '${instance.name}'`, {
      details: backend.credentialsMissing,
      hint: "export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or set them in the stack's env:), or use --print",
    });
  }
  const steps: BootstrapStep[] = [];
  const { target, bucket } = backend;
  const head = await s3Request(target, 'HEAD', bucket);
  if (head.status === 200) {
    steps.push({ step: 'bucket', result: 'exists', detail: `s3://${bucket}` });
  } else {
    // Outside us-east-1 S3 wants the region named in the request body.
    const body =
      backend.region === 'us-east-1'
        ? undefined
        : `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${backend.region}</LocationConstraint></CreateBucketConfiguration>`;
    expectOk(await s3Request(target, 'PUT', bucket, { body }), `create bucket ${bucket}`);
    steps.push({ step: 'bucket', result: 'created', detail: `s3://${bucket} in ${backend.region}` });
  }
  const versioning = versioningCheck(await s3Request(target, 'GET', bucket, { query: 'versioning' }), backend);
  if (versioning.warning) {
    steps.push({ step: 'versioning', result: 'unsupported', detail: versioning.detail });
  } else if (versioning.ok) {
    steps.push({ step: 'versioning', result: 'exists', detail: 'Enabled' });
  } else {
    expectOk(
      await s3Request(target, 'PUT', bucket, { query: 'versioning', body: VERSIONING_ON }),
      'turn on versioning',
    );
    steps.push({ step: 'versioning', result: 'created', detail: 'Enabled' });
  }
  if (backend.lock.kind === 'dynamodb') steps.push(await bootstrapTable(backend, backend.lock.table));
  return steps;
}

async function bootstrapTable(backend: S3Backend, table: string): Promise<BootstrapStep> {
  const described = await dynamodbRequest(backend.target, 'DescribeTable', { TableName: table });
  if (described.status === 200) return { step: 'lock table', result: 'exists', detail: table };
  expectOk(
    await dynamodbRequest(backend.target, 'CreateTable', {
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
    `create DynamoDB table ${table}`,
  );
  return { step: 'lock table', result: 'created', detail: `${table} (hash key LockID, pay per request)` };
}

function expectOk(response: AwsResponse, what: string): void {
  if (response.status >= 200 && response.status < 300) return;
  throw new StrataError(`cannot ${what}: ${response.status} ${response.code ?? ''}`.trim(), {
    details: response.body.slice(0, 500),
    hint: 'check that the credentials may create S3 buckets and DynamoDB tables, or apply the Terraform from --print',
  });
}

/** The same resources as Terraform code, for those who manage the state bucket with Terraform itself. */
export function bootstrapTerraform(backend: S3Backend): string {
  const lines = [
    'resource "aws_s3_bucket" "state" {',
    `  bucket = "${backend.bucket}"`,
    '}',
    '',
    'resource "aws_s3_bucket_versioning" "state" {',
    '  bucket = aws_s3_bucket.state.id',
    '  versioning_configuration {',
    '    status = "Enabled"',
    '  }',
    '}',
    '',
    'resource "aws_s3_bucket_public_access_block" "state" {',
    '  bucket                  = aws_s3_bucket.state.id',
    '  block_public_acls       = true',
    '  block_public_policy     = true',
    '  ignore_public_acls      = true',
    '  restrict_public_buckets = true',
    '}',
  ];
  if (backend.lock.kind === 'dynamodb') {
    lines.push(
      '',
      'resource "aws_dynamodb_table" "lock" {',
      `  name         = "${backend.lock.table}"`,
      '  billing_mode = "PAY_PER_REQUEST"',
      '  hash_key     = "LockID"',
      '',
      '  attribute {',
      '    name = "LockID"',
      '    type = "S"',
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
