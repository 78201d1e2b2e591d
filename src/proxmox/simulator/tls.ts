/**
 * Certificates for the simulator, made like a PVE node's: a cluster root CA (pve-root-ca.pem) and a node
 * certificate signed by it (pve-ssl.pem). Built with the `openssl` CLI because Node can make keys but not X.509
 * certificates, and a hand-written DER encoder would be more code to trust than the tool every PVE host uses.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StrataError } from '../../errors.ts';

const run = promisify(execFile);

export interface SimCertificate {
  /** PEM of the root CA: what a client pins with `ca`. */
  ca: string;
  /** PEM of the node certificate and its key, served by the HTTPS listener. */
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the node certificate, `AB:CD:…` as `pvenode cert info` prints it. */
  fingerprint: string;
}

export async function makeNodeCertificate(nodeName: string): Promise<SimCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-pve-sim-tls-'));
  const file = (name: string) => join(dir, name);
  try {
    // P-256 keys: generated in milliseconds, so every nested host can have its own certificate.
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await openssl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.pem'),
      '-days',
      '3650',
      '-subj',
      `/CN=Strata PVE Simulator CA ${nodeName}/O=strata`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await openssl([
      'req',
      ...ec,
      '-keyout',
      file('node.key'),
      '-out',
      file('node.csr'),
      '-subj',
      `/CN=${nodeName}.sim/O=strata`,
    ]);
    await writeFile(
      file('ext.cnf'),
      [
        `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:${nodeName}`,
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        '',
      ].join('\n'),
    );
    const serial = `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    await openssl([
      'x509',
      '-req',
      '-in',
      file('node.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      serial,
      '-days',
      '825',
      '-out',
      file('node.pem'),
      '-extfile',
      file('ext.cnf'),
    ]);
    const [ca, cert, key] = await Promise.all([
      readFile(file('ca.pem'), 'utf8'),
      readFile(file('node.pem'), 'utf8'),
      readFile(file('node.key'), 'utf8'),
    ]);
    return { ca, cert, key, fingerprint: new X509Certificate(cert).fingerprint256 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string };
    throw new StrataError(
      err.code === 'ENOENT'
        ? 'The PVE simulator needs the openssl command to make its TLS certificate, and it is not on PATH'
        : `openssl failed while making the simulator certificate: ${err.stderr?.trim() || err.message}`,
      { hint: 'Install openssl, or start the simulator with tls: false (plain HTTP).' },
    );
  }
}
