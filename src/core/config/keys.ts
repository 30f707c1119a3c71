// The key table of Occlum.json (spec 2.3, 2.4, 2.7): type, versions that read each key, which
// versions require it, template value and help text. Validation, the JSON Schema and the
// Config pane's key help are all generated from this one table.
import { inRange, type VersionId } from './versions.ts';

export type KeyType = 'object' | 'size' | 'u32' | 'bool' | 'string' | 'strings' | 'hex' | 'mounts';

export interface KeySpec {
  /** Dotted path from the root; `mount[]` entries are described separately (MOUNT_KEYS). */
  path: string;
  type: KeyType;
  /** First / last version bucket that reads the key (undefined = always). */
  since?: VersionId;
  until?: VersionId;
  /** Versions in which the build fails without the key. */
  requiredSince?: VersionId;
  requiredUntil?: VersionId;
  min?: number;
  max?: number;
  /** A different JSON type in old versions (env was a plain list up to 0.12.0). */
  legacyType?: { until: VersionId; type: KeyType };
  /** What `occlum init` of the newest version that knows the key writes. */
  template?: unknown;
  help: string;
}

const KSS_ID = { high: '0x0', low: '0x0' };

export const KEYS: KeySpec[] = [
  {
    path: 'resource_limits',
    type: 'object',
    requiredSince: '0.13',
    template: {
      kernel_space_heap_size: '32MB',
      kernel_space_stack_size: '1MB',
      user_space_size: '300MB',
      max_num_of_threads: 32,
    },
    help: 'Enclave memory and thread limits (become Enclave.xml values).',
  },
  {
    path: 'resource_limits.kernel_space_heap_size',
    type: 'size',
    requiredSince: '0.13',
    template: '32MB',
    help: 'LibOS kernel heap. non-EDMM: the static heap size (ignored if kernel_space_heap_max_size is set); EDMM: initial heap. RamFS, SEFS caches and other kernel data live here; "memory allocation of N bytes failed" or SGX protected file EIO "Cannot allocate memory" mean it is too small. Page aligned.',
  },
  {
    path: 'resource_limits.kernel_space_heap_max_size',
    type: 'size',
    since: '0.29.4',
    help: 'non-EDMM: replaces kernel_space_heap_size (static heap = this value); EDMM: heap max = max(this, 1024MB). Page aligned.',
  },
  {
    path: 'resource_limits.kernel_space_stack_size',
    type: 'size',
    requiredSince: '0.13',
    template: '1MB',
    help: 'Per-TCS kernel stack (Enclave.xml StackMaxSize = StackMinSize). At least 8KB, page aligned.',
  },
  {
    path: 'resource_limits.user_space_size',
    type: 'size',
    requiredSince: '0.21',
    template: '300MB',
    help: 'Total enclave memory for user processes (SDK reserved memory). non-EDMM: static size; EDMM: initial committed size. Page aligned.',
  },
  {
    path: 'resource_limits.user_space_max_size',
    type: 'size',
    since: '0.30.0',
    help: 'non-EDMM: replaces user_space_size; EDMM: max = max(this, 16GB). Must not be smaller than user_space_size. Page aligned.',
  },
  {
    path: 'resource_limits.max_num_of_threads',
    type: 'u32',
    requiredSince: '0.13',
    min: 1,
    template: 32,
    help: 'Number of TCS = maximum LibOS threads of all processes together. At least 1. EDMM: TCSMaxNum = max(this, 4096).',
  },
  {
    path: 'resource_limits.init_num_of_threads',
    type: 'u32',
    since: '0.30.0',
    min: 1,
    help: 'EDMM only: initial TCS count (default min(16, max_num_of_threads)); must not exceed max_num_of_threads; ignored without EDMM.',
  },
  {
    path: 'resource_limits.marshal_buffer_size',
    type: 'size',
    help: 'Only used by HYPER-mode builds (ms_buffer feature); default 1MB.',
  },
  {
    path: 'vm',
    type: 'object',
    until: '0.17',
    requiredSince: '0.12',
    requiredUntil: '0.12',
    help: 'Occlum ≤ 0.20: held user_space_size; moved to resource_limits.user_space_size in 0.21.',
  },
  {
    path: 'vm.user_space_size',
    type: 'size',
    until: '0.17',
    requiredSince: '0.12',
    requiredUntil: '0.12',
    help: 'Occlum ≤ 0.20 name of resource_limits.user_space_size.',
  },
  {
    path: 'process',
    type: 'object',
    requiredSince: '0.12',
    template: { default_stack_size: '4MB', default_heap_size: '32MB', default_mmap_size: '100MB' },
    help: 'Per-process defaults; all three keys are required by the build tool.',
  },
  {
    path: 'process.default_stack_size',
    type: 'size',
    requiredSince: '0.12',
    template: '4MB',
    help: 'Main-thread stack of each process (LibOS default 8MB).',
  },
  {
    path: 'process.default_heap_size',
    type: 'size',
    requiredSince: '0.12',
    template: '32MB',
    help: 'brk heap of each process (LibOS default 16MB).',
  },
  {
    path: 'process.default_mmap_size',
    type: 'size',
    requiredSince: '0.12',
    template: '100MB',
    help: 'Documented as obsolete but still required and parsed at boot; no longer reserves memory, only adds to the default RLIMIT_AS (heap + stack + mmap).',
  },
  {
    path: 'entry_points',
    type: 'strings',
    // 0.7 – 0.12 read it with python's json.load(...)['entry_points']: no key, no valid config.
    requiredSince: '0.12',
    template: ['/bin'],
    help: 'Absolute path prefixes allowed for `occlum run/exec <path>`, matched component-wise (/bin matches /bin/x, not /binary). Relative paths make the enclave panic at boot ("entry point must be an absolute path").',
  },
  {
    path: 'env',
    type: 'object',
    requiredSince: '0.12',
    template: { default: ['OCCLUM=yes'], untrusted: [] },
    legacyType: { until: '0.12', type: 'strings' },
    help: 'Environment of root processes: must contain both `default` and `untrusted` and nothing else (the LibOS rejects other keys; an empty {} builds but panics at boot).',
  },
  {
    path: 'env.default',
    type: 'strings',
    requiredSince: '0.12.1',
    template: ['OCCLUM=yes'],
    help: 'Trusted "KEY=VALUE" entries for every root process; part of the measured config.',
  },
  {
    path: 'env.untrusted',
    type: 'strings',
    requiredSince: '0.12.1',
    template: ['EXAMPLE'],
    help: 'Names of host environment variables (of `occlum run`, or of the `occlum exec` client) passed in; they override a `default` entry with the same key. Every other host variable is dropped.',
  },
  {
    path: 'metadata',
    type: 'object',
    requiredSince: '0.13',
    template: {
      product_id: 0,
      version_number: 0,
      debuggable: true,
      enable_kss: false,
      family_id: KSS_ID,
      ext_prod_id: KSS_ID,
    },
    help: 'Enclave identity and debug settings (Enclave.xml ProdID, ISVSVN, DisableDebug, KSS).',
  },
  {
    path: 'metadata.product_id',
    type: 'u32',
    requiredSince: '0.13',
    max: 65535,
    template: 0,
    help: 'ISVPRODID, 0..65535 (sgx_sign: The value of "ProdID" is out of range.).',
  },
  {
    path: 'metadata.version_number',
    type: 'u32',
    requiredSince: '0.13',
    max: 65535,
    template: 0,
    help: 'ISVSVN, 0..65535.',
  },
  {
    path: 'metadata.debuggable',
    type: 'bool',
    requiredSince: '0.13',
    template: true,
    help: "DisableDebug = !debuggable. false makes `occlum run` create a release enclave, which needs a signing key the platform accepts for production enclaves. Never ship true: a debug enclave's memory can be read by the host.",
  },
  {
    path: 'metadata.disable_log',
    type: 'bool',
    since: '0.30.1',
    help: 'Default: false if debuggable, true if not. true forces LibOS logging off.',
  },
  {
    path: 'metadata.enable_kss',
    type: 'bool',
    since: '0.26.3',
    requiredSince: '0.26.3',
    template: false,
    help: 'Key Separation & Sharing; when true, family_id and ext_prod_id are used and `occlum run/start --config-id/--config-svn` apply.',
  },
  {
    path: 'metadata.family_id',
    type: 'object',
    since: '0.26.3',
    requiredSince: '0.26.3',
    template: KSS_ID,
    help: 'ISVFAMILYID as {high, low} 64-bit hex strings; parsed only when enable_kss is true.',
  },
  {
    path: 'metadata.family_id.high',
    type: 'hex',
    since: '0.26.3',
    requiredSince: '0.26.3',
    template: '0x0',
    help: 'High 64 bits of ISVFAMILYID, hex (optional 0x).',
  },
  {
    path: 'metadata.family_id.low',
    type: 'hex',
    since: '0.26.3',
    requiredSince: '0.26.3',
    template: '0x0',
    help: 'Low 64 bits of ISVFAMILYID, hex (optional 0x).',
  },
  {
    path: 'metadata.ext_prod_id',
    type: 'object',
    since: '0.26.3',
    requiredSince: '0.26.3',
    template: KSS_ID,
    help: 'ISVEXTPRODID as {high, low} 64-bit hex strings; parsed only when enable_kss is true.',
  },
  {
    path: 'metadata.ext_prod_id.high',
    type: 'hex',
    since: '0.26.3',
    requiredSince: '0.26.3',
    template: '0x0',
    help: 'High 64 bits of ISVEXTPRODID, hex (optional 0x).',
  },
  {
    path: 'metadata.ext_prod_id.low',
    type: 'hex',
    since: '0.26.3',
    requiredSince: '0.26.3',
    template: '0x0',
    help: 'Low 64 bits of ISVEXTPRODID, hex (optional 0x).',
  },
  {
    path: 'metadata.pkru',
    type: 'u32',
    since: '0.28',
    until: '0.30.0',
    requiredSince: '0.28',
    requiredUntil: '0.28',
    max: 2,
    template: 0,
    help: 'Occlum 0.28 – 0.30.0: PKU isolation (0 off, 1 on, 2 loader decides). Moved to feature.pkru in 0.30.1.',
  },
  {
    path: 'metadata.amx',
    type: 'u32',
    since: '0.30.0',
    until: '0.30.0',
    max: 2,
    template: 0,
    help: 'Occlum 0.30.0 only: AMX (0 off, 1 on, 2 loader decides). Moved to feature.amx in 0.30.1.',
  },
  {
    path: 'feature',
    type: 'object',
    since: '0.30.1',
    requiredSince: '0.30.1',
    template: { amx: 0, pkru: 0, io_uring: 0, enable_edmm: false, enable_posix_shm: false },
    help: 'Optional enclave features. The key itself is required since 0.30.1 (all members optional).',
  },
  {
    path: 'feature.amx',
    type: 'u32',
    since: '0.30.1',
    max: 2,
    template: 0,
    help: 'AMX: 0 must be off, 1 must be on, 2 the loader decides.',
  },
  {
    path: 'feature.pkru',
    type: 'u32',
    since: '0.30.1',
    max: 2,
    template: 0,
    help: 'PKU isolation between LibOS and user code: 0 off, 1 on, 2 the loader decides.',
  },
  {
    path: 'feature.io_uring',
    type: 'u32',
    since: '0.31.0',
    max: 16,
    template: 0,
    help: '0 = network I/O via OCALLs; n = n io_uring instances (at most 16, else the LibOS asserts "io_uring limit must not exceed 16").',
  },
  {
    path: 'feature.enable_edmm',
    type: 'bool',
    since: '0.30.1',
    template: false,
    help: 'SGX2 EDMM (dynamic enclave memory); same effect as ENABLE_EDMM=Y at build.',
  },
  {
    path: 'feature.enable_posix_shm',
    type: 'bool',
    since: '0.30.1',
    template: false,
    help: 'POSIX shared memory / shared file mappings.',
  },
  {
    path: 'mount',
    type: 'mounts',
    // ≤ 0.16 never read it; gen_internal_conf (0.17) requires the key but ignores its value until 0.21.
    requiredSince: '0.17',
    help: 'File systems of the app stage: the root unionfs (image layer + container layer) plus any hostfs/sefs/ramfs/ext2 mounts.',
  },
];

/** Keys of a mount entry and of its options (spec 2.4). */
export const MOUNT_KEYS: KeySpec[] = [
  {
    path: 'type',
    type: 'string',
    requiredSince: '0.12',
    help: 'File system: sefs, hostfs, ramfs, unionfs, devfs, procfs, ext2 (0.31.0).',
  },
  {
    path: 'target',
    type: 'string',
    requiredSince: '0.12',
    help: 'Absolute mount point inside the enclave; the directory must exist in image/.',
  },
  {
    path: 'source',
    type: 'string',
    help: 'Host path (relative paths resolve against the instance dir). Required for hostfs and non-root sefs; for ext2 where SwornDisk stores its data.',
  },
  {
    path: 'options',
    type: 'object',
    help: 'Mount options: MAC, layers, temporary, cache_size, disk_size. Other keys are dropped by the build.',
  },
  {
    path: 'options.MAC',
    type: 'string',
    since: '0.21',
    help: 'Marks an integrity-only SEFS image. In the root image layer the value is irrelevant (the build fills in the image MAC, conventionally ""); elsewhere a real xx-xx-…-xx MAC (16 hex bytes).',
  },
  {
    path: 'options.layers',
    type: 'mounts',
    help: 'unionfs layers: [0] the image layer (sefs with MAC), [1] the writable container layer (sefs).',
  },
  {
    path: 'options.temporary',
    type: 'bool',
    help: 'SEFS only: recreate empty at each boot. Not allowed together with MAC.',
  },
  {
    path: 'options.cache_size',
    type: 'size',
    since: '0.29.5',
    help: 'SEFS cache: ≥ 192KB, multiple of 4KB, below the kernel heap max.',
  },
  {
    path: 'options.disk_size',
    type: 'size',
    since: '0.31.0',
    help: 'ext2 only, required: size of the SwornDisk, at least 5GB.',
  },
  {
    path: 'options.integrity_only',
    type: 'bool',
    until: '0.17',
    help: 'Occlum ≤ 0.20: integrity-only SEFS. Replaced by the MAC option in 0.21.',
  },
];

export const FS_TYPES = ['sefs', 'hostfs', 'ramfs', 'unionfs', 'devfs', 'procfs', 'ext2'] as const;

const byPath = new Map(KEYS.map((k) => [k.path, k]));
const mountByPath = new Map(MOUNT_KEYS.map((k) => [k.path, k]));

export function keySpec(path: string): KeySpec | undefined {
  return byPath.get(path);
}

export function mountKeySpec(path: string): KeySpec | undefined {
  return mountByPath.get(path);
}

/** The JSON type a version expects for a key. */
export function typeAt(spec: KeySpec, v: VersionId): KeyType {
  return spec.legacyType && inRange(v, undefined, spec.legacyType.until) ? spec.legacyType.type : spec.type;
}

export function isKnown(spec: KeySpec, v: VersionId): boolean {
  return inRange(v, spec.since, spec.until);
}

export function isRequired(spec: KeySpec, v: VersionId): boolean {
  return spec.requiredSince !== undefined && inRange(v, spec.requiredSince, spec.requiredUntil) && isKnown(spec, v);
}

/** Child keys of an object path (e.g. 'metadata' → its members), from a table. */
export function childrenOf(table: KeySpec[], parent: string): KeySpec[] {
  const prefix = parent === '' ? '' : `${parent}.`;
  return table.filter(
    (k) => k.path.startsWith(prefix) && !k.path.slice(prefix.length).includes('.') && k.path !== parent,
  );
}

/**
 * Help for a JSON path as the pane shows it: `mount[3].options.cache_size` → the mount table.
 */
export function helpFor(path: (string | number)[]): KeySpec | undefined {
  const lastMount = path.lastIndexOf('mount') === 0 ? 0 : -1;
  if (lastMount === 0 && path.length > 1) {
    // Strip mount[i] and any options.layers[j] prefixes.
    let rest = path.slice(2);
    while (rest[0] === 'options' && rest[1] === 'layers' && typeof rest[2] === 'number') rest = rest.slice(3);
    if (rest.length === 0)
      return { path: 'mount[]', type: 'object', help: 'One mount: type, target, source, options.' };
    if (rest[0] === 'options' && rest[1] === 'layers' && rest.length === 2) return mountByPath.get('options.layers');
    return mountByPath.get(rest.filter((s) => typeof s === 'string').join('.'));
  }
  return byPath.get(path.filter((s) => typeof s === 'string').join('.'));
}
