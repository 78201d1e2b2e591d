import { DEFAULT_LIMITS, LimitError, readFileBounded } from '../data/limits.ts';

const MAX_BYTES = DEFAULT_LIMITS.maxFileBytes;

/**
 * Secret files are read under a fixed size limit (the engine's default file limit): `!secret /dev/zero` or a huge
 * file fails at once instead of filling memory. No setting raises it: secret files hold keys and passwords.
 */
export function readSecretFile(path: string, display: string): string {
  try {
    return readFileBounded(path, MAX_BYTES, display);
  } catch (error) {
    if (!(error instanceof LimitError)) throw error;
    throw new LimitError(`the secret file ${display} is larger than ${MAX_BYTES} bytes`, {
      hint: 'a secret file holds keys and passwords: point !secret at the encrypted file itself, not at a device or an archive',
    });
  }
}
