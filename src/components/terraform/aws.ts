/**
 * The few S3 and DynamoDB calls strata makes itself (read a state object, check and create the state bucket and the
 * lock table), signed with AWS Signature V4.
 *
 * Signing is aws4fetch's (1.0.20, MIT, no dependencies, ~15 KB, by the author of dynalite): it signs a `fetch`
 * request with WebCrypto, both of which Node 20 has built in. The AWS SDK v3 clients would do the same for these
 * six calls with ~100 packages and a slower start; a hand-written signer would be one more thing to get right. It
 * is imported on the first call only, so commands that never talk to AWS do not load it.
 */
import { StrataError } from '../../errors.ts';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Where they came from (`backend access_key`, `environment`, `profile 'x' in ~/.aws/credentials`). */
  source: string;
}

export interface AwsTarget {
  region: string;
  credentials: AwsCredentials;
  /** S3 endpoint URL without a trailing slash (`https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:4568`). */
  s3Endpoint: string;
  /** Path-style addressing (`<endpoint>/<bucket>/<key>`) instead of `<bucket>.<host>/<key>`. */
  pathStyle: boolean;
  dynamodbEndpoint: string;
}

export interface AwsResponse {
  status: number;
  body: string;
  /** S3's `<Code>` or DynamoDB's `__type` suffix (`NoSuchKey`, `ResourceNotFoundException`), when an error. */
  code?: string;
}

const TIMEOUT_MS = 15_000;

type Signer = { fetch(url: string, init: RequestInit): Promise<Response> };

async function signer(target: AwsTarget, service: 's3' | 'dynamodb'): Promise<Signer> {
  const { AwsClient } = await import('aws4fetch');
  const { accessKeyId, secretAccessKey, sessionToken } = target.credentials;
  return new AwsClient({ accessKeyId, secretAccessKey, sessionToken, region: target.region, service, retries: 0 });
}

async function send(target: AwsTarget, service: 's3' | 'dynamodb', url: string, init: RequestInit) {
  const client = await signer(target, service);
  let response: Response;
  try {
    response = await client.fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new StrataError(`cannot reach ${service === 's3' ? 'S3' : 'DynamoDB'} at ${new URL(url).origin}`, {
      details: cause?.code ?? cause?.message ?? (error as Error).message,
      hint: `check the endpoint (backend endpoints.${service}) and that the service is up`,
      cause: error,
    });
  }
  const body = await response.text();
  return { status: response.status, body, code: response.ok ? undefined : errorCode(body) };
}

function errorCode(body: string): string | undefined {
  const xml = /<Code>([^<]+)<\/Code>/.exec(body);
  if (xml) return xml[1];
  try {
    const type = (JSON.parse(body) as { __type?: string }).__type;
    return type?.split('#').pop();
  } catch {
    return undefined;
  }
}

/** The URL of a bucket, or of an object in it, as the backend's addressing style says. */
export function s3Url(target: AwsTarget, bucket: string, key?: string, query?: string): string {
  const path = key === undefined ? '' : `/${key.split('/').map(encodeURIComponent).join('/')}`;
  const suffix = query ? `?${query}` : '';
  if (target.pathStyle) return `${target.s3Endpoint}/${encodeURIComponent(bucket)}${path}${suffix}`;
  const url = new URL(target.s3Endpoint);
  return `${url.protocol}//${bucket}.${url.host}${path || '/'}${suffix}`;
}

export function s3Request(
  target: AwsTarget,
  method: 'GET' | 'HEAD' | 'PUT',
  bucket: string,
  options: { key?: string; query?: string; body?: string } = {},
): Promise<AwsResponse> {
  return send(target, 's3', s3Url(target, bucket, options.key, options.query), { method, body: options.body });
}

/** One DynamoDB JSON-protocol call (`DescribeTable`, `CreateTable`). */
export function dynamodbRequest(target: AwsTarget, operation: string, input: unknown): Promise<AwsResponse> {
  return send(target, 'dynamodb', `${target.dynamodbEndpoint}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}` },
    body: JSON.stringify(input),
  });
}
