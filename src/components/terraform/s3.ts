/**
 * Terraform's `s3` backend as strata reads it: where a workspace's state object is, which endpoint, region and
 * credentials reach it, and how the state is locked; the same rules Terraform's backend applies.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ComponentInstance } from '../../data/instance.ts';
import { StrataError } from '../../errors.ts';
import { SecretRef } from '../../secrets/values.ts';
import { section } from '../common.ts';
import { type AwsCredentials, type AwsTarget, s3Request } from './aws.ts';

export type S3Lock = { kind: 'dynamodb'; table: string } | { kind: 'lockfile' } | { kind: 'none' };

export interface S3Backend {
  bucket: string;
  /** `key`: the default workspace's object. */
  key: string;
  workspaceKeyPrefix: string;
  region: string;
  lock: S3Lock;
  /** The role Terraform assumes (assume_role.role_arn or the older role_arn), which strata does not. */
  role?: string;
  /** Why no credentials were found, when none were. */
  credentialsMissing?: string;
  target: AwsTarget;
}

type Env = Record<string, string | undefined>;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The environment Terraform would see: the process's, under the stack's `env:` (secrets resolved). */
export async function backendEnv(instance: ComponentInstance, base: NodeJS.ProcessEnv = process.env): Promise<Env> {
  const env: Env = { ...base };
  for (const [name, value] of Object.entries(section(instance.description.env))) {
    if (value instanceof SecretRef) env[name] = await value.resolve();
    else if (value !== null && value !== undefined) env[name] = String(value);
  }
  return env;
}

/** Terraform's object key for a workspace: `key` for default, else `<workspace_key_prefix>/<workspace>/<key>`. */
export function stateObjectKey(backend: Pick<S3Backend, 'key' | 'workspaceKeyPrefix'>, workspace: string): string {
  return workspace === 'default' ? backend.key : `${backend.workspaceKeyPrefix}/${workspace}/${backend.key}`;
}

export function s3Backend(instance: ComponentInstance, env: Env): S3Backend {
  const settings = section(instance.description.backend);
  const where = `the s3 backend of '${instance.name}' in stack '${instance.stack}'`;
  const bucket = text(settings.bucket);
  const key = text(settings.key);
  if (!bucket || !key) {
    throw new StrataError(`${where} has no ${bucket ? 'key' : 'bucket'}`, {
      hint: `set backend.s3.${bucket ? 'key (e.g. terraform.tfstate)' : 'bucket'} in the stack; Terraform needs both`,
    });
  }
  const region = text(settings.region) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new StrataError(`${where} has no region`, {
      hint: 'set backend.s3.region in the stack (or AWS_REGION in its env: section)',
    });
  }
  const endpoints = section(settings.endpoints);
  const s3Endpoint =
    text(endpoints.s3) ??
    text(settings.endpoint) ??
    env.AWS_ENDPOINT_URL_S3 ??
    env.AWS_ENDPOINT_URL ??
    `https://s3.${region}.amazonaws.com`;
  const dynamodbEndpoint =
    text(endpoints.dynamodb) ??
    text(settings.dynamodb_endpoint) ??
    env.AWS_ENDPOINT_URL_DYNAMODB ??
    env.AWS_ENDPOINT_URL ??
    `https://dynamodb.${region}.amazonaws.com`;
  const table = text(settings.dynamodb_table);
  const lock: S3Lock = table
    ? { kind: 'dynamodb', table }
    : settings.use_lockfile === true
      ? { kind: 'lockfile' }
      : { kind: 'none' };
  const found = credentials(settings, env);
  const missing = typeof found === 'string' ? found : undefined;
  return {
    bucket,
    key,
    workspaceKeyPrefix: text(settings.workspace_key_prefix) ?? 'env:',
    region,
    lock,
    role: text(section(settings.assume_role).role_arn) ?? text(settings.role_arn),
    credentialsMissing: missing,
    target: {
      region,
      credentials: typeof found === 'string' ? { accessKeyId: '', secretAccessKey: '', source: 'none' } : found,
      s3Endpoint: s3Endpoint.replace(/\/+$/, ''),
      pathStyle: settings.use_path_style === true || settings.force_path_style === true,
      dynamodbEndpoint: dynamodbEndpoint.replace(/\/+$/, ''),
    },
  };
}

/**
 * Static credentials in the order Terraform's AWS configuration takes them: the backend's own keys, a `profile`
 * named in the backend, the environment, then the shared credentials file's AWS_PROFILE (or `default`) profile.
 * Returns why none were found instead (SSO, credential_process and instance metadata are Terraform's alone).
 */
function credentials(settings: Record<string, unknown>, env: Env): AwsCredentials | string {
  const accessKeyId = text(settings.access_key);
  const secretAccessKey = text(settings.secret_key);
  if (accessKeyId && secretAccessKey) {
    return { accessKeyId, secretAccessKey, sessionToken: text(settings.token), source: 'backend access_key' };
  }
  const files = Array.isArray(settings.shared_credentials_files)
    ? settings.shared_credentials_files.filter((f): f is string => typeof f === 'string')
    : [];
  const file =
    files[0] ??
    text(settings.shared_credentials_file) ??
    env.AWS_SHARED_CREDENTIALS_FILE ??
    join(env.HOME ?? homedir(), '.aws', 'credentials');
  const named = text(settings.profile);
  if (named) return profileCredentials(file, named) ?? `profile '${named}' has no keys in ${file}`;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
      source: 'environment (AWS_ACCESS_KEY_ID)',
    };
  }
  const profile = env.AWS_PROFILE ?? 'default';
  return (
    profileCredentials(file, profile) ??
    `no backend access_key, no AWS_ACCESS_KEY_ID in the environment or the stack's env:, no keys for profile '${profile}' in ${file}`
  );
}

function profileCredentials(file: string, profile: string): AwsCredentials | undefined {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const values: Record<string, string> = {};
  let current = '';
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) current = header[1];
    else if (current === profile && line.includes('=')) {
      const at = line.indexOf('=');
      values[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
  }
  if (!values.aws_access_key_id || !values.aws_secret_access_key) return undefined;
  return {
    accessKeyId: values.aws_access_key_id,
    secretAccessKey: values.aws_secret_access_key,
    sessionToken: values.aws_session_token || undefined,
    source: `profile '${profile}' in ${file}`,
  };
}

export type S3StateObject = { found: true; text: string; where: string } | { found: false; why: string };

/** The workspace's state object, straight from S3; a missing object is "not provisioned", anything else an error. */
export async function fetchS3State(instance: ComponentInstance, workspace: string): Promise<S3StateObject> {
  const backend = s3Backend(instance, await backendEnv(instance));
  const key = stateObjectKey(backend, workspace);
  const where = `s3://${backend.bucket}/${key}`;
  const fail = (problem: string, hint: string, details?: string) =>
    new StrataError(`cannot read the state of '${instance.name}' in stack '${instance.stack}' from ${where}`, {
      details: details ? `${problem}: ${details}` : problem,
      hint,
    });
  const doctor = `strata doctor backend ${instance.name} -s ${instance.stack}`;
  if (backend.credentialsMissing) {
    throw fail(
      'no AWS credentials',
      `give the stack credentials Terraform would use, then run '${doctor}'`,
      backend.credentialsMissing,
    );
  }
  let response: Awaited<ReturnType<typeof s3Request>>;
  try {
    response = await s3Request(backend.target, 'GET', backend.bucket, { key });
  } catch (error) {
    throw fail((error as Error).message, `check the endpoint with '${doctor}'`, (error as StrataError).details);
  }
  if (response.status === 200) return { found: true, text: response.body, where };
  if (response.code === 'NoSuchKey')
    return { found: false, why: `no state object ${where} (workspace '${workspace}')` };
  if (response.code === 'NoSuchBucket') {
    throw fail(
      `bucket '${backend.bucket}' does not exist`,
      `create it with 'strata doctor backend ${instance.name} -s ${instance.stack} --bootstrap'`,
    );
  }
  throw fail(
    `S3 answered ${response.status}${response.code ? ` ${response.code}` : ''}`,
    response.status === 403
      ? `the credentials (${backend.target.credentials.source}) may not read the bucket; check them with '${doctor}'`
      : `check the backend with '${doctor}'`,
  );
}
