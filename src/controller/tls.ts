/**
 * The daemon's TLS identity: the operator's certificate and key, or a fresh self-signed pair made with the openssl
 * CLI. Generated keys live in memory only: the temporary folder openssl writes to is removed before serving.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { StrataError } from '../errors.ts';
import { run } from '../exec/index.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the certificate, colon-separated upper-case hex (as openssl and browsers show it). */
  fingerprint: string;
  selfSigned: boolean;
}

export async function loadTls(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readPem(certFile, 'certificate'), readPem(keyFile, 'key')]);
  return { cert, key, fingerprint: fingerprintOf(cert, certFile), selfSigned: false };
}

/**
 * An ECDSA P-256 certificate valid for a year, for localhost, this host's name and the bind address.
 * P-256 rather than RSA-4096: generation takes milliseconds, and every TLS client supports it.
 */
export async function generateSelfSigned(bind: string): Promise<TlsMaterial> {
  const host = hostname() || 'localhost';
  const names = new Set([`DNS:localhost`, `DNS:${host}`, 'IP:127.0.0.1', 'IP:::1']);
  if (isIP(bind) && bind !== '0.0.0.0' && bind !== '::') names.add(`IP:${bind}`);
  else if (!isIP(bind)) names.add(`DNS:${bind}`);
  const dir = await mkdtemp(join(tmpdir(), 'strata-tls-'));
  try {
    const result = await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '365',
        '-subj',
        `/CN=${host}`,
        '-addext',
        `subjectAltName=${[...names].join(',')}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'capture', timeoutMs: 30_000 },
    );
    if (result.exitCode !== 0) {
      throw new StrataError(`openssl could not create a self-signed certificate (exit ${result.exitCode})`, {
        details: result.stderr,
        hint: 'pass your own certificate with --cert and --key',
      });
    }
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    const key = await readFile(join(dir, 'key.pem'), 'utf8');
    return { cert, key, fingerprint: fingerprintOf(cert, 'the generated certificate'), selfSigned: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function fingerprintOf(certPem: string, origin: string): string {
  try {
    return new X509Certificate(certPem).fingerprint256;
  } catch (error) {
    throw new StrataError(`${origin} is not a PEM certificate: ${(error as Error).message}`, {
      hint: 'pass a PEM file (-----BEGIN CERTIFICATE-----) to --cert',
    });
  }
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new StrataError(`cannot read the TLS ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`, {
      hint: `check the path given to --${what === 'key' ? 'key' : 'cert'}`,
    });
  }
}
