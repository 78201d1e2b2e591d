/**
 * qemu-server's VM config schema (json_config_properties) as the simulator checks it: every key PVE 8 knows, typed,
 * with the property strings of NICs, drives, cloud-init addresses, the agent, CPU, boot order, display and serial
 * ports parsed as PVE parses them. Which privilege a key needs, and which keys a running VM takes at once.
 */
import {
  configIdList,
  DNS_NAME_RE,
  FormatError,
  type ParamSpec,
  type PropKeySpec,
  parsePropertyString,
  propertyString,
  storageId,
} from './schema.ts';

const bool: ParamSpec = { type: 'boolean', optional: true };
const str: ParamSpec = { type: 'string', optional: true };
const int = (minimum?: number, maximum?: number): ParamSpec => ({ type: 'integer', optional: true, minimum, maximum });

export const NIC_MODELS = [
  'e1000',
  'e1000-82540em',
  'e1000-82544gc',
  'e1000-82545em',
  'e1000e',
  'i82551',
  'i82557b',
  'i82559er',
  'ne2k_isa',
  'ne2k_pci',
  'pcnet',
  'rtl8139',
  'virtio',
  'vmxnet3',
];
const MAC_RE = /[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}/;

const NET_FORMAT: Record<string, PropKeySpec> = {
  model: { type: 'string', enum: NIC_MODELS, defaultKey: true },
  macaddr: { type: 'string', optional: true, pattern: MAC_RE },
  bridge: { type: 'string', optional: true, pattern: /[-_.\w\d]+/ },
  firewall: bool,
  link_down: bool,
  mtu: int(1, 65520),
  queues: int(0, 64),
  rate: { type: 'number', optional: true, minimum: 0 },
  tag: int(1, 4094),
  trunks: { type: 'string', optional: true, pattern: /\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*/ },
  ...Object.fromEntries(NIC_MODELS.map((m) => [m, { type: 'string', keyAlias: 'model', pattern: MAC_RE }])),
};

const DRIVE_COMMON: Record<string, PropKeySpec> = {
  file: { type: 'string', defaultKey: true },
  media: { type: 'string', optional: true, enum: ['cdrom', 'disk'] },
  size: { type: 'string', optional: true, pattern: /\d+(\.\d+)?[KMGT]?/ },
  format: { type: 'string', optional: true, enum: ['raw', 'cow', 'qcow', 'qed', 'qcow2', 'vmdk', 'cloop'] },
  cache: { type: 'string', optional: true, enum: ['none', 'writethrough', 'writeback', 'unsafe', 'directsync'] },
  aio: { type: 'string', optional: true, enum: ['native', 'threads', 'io_uring'] },
  discard: { type: 'string', optional: true, enum: ['ignore', 'on'] },
  detect_zeroes: bool,
  iothread: bool,
  ssd: bool,
  backup: bool,
  replicate: bool,
  shared: bool,
  snapshot: bool,
  serial: { type: 'string', optional: true, maxLength: 60 },
  wwn: str,
  model: str,
  vendor: str,
  product: str,
  ro: bool,
  queues: int(2, 16),
  rerror: { type: 'string', optional: true, enum: ['ignore', 'report', 'stop'] },
  werror: { type: 'string', optional: true, enum: ['enospc', 'ignore', 'report', 'stop'] },
  mbps: { type: 'number', optional: true },
  mbps_rd: { type: 'number', optional: true },
  mbps_wr: { type: 'number', optional: true },
  iops: int(),
  iops_rd: int(),
  iops_wr: int(),
  'import-from': str,
  efitype: { type: 'string', optional: true, enum: ['2m', '4m'] },
  'pre-enrolled-keys': bool,
  version: { type: 'string', optional: true, enum: ['v1.2', 'v2.0'] },
};

const IPCONFIG_FORMAT: Record<string, PropKeySpec> = {
  ip: { type: 'string', optional: true, pattern: /dhcp|\d+\.\d+\.\d+\.\d+\/\d+/ },
  gw: { type: 'string', optional: true, pattern: /\d+\.\d+\.\d+\.\d+/ },
  ip6: { type: 'string', optional: true, pattern: /dhcp|auto|[0-9a-fA-F:]+\/\d+/ },
  gw6: { type: 'string', optional: true, pattern: /[0-9a-fA-F:]+/ },
};

const AGENT_FORMAT: Record<string, PropKeySpec> = {
  enabled: { type: 'boolean', defaultKey: true },
  fstrim_cloned_disks: bool,
  'freeze-fs-on-backup': bool,
  type: { type: 'string', optional: true, enum: ['virtio', 'isa'] },
};

/** Built-in CPU models of PVE 8 (custom models carry the custom- prefix). */
const CPU_MODELS = new Set(
  (
    'host max kvm32 kvm64 qemu32 qemu64 x86-64-v2 x86-64-v2-AES x86-64-v3 x86-64-v4 486 pentium pentium2 pentium3 ' +
    'coreduo core2duo athlon phenom Conroe Penryn Nehalem Nehalem-IBRS Westmere Westmere-IBRS SandyBridge ' +
    'SandyBridge-IBRS IvyBridge IvyBridge-IBRS Haswell Haswell-IBRS Haswell-noTSX Haswell-noTSX-IBRS Broadwell ' +
    'Broadwell-IBRS Broadwell-noTSX Broadwell-noTSX-IBRS Skylake-Client Skylake-Client-IBRS Skylake-Client-noTSX-IBRS ' +
    'Skylake-Client-v4 Skylake-Server Skylake-Server-IBRS Skylake-Server-noTSX-IBRS Skylake-Server-v4 Skylake-Server-v5 ' +
    'Cascadelake-Server Cascadelake-Server-noTSX Cascadelake-Server-v2 Cascadelake-Server-v4 Cascadelake-Server-v5 ' +
    'Cooperlake Cooperlake-v2 Icelake-Client Icelake-Client-noTSX Icelake-Server Icelake-Server-noTSX ' +
    'Icelake-Server-v3 Icelake-Server-v4 Icelake-Server-v5 Icelake-Server-v6 SapphireRapids SapphireRapids-v2 ' +
    'GraniteRapids KnightsMill Opteron_G1 Opteron_G2 Opteron_G3 Opteron_G4 Opteron_G5 EPYC EPYC-IBPB EPYC-v3 EPYC-v4 ' +
    'EPYC-Rome EPYC-Rome-v2 EPYC-Rome-v3 EPYC-Rome-v4 EPYC-Milan EPYC-Milan-v2 EPYC-Genoa'
  ).split(' '),
);

const CPU_FORMAT: Record<string, PropKeySpec> = {
  cputype: {
    type: 'string',
    defaultKey: true,
    format: (v) =>
      CPU_MODELS.has(v) || /^custom-[\w.-]+$/.test(v)
        ? undefined
        : `Built-in cputype '${v}' is not defined (missing 'custom-' prefix?)`,
  },
  flags: { type: 'string', optional: true, pattern: /[+-][a-zA-Z0-9\-_.]+(;[+-][a-zA-Z0-9\-_.]+)*/ },
  hidden: bool,
  'hv-vendor-id': { type: 'string', optional: true, pattern: /[a-zA-Z0-9]{1,12}/ },
  'phys-bits': { type: 'string', optional: true, pattern: /host|\d+/ },
  'reported-model': str,
};

const BOOT_FORMAT: Record<string, PropKeySpec> = {
  legacy: { type: 'string', optional: true, pattern: /[acdn]{1,4}/, defaultKey: true },
  order: { type: 'string', optional: true, pattern: /[a-z]+\d+(;[a-z]+\d+)*/ },
};

const VGA_FORMAT: Record<string, PropKeySpec> = {
  type: {
    type: 'string',
    optional: true,
    defaultKey: true,
    enum: [
      'cirrus',
      'qxl',
      'qxl2',
      'qxl3',
      'qxl4',
      'none',
      'serial0',
      'serial1',
      'serial2',
      'serial3',
      'std',
      'virtio',
      'virtio-gl',
      'vmware',
    ],
  },
  memory: int(4, 512),
  clipboard: { type: 'string', optional: true, enum: ['vnc'] },
};

const MEMORY_FORMAT: Record<string, PropKeySpec> = { current: { type: 'integer', minimum: 16, defaultKey: true } };

const DISK_BUSES: Record<string, number> = { ide: 4, sata: 6, scsi: 31, virtio: 16 };
const INDEXED: Record<string, number> = {
  net: 32,
  ipconfig: 32,
  serial: 4,
  unused: 256,
  usb: 5,
  hostpci: 16,
  numa: 8,
  parallel: 3,
  ...DISK_BUSES,
};

/** Config keys that name a drive (a volume on a storage). */
export const DISK_KEY = /^(scsi|virtio|sata|ide|efidisk|tpmstate|unused)\d+$/;

function driveFormat(): ParamSpec['format'] {
  return (value, path) => {
    try {
      const drive = parsePropertyString(DRIVE_COMMON, value, path);
      if (!drive.file) throw new FormatError(`format error\n${path}.file: property is missing and it is not optional`);
      return undefined;
    } catch (error) {
      if (error instanceof FormatError) return error.message;
      throw error;
    }
  };
}

const URLENCODED = /^[-%a-zA-Z0-9_.!~*'()]*$/;

/** The fixed (not indexed) keys of a VM config. */
const FIXED: Record<string, ParamSpec> = {
  acpi: bool,
  affinity: str,
  agent: { ...str, format: propertyString(AGENT_FORMAT) },
  arch: { type: 'string', optional: true, enum: ['x86_64', 'aarch64'] },
  args: str,
  audio0: str,
  autostart: bool,
  balloon: int(0),
  bios: { type: 'string', optional: true, enum: ['seabios', 'ovmf'] },
  boot: { ...str, format: propertyString(BOOT_FORMAT) },
  bootdisk: { type: 'string', optional: true, pattern: /(ide|sata|scsi|virtio)\d+/ },
  cdrom: { ...str, format: driveFormat() },
  cicustom: str,
  cipassword: str,
  citype: { type: 'string', optional: true, enum: ['configdrive2', 'nocloud', 'opennebula'] },
  ciupgrade: bool,
  ciuser: str,
  cores: int(1),
  cpu: { ...str, format: propertyString(CPU_FORMAT) },
  cpulimit: { type: 'number', optional: true, minimum: 0, maximum: 128 },
  cpuunits: int(1, 262144),
  description: { type: 'string', optional: true, maxLength: 8192 },
  efidisk0: { ...str, format: driveFormat() },
  freeze: bool,
  hookscript: str,
  hotplug: str,
  hugepages: { type: 'string', optional: true, enum: ['any', '2', '1024'] },
  ivshmem: str,
  keephugepages: bool,
  keyboard: str,
  kvm: bool,
  localtime: bool,
  lock: {
    type: 'string',
    optional: true,
    enum: [
      'backup',
      'clone',
      'create',
      'migrate',
      'rollback',
      'snapshot',
      'snapshot-delete',
      'suspending',
      'suspended',
    ],
  },
  machine: str,
  memory: { ...str, format: propertyString(MEMORY_FORMAT) },
  migrate_downtime: { type: 'number', optional: true, minimum: 0 },
  migrate_speed: int(0),
  name: { ...str, format: (v) => (DNS_NAME_RE.test(v) ? undefined : 'value does not look like a valid DNS name') },
  nameserver: str,
  numa: bool,
  onboot: bool,
  ostype: {
    type: 'string',
    optional: true,
    enum: ['other', 'wxp', 'w2k', 'w2k3', 'w2k8', 'wvista', 'win7', 'win8', 'win10', 'win11', 'l24', 'l26', 'solaris'],
  },
  protection: bool,
  reboot: bool,
  rng0: str,
  scsihw: {
    type: 'string',
    optional: true,
    enum: ['lsi', 'lsi53c810', 'virtio-scsi-pci', 'virtio-scsi-single', 'megasas', 'pvscsi'],
  },
  searchdomain: str,
  shares: int(0, 50000),
  smbios1: { type: 'string', optional: true, maxLength: 512 },
  smp: int(1),
  sockets: int(1),
  spice_enhancements: str,
  sshkeys: {
    ...str,
    format: (v) => {
      if (!URLENCODED.test(v)) return `invalid urlencoded string: ${v}`;
      return undefined;
    },
  },
  startdate: { type: 'string', optional: true, pattern: /(now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?)/ },
  startup: str,
  tablet: bool,
  tags: {
    ...str,
    format: (v) =>
      v.split(/[;, ]+/).every((t) => t === '' || /^[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*$/.test(t))
        ? undefined
        : 'invalid characters in tag',
  },
  tdf: bool,
  template: bool,
  tpmstate0: { ...str, format: driveFormat() },
  vcpus: int(1),
  vga: { ...str, format: propertyString(VGA_FORMAT) },
  vmgenid: str,
  vmstatestorage: { ...storageId, optional: true },
  watchdog: str,
};

/** The spec of one config key, or undefined when PVE does not know it. */
export function qemuKeySpec(key: string): ParamSpec | undefined {
  if (key in FIXED) return FIXED[key];
  const m = /^([a-z]+)(\d+)$/.exec(key);
  if (!m || !(m[1] in INDEXED) || Number(m[2]) >= INDEXED[m[1]] || /^0\d/.test(m[2])) return undefined;
  const bus = m[1];
  if (bus === 'net') return { ...str, format: propertyString(NET_FORMAT) };
  if (bus === 'ipconfig') return { ...str, format: propertyString(IPCONFIG_FORMAT) };
  if (bus === 'serial') {
    return { type: 'string', optional: true, pattern: /(\/dev\/.+|socket)/ };
  }
  if (bus in DISK_BUSES || bus === 'unused') return { ...str, format: driveFormat() };
  return str;
}

/** The schema of POST/PUT …/config besides the config keys. */
export const CONFIG_CONTROL: Record<string, ParamSpec> = {
  delete: { ...configIdList, optional: true },
  revert: { ...configIdList, optional: true },
  digest: { type: 'string', optional: true, maxLength: 40 },
  skiplock: bool,
  force: bool,
};

export function parseNet(value: string): Record<string, string> {
  return parsePropertyString(NET_FORMAT, value, 'net');
}

/** A NIC as PVE writes it back: `model=MAC` first, then the other options; a NIC without a MAC gets one. */
export function printNet(net: Record<string, string>, mac: () => string): string {
  const { model, macaddr, ...rest } = net;
  for (const m of NIC_MODELS) delete rest[m];
  const address = (net[model] ?? macaddr ?? mac()).toUpperCase();
  return [`${model}=${address}`, ...Object.entries(rest).map(([k, v]) => `${k}=${v}`)].join(',');
}

export function parseDrive(value: string): Record<string, string> {
  return parsePropertyString(DRIVE_COMMON, value, 'drive');
}

export function printDrive(drive: Record<string, string>): string {
  const { file, ...rest } = drive;
  return [file, ...Object.entries(rest).map(([k, v]) => `${k}=${v}`)].join(',');
}

export function isCdrom(drive: Record<string, string>): boolean {
  return drive.media === 'cdrom' || drive.file === 'cdrom';
}

/** The privilege PVE checks before a config key changes (check_vm_modify_config_perm). */
export function configPrivileges(key: string): string[] {
  if (/^(cores|cpu|cpulimit|cpuunits|numa\d*|smp|sockets|vcpus|affinity)$/.test(key)) return ['VM.Config.CPU'];
  if (/^(memory|balloon|shares)$/.test(key)) return ['VM.Config.Memory'];
  if (/^(acpi|hotplug|kvm|machine|scsihw|smbios1|tablet|vga|watchdog|audio0|serial\d+|usb\d+)$/.test(key)) {
    return ['VM.Config.HWType'];
  }
  if (/^(net|ipconfig)\d+$/.test(key)) return ['VM.Config.Network'];
  if (/^(cicustom|cipassword|citype|ciuser|nameserver|searchdomain|sshkeys|ciupgrade)$/.test(key)) {
    return ['VM.Config.Cloudinit', 'VM.Config.Network'];
  }
  if (DISK_KEY.test(key) || /^(boot|bootdisk|vmstatestorage|cdrom)$/.test(key)) {
    return ['VM.Config.Disk', 'VM.Config.CDROM'];
  }
  if (key === 'freeze') return ['VM.PowerMgmt'];
  return ['VM.Config.Options'];
}

/**
 * Keys a running VM takes at once (PVE's default hotplug "network,disk,usb" and the options it changes without a
 * restart); anything else waits in the pending section until the next start.
 */
export function hotpluggable(key: string): boolean {
  return (
    DISK_KEY.test(key) ||
    /^(net|ipconfig|usb)\d+$/.test(key) ||
    /^(name|description|tags|onboot|protection|startup|hotplug|hookscript|vmstatestorage|lock|shares|boot|agent)$/.test(
      key,
    ) ||
    /^(cicustom|cipassword|citype|ciuser|nameserver|searchdomain|sshkeys|ciupgrade)$/.test(key)
  );
}
