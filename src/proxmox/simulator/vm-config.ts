/**
 * The qemu config schema the simulator checks as PVE does: known keys, typed values (integers, booleans, DNS names,
 * SSH keys, ipconfig, agent, tags), which privilege each key needs, and how a change lands on the VM.
 */
import { invalidParams, SimHttpError } from './http.ts';
import type { SimVm } from './state.ts';

const BOOL_KEYS = new Set(['onboot', 'protection', 'numa', 'kvm', 'tablet', 'ciupgrade', 'localtime', 'template']);
const INT_KEYS: Record<string, number> = { cores: 1, sockets: 1, vcpus: 1, memory: 16, balloon: 0, cpuunits: 1 };
const SIMPLE_KEYS = new Set([
  'name',
  'cores',
  'sockets',
  'vcpus',
  'cpu',
  'numa',
  'cpulimit',
  'cpuunits',
  'affinity',
  'memory',
  'balloon',
  'shares',
  'ciuser',
  'cipassword',
  'sshkeys',
  'nameserver',
  'searchdomain',
  'citype',
  'cicustom',
  'ciupgrade',
  'scsihw',
  'machine',
  'bios',
  'vga',
  'ostype',
  'hotplug',
  'tags',
  'description',
  'onboot',
  'agent',
  'boot',
  'protection',
  'kvm',
  'tablet',
  'localtime',
  'startup',
  'efidisk0',
  'tpmstate0',
  'hookscript',
  'args',
]);
const INDEXED_KEY = /^(ipconfig|net|scsi|virtio|sata|ide|serial|unused|usb|hostpci)(\d+)$/;
/** Config keys that name a drive (a volume on a storage). */
export const DISK_KEY = /^(scsi|virtio|sata|ide|efidisk|tpmstate|unused)\d+$/;
const CONTROL_KEYS = new Set(['delete', 'digest', 'skiplock', 'background_delay', 'revert', 'node', 'vmid']);
const URLENCODED = /^[-%a-zA-Z0-9_.!~*'()]*$/;
export const DNS_NAME =
  /^(?=.{1,255}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;

export interface ConfigChange {
  set: Record<string, string | number>;
  remove: string[];
}

/** The privilege PVE requires to change one config key. */
export function configPrivilege(key: string): string {
  if (/^(cores|sockets|vcpus|cpu|numa|cpulimit|cpuunits|affinity)$/.test(key)) return 'VM.Config.CPU';
  if (/^(memory|balloon|shares)$/.test(key)) return 'VM.Config.Memory';
  if (/^(ciuser|cipassword|sshkeys|nameserver|searchdomain|citype|cicustom|ciupgrade|ipconfig\d+)$/.test(key)) {
    return 'VM.Config.Cloudinit';
  }
  if (/^net\d+$/.test(key)) return 'VM.Config.Network';
  if (DISK_KEY.test(key)) return 'VM.Config.Disk';
  if (/^(scsihw|machine|bios|vga|ostype|hotplug|serial\d+|usb\d+|hostpci\d+|args)$/.test(key))
    return 'VM.Config.HWType';
  return 'VM.Config.Options';
}

/** Checks a config update's parameters (values to set, `delete` list) against the schema. */
export function validateConfig(params: Record<string, string>): ConfigChange {
  const errors: Record<string, string> = {};
  const set: Record<string, string | number> = {};
  const remove = (params.delete ?? '').split(/[,;\s]+/).filter(Boolean);
  for (const [key, raw] of Object.entries(params)) {
    if (CONTROL_KEYS.has(key)) continue;
    const checked = checkValue(key, raw);
    if ('error' in checked) errors[key] = checked.error;
    else set[key] = checked.value;
  }
  for (const key of remove) {
    if (key in set) errors[key] = `unable to delete '${key}' - option is also set`;
  }
  if (Object.keys(errors).length > 0) throw invalidParams(errors);
  if (Object.keys(set).length === 0 && remove.length === 0) {
    throw new SimHttpError(500, 'no options specified');
  }
  return { set, remove };
}

function checkValue(key: string, raw: string): { value: string | number } | { error: string } {
  if (!SIMPLE_KEYS.has(key) && !INDEXED_KEY.test(key)) {
    return { error: 'property is not defined in schema and the schema does not allow additional properties' };
  }
  if (key in INT_KEYS) {
    if (!/^-?\d+$/.test(raw)) return { error: `type check ('integer') failed - got '${raw}'` };
    if (Number(raw) < INT_KEYS[key]) return { error: `value must have a minimum value of ${INT_KEYS[key]}` };
    return { value: Number(raw) };
  }
  if (BOOL_KEYS.has(key)) {
    if (!/^(0|1|yes|no|on|off|true|false)$/i.test(raw))
      return { error: `type check ('boolean') failed - got '${raw}'` };
    return { value: /^(1|yes|on|true)$/i.test(raw) ? 1 : 0 };
  }
  const error = formatError(key, raw);
  return error === undefined ? { value: raw } : { error };
}

/** PVE's format errors for string-valued keys with a format. */
function formatError(key: string, raw: string): string | undefined {
  if (key === 'name' && !DNS_NAME.test(raw)) return 'invalid format - value does not look like a valid DNS name';
  if (key === 'sshkeys') {
    if (!URLENCODED.test(raw)) return `invalid format - invalid urlencoded string: ${raw}`;
    const keys = decodeURIComponent(raw)
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (keys.some((k) => !/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]+(\s.*)?$/.test(k))) {
      return 'SSH public key validation error';
    }
  }
  if (/^ipconfig\d+$/.test(key)) {
    const ok = raw
      .split(',')
      .every((part) =>
        /^(ip=(dhcp|\d+\.\d+\.\d+\.\d+\/\d+)|gw=\d+\.\d+\.\d+\.\d+|ip6=(dhcp|auto|[0-9a-fA-F:]+\/\d+)|gw6=[0-9a-fA-F:]+)$/.test(
          part,
        ),
      );
    if (!ok) return `invalid format - format error\n${key}: unable to parse value`;
  }
  if (key === 'agent' && !/^((enabled=)?[01])?(,?(fstrim_cloned_disks|type|freeze-fs-on-backup)=[^,]+)*$/.test(raw)) {
    return `invalid format - format error\nagent.enabled: type check ('boolean') failed - got '${raw}'`;
  }
  if (key === 'tags' && !/^[a-zA-Z0-9_][a-zA-Z0-9_\-+.;, ]*$/.test(raw)) {
    return 'invalid format - invalid characters in tag';
  }
  return undefined;
}

export function applyConfig(vm: SimVm, { set, remove }: ConfigChange): void {
  for (const key of remove) {
    delete vm.config[key];
    if (key === 'tags') vm.tags = [];
  }
  for (const [key, value] of Object.entries(set)) {
    vm.config[key] = value;
    if (key === 'name') vm.name = String(value);
    if (key === 'tags')
      vm.tags = String(value)
        .split(/[;, ]+/)
        .filter(Boolean);
    if (key === 'ipconfig0' && /ip=\d/.test(String(value))) vm.ip = undefined;
  }
}
