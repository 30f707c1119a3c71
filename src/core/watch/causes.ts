// Reads the cause of a failed build out of its output: the messages Occlum's build tools print
// (spec 2.6) and the runtime messages that point at a config change (spec 3.3), each mapped to
// the Occlum.json field to edit. Semantic config errors are printed while the build carries on
// and fails later at signing, so the first known message wins over the last error line.
import type { JsonPath } from '../config/types.ts';
import type { FailureCause } from './types.ts';

interface Rule {
  re: RegExp;
  stage: FailureCause['stage'];
  path: (m: RegExpMatchArray) => JsonPath | undefined;
  message: (m: RegExpMatchArray) => string;
  hint?: (m: RegExpMatchArray) => string;
}

const SIZE_KEYS: Record<string, JsonPath> = {
  kernel_space_stack_size: ['resource_limits', 'kernel_space_stack_size'],
  kernel_space_heap_size: ['resource_limits', 'kernel_space_heap_size'],
  kernel_space_heap_max_size: ['resource_limits', 'kernel_space_heap_max_size'],
  user_space_size: ['resource_limits', 'user_space_size'],
  user_space_max_size: ['resource_limits', 'user_space_max_size'],
  marshal_buffer_size: ['resource_limits', 'marshal_buffer_size'],
  default_stack_size: ['process', 'default_stack_size'],
  default_heap_size: ['process', 'default_heap_size'],
  default_mmap_size: ['process', 'default_mmap_size'],
};

/** serde texts inside gen_internal_conf's panic name the field only sometimes: "missing field `x`". */
const TOP_LEVEL_FIELDS: Record<string, JsonPath> = {
  ...SIZE_KEYS,
  max_num_of_threads: ['resource_limits', 'max_num_of_threads'],
  init_num_of_threads: ['resource_limits', 'init_num_of_threads'],
  resource_limits: ['resource_limits'],
  process: ['process'],
  entry_points: ['entry_points'],
  env: ['env'],
  default: ['env', 'default'],
  untrusted: ['env', 'untrusted'],
  metadata: ['metadata'],
  product_id: ['metadata', 'product_id'],
  version_number: ['metadata', 'version_number'],
  debuggable: ['metadata', 'debuggable'],
  enable_kss: ['metadata', 'enable_kss'],
  family_id: ['metadata', 'family_id'],
  ext_prod_id: ['metadata', 'ext_prod_id'],
  feature: ['feature'],
  amx: ['feature', 'amx'],
  pkru: ['feature', 'pkru'],
  io_uring: ['feature', 'io_uring'],
  enable_edmm: ['feature', 'enable_edmm'],
  enable_posix_shm: ['feature', 'enable_posix_shm'],
  mount: ['mount'],
};

const RULES: Rule[] = [
  {
    re: /init_num_of_threads: Some\((\d+)\), max_num_of_threads: (\d+), wrong configuration/,
    stage: 'config',
    path: () => ['resource_limits', 'init_num_of_threads'],
    message: (m) => `init_num_of_threads (${m[1]}) is larger than max_num_of_threads (${m[2]})`,
    hint: (m) => `lower resource_limits.init_num_of_threads to at most ${m[2]}, or raise max_num_of_threads`,
  },
  {
    re: /kernel_space_heap_size: "([^"]*)", kernel_space_heap_max_size: Some\("([^"]*)"\), wrong configuration/,
    stage: 'config',
    path: () => ['resource_limits', 'kernel_space_heap_size'],
    message: (m) => `kernel_space_heap_size (${m[1]}) is above kernel_space_heap_max_size (${m[2]})`,
    hint: () => 'make kernel_space_heap_size at most kernel_space_heap_max_size',
  },
  {
    re: /user_space_size: "([^"]*)", user_space_max_size: Some\("([^"]*)"\), wrong configuration/,
    stage: 'config',
    path: () => ['resource_limits', 'user_space_size'],
    message: (m) => `user_space_size (${m[1]}) is above user_space_max_size (${m[2]})`,
    hint: () => 'make user_space_size at most user_space_max_size',
  },
  {
    re: /The (\w+) "([^"]*)" is not correct\./,
    stage: 'config',
    path: (m) => SIZE_KEYS[m[1]!] ?? (m[1] === 'cache_size' || m[1] === 'disk_size' ? ['mount'] : undefined),
    message: (m) => `${m[1]} "${m[2]}" is not a valid size`,
    hint: () => 'write a size as a number with a unit, e.g. "32MB" (units: KB, MB, GB, TB), page aligned',
  },
  {
    re: /Invalid cache_size/,
    stage: 'config',
    path: () => ['mount'],
    message: () => 'a mount has an invalid cache_size',
    hint: () => 'fix options.cache_size of the sefs/unionfs mount',
  },
  {
    re: /The disk_size must be specified for Ext2\./,
    stage: 'config',
    path: () => ['mount'],
    message: () => 'the ext2 mount has no disk_size',
    hint: () => 'add options.disk_size (at least "5GB") to the ext2 mount',
  },
  {
    re: /The disk_size "([^"]*)" is too small, minimum size is "(\d+)"\./,
    stage: 'config',
    path: () => ['mount'],
    message: (m) => `the ext2 mount's disk_size "${m[1]}" is below the minimum of ${m[2]} bytes`,
    hint: () => 'raise options.disk_size of the ext2 mount to at least "5GB"',
  },
  {
    re: /Mount configuration invalid: Err\("(.*)"\)/,
    stage: 'config',
    path: () => ['mount'],
    message: (m) => `invalid mount configuration: ${m[1]}`,
  },
  {
    re: /missing field `(\w+)`/,
    stage: 'config',
    path: (m) => TOP_LEVEL_FIELDS[m[1]!],
    message: (m) => `Occlum.json lacks the required field "${m[1]}"`,
    hint: (m) => `add "${m[1]}" (the Config pane offers the template value)`,
  },
  {
    re: /It is not a valid Occlum configuration file\.: Error\("(.*)", line: (\d+), column: (\d+)\)/,
    stage: 'config',
    path: () => undefined,
    message: (m) => `Occlum.json is not valid at line ${m[2]}, column ${m[3]}: ${m[1]}`,
  },
  {
    re: /The value of "ProdID" is out of range\./,
    stage: 'config',
    path: () => ['metadata', 'product_id'],
    message: () => 'metadata.product_id is out of range',
    hint: () => 'use a value from 0 to 65535',
  },
  {
    re: /Maximum number of TCS is not correct\./,
    stage: 'config',
    path: () => ['resource_limits', 'max_num_of_threads'],
    message: () => 'the thread (TCS) count is not valid',
    hint: () => 'set resource_limits.max_num_of_threads to at least 1',
  },
  {
    re: /program path is NOT a valid entry point|program path must be absolute/,
    stage: 'config',
    path: () => ['entry_points'],
    message: (m) => m[0]!,
    hint: () => 'fix the command path, or add its directory to entry_points',
  },
  {
    re: /Error = ENOMEM \(#12, Out of memory\)|run out of reserved memory|failed to create process VM|can't allocate free chunks/,
    stage: 'build',
    path: () => ['resource_limits', 'user_space_size'],
    message: () => 'the enclave ran out of user-space memory',
    hint: () => 'raise resource_limits.user_space_size (or user_space_max_size)',
  },
  {
    re: /New brk address is too high/,
    stage: 'build',
    path: () => ['process', 'default_heap_size'],
    message: () => 'a process outgrew its brk heap',
    hint: () => 'raise process.default_heap_size',
  },
  {
    re: /memory allocation of \d+ bytes failed|Cannot allocate memory \(os error: 12\)/,
    stage: 'build',
    path: () => ['resource_limits', 'kernel_space_heap_size'],
    message: () => 'the LibOS kernel heap is exhausted',
    hint: () => 'raise resource_limits.kernel_space_heap_size',
  },
  {
    re: /error code 0x1003|Out of TCS/,
    stage: 'build',
    path: () => ['resource_limits', 'max_num_of_threads'],
    message: () => 'the enclave ran out of threads (TCS)',
    hint: () => 'raise resource_limits.max_num_of_threads',
  },
  {
    re: /error code 0x1009/,
    stage: 'build',
    path: () => ['resource_limits', 'kernel_space_stack_size'],
    message: () => 'an enclave stack overran',
    hint: () => 'raise resource_limits.kernel_space_stack_size',
  },
];

/** The first known cause in the output, or null. */
export function causeFromOutput(lines: readonly string[]): FailureCause | null {
  for (const line of lines) {
    for (const rule of RULES) {
      const m = line.match(rule.re);
      if (!m) continue;
      const cause: FailureCause = { stage: rule.stage, message: rule.message(m), line: line.trim() };
      const path = rule.path(m);
      if (path) cause.configPath = path;
      const hint = rule.hint?.(m);
      if (hint) cause.hint = hint;
      return cause;
    }
  }
  return null;
}

/** A cause for a failed build: a known message if any, else the last error-looking line. */
export function explainFailure(lines: readonly string[], fallback: string | undefined): FailureCause {
  const known = causeFromOutput(lines);
  if (known) return known;
  const errorLine = [...lines].reverse().find((l) => /error|failed|cannot|not /i.test(l));
  return {
    stage: 'build',
    message: fallback ?? errorLine?.trim() ?? 'the build failed without saying why',
    ...(errorLine ? { line: errorLine.trim() } : {}),
  };
}
