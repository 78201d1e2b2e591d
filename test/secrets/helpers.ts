import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgeKeyring } from '../../src/secrets/age-keys.ts';

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix = 'strata-secrets-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real key pair made by Debian's `age-keygen`. */
export function ageKeygen(dir: string, name = 'key.txt'): { file: string; identity: string; recipient: string } {
  const file = join(dir, name);
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  const identity = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('AGE-SECRET-KEY-')) as string;
  const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
  return { file, identity, recipient };
}

export function keyringOf(...keys: { identity: string; recipient: string }[]): AgeKeyring {
  return { keys: keys.map((k) => ({ ...k, origin: 'test' })), sources: [] };
}

/** An environment with no key sources at all (HOME and XDG point at an empty folder). */
export function isolatedEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), ...extra };
  for (const k of [
    'STRATA_AGE_KEY_FILE',
    'SOPS_AGE_KEY_FILE',
    'SOPS_AGE_KEY',
    'ANSIBLE_VAULT_PASSWORD_FILE',
    'STRATA_VAULT_PASSWORD',
  ]) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}
