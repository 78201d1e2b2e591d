/**
 * Why a Terraform run failed, classified from the tool's own output, as a one-line hint with the fix: a held state
 * lock, a provider that could not be downloaded, a backend that refused the credentials, a required variable
 * without a value; any other failed `init` points at the backend settings.
 */
import type { ComponentInstance } from '../../data/instance.ts';
import type { RunResult } from '../../exec/index.ts';
import { BACKEND_FILE } from './files.ts';

const PROVIDER_DOWNLOAD =
  /Failed to query available provider packages|Failed to install provider|Could not retrieve the list of available versions|could not connect to registry/;
const BACKEND_AUTH =
  /requires auth|No valid credential sources|InvalidAccessKeyId|ExpiredToken|SignatureDoesNotMatch|AccessDenied|401 Unauthorized|403 Forbidden|authentication failed/i;

export function failureHint(
  instance: ComponentInstance,
  result: RunResult,
  wroteBackendFile: boolean,
): string | undefined {
  const where = `'${instance.name}' in stack '${instance.stack}'`;
  const output = `${result.stderr}\n${result.stdout}`;
  if (output.includes('Error acquiring the state lock')) return lockHint(instance, where, output);
  if (PROVIDER_DOWNLOAD.test(output)) {
    const provider = /available versions for provider\s+(\S+?):/.exec(output)?.[1];
    return `strata: terraform could not download ${provider ? `provider ${provider}` : 'a provider'} for ${where}; check the network access to its registry, or install it from a mirror or cache (provider_installation in the Terraform CLI configuration, TF_PLUGIN_CACHE_DIR)`;
  }
  const type = instance.description.backend_type || 'local';
  if (BACKEND_AUTH.test(output)) {
    return `strata: the ${type} backend of ${where} refused the credentials (or found none); check the credentials in the component's env and in the environment strata runs in`;
  }
  const variable = /No value for required variable[\s\S]*?input variable "([^"]+)" is not set/.exec(output)?.[1];
  if (variable) {
    return `strata: variable '${variable}' of ${where} has no value; set vars.${variable} for the component in the stack (strata describe component ${instance.name} -s ${instance.stack} shows its vars)`;
  }
  if (result.args[0] === 'init') {
    return `strata: init failed for ${where}; check its backend settings (backend_type: ${type}${
      wroteBackendFile ? `, written to ${BACKEND_FILE}` : ''
    })`;
  }
  return undefined;
}

/** Who holds the lock and since when, and how to remove it if that run is gone. */
function lockHint(instance: ComponentInstance, where: string, output: string): string {
  const lock = lockInfo(output);
  const holder = lock.Who
    ? ` (${lock.Who}${lock.Operation ? `, ${lock.Operation.replace(/^OperationType/, '').toLowerCase()}` : ''}${
        lock.Created ? `, since ${lock.Created.replace(/\.\d+/, '').replace(' +0000 UTC', ' UTC')}` : ''
      })`
    : '';
  const unlock = lock.ID
    ? `; if that run is gone: strata terraform force-unlock ${instance.name} -s ${instance.stack} -force ${lock.ID}`
    : '';
  return `strata: the state of ${where} is locked by another run${holder}; wait for it to finish, or pass -lock-timeout=60s to wait for the lock${unlock}`;
}

/** The `Lock Info:` block Terraform prints with a lock error (ID, Path, Operation, Who, Version, Created). */
function lockInfo(output: string): Record<string, string> {
  const info: Record<string, string> = {};
  const block = output.split('Lock Info:')[1] ?? '';
  for (const line of block.split('\n').slice(1)) {
    const match = /^\s+(\w+):\s*(.*?)\s*$/.exec(line);
    if (!match) break;
    info[match[1]] = match[2];
  }
  return info;
}
