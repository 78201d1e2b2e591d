/**
 * Every answer the controller writes. Refusals have one fixed body per status: what is refused never depends on
 * whether a node exists. Specs and files pass through the masker, where the controller's own credentials (and any
 * secret strata resolved) are registered: whatever a spec or a committed file holds, they are never served.
 */
import type { ServerResponse } from 'node:http';
import { globalMasker } from '../util/mask.ts';
import type { Credential } from './auth.ts';
import type { OpenedFile } from './repo.ts';

export const JSON_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export type RefusalStatus = 400 | 403 | 404;

const REFUSAL_TEXT: Record<RefusalStatus, string> = { 400: 'bad request', 403: 'forbidden', 404: 'not found' };

/** A JSON answer, masked (the masker keeps JSON valid: a masked value becomes the string "***"). */
export function jsonResponse(data: unknown): Response {
  return new Response(`${globalMasker.mask(JSON.stringify(data))}\n`, { status: 200, headers: JSON_HEADERS });
}

export function unauthorized(credential: Credential): Response {
  return new Response('{"error":"unauthorized"}\n', {
    status: 401,
    headers: {
      ...JSON_HEADERS,
      'www-authenticate':
        credential.kind === 'invalid' ? 'Bearer realm="strata", error="invalid_token"' : 'Bearer realm="strata"',
    },
  });
}

export function refusal(status: RefusalStatus): Response {
  return new Response(`{"error":"${REFUSAL_TEXT[status]}"}\n`, { status, headers: JSON_HEADERS });
}

export function internalError(): Response {
  return new Response('{"error":"internal error"}\n', { status: 500, headers: JSON_HEADERS });
}

/**
 * A file from the repository, masked on the way out (so its length is only known once sent: no content-length);
 * HEAD answers carry the same headers, close the file and send no body.
 */
export async function fileResponse(file: OpenedFile, head: boolean): Promise<Response> {
  const headers = {
    'content-type': file.contentType,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (head) {
    await file.close();
    return new Response(null, { status: 200, headers });
  }
  const masker = globalMasker.stream();
  const masked = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => controller.enqueue(masker.push(chunk)),
    flush: (controller) => controller.enqueue(masker.end()),
  });
  return new Response(file.stream().pipeThrough(masked), { status: 200, headers });
}

/** A JSON error written straight to the socket, for refusals decided before any routing. */
export function sendRaw(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const text = `${body}\n`;
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}
