// Measurements → every sizing field of Occlum.json for one Occlum version. Each rule and where
// it comes from is in docs/sizing.md; the sources are Occlum's docs/resource_config_guide.md,
// the key semantics of spec 2.3 / 2.6 (what becomes Enclave.xml) and what the host measured.
import { parse } from 'jsonc-parser';
import { atLeast, type VersionId } from '../config/versions.ts';
import { formatSize, MB, parseSize } from '../config/sizes.ts';
import { jvmDefaultHeap, jvmErgonomicHeap, occlumRlimitAs } from './jvm.ts';
import type { FieldRecommendation, Measurement, Recommendation, Verdict } from './types.ts';

/** Memory margin over the measured need; thread margin likewise (at least two spare). */
export const MEMORY_MARGIN = 1.25;
export const THREAD_MARGIN = 1.25;
/** A value this many times the recommendation (and TOO_LARGE_MIN_MB above it) is flagged. */
export const TOO_LARGE_FACTOR = 4;
const TOO_LARGE_MIN_BYTES = 64 * MB;
/** Floors: Occlum's own minimums are lower, but below these a tiny program's sizes are noise. */
const FLOOR = { stack: 1 * MB, heap: 1 * MB, mmap: 1 * MB, userSpace: 8 * MB };
/** Template values of fields the host cannot measure (etc/template/Occlum.json, 0.31.0). */
const TEMPLATE = { kernelHeap: 32 * MB, kernelStack: 1 * MB };

const ERR = {
  userSpace:
    'mmap fails: "[Mmap] Error = ENOMEM (#12, Out of memory): not enough memory", ' +
    'or spawning: "run out of reserved memory"',
  heap: 'brk fails: "New brk address is too high" (musl/glibc malloc then falls back to mmap, glibc may abort)',
  stack: 'the main thread overflows its stack: SIGSEGV',
  threads: 'thread or process creation fails: "Out of TCS" (SGX 0x1003; older Occlum: "Unknown SGX error")',
  kernelHeap: '"memory allocation of N bytes failed" or "SGX protected file I/O error: EIO … Cannot allocate memory"',
};

const roundUpMB = (bytes: number): number => Math.max(MB, Math.ceil(bytes / MB) * MB);
const withMargin = (bytes: number): number => roundUpMB(bytes * MEMORY_MARGIN);
const mb = (bytes: number): string =>
  bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;

type Config = Record<string, unknown>;

function valueAt(cfg: Config, path: string[]): unknown {
  let v: unknown = cfg;
  for (const k of path) v = v && typeof v === 'object' ? (v as Config)[k] : undefined;
  return v;
}

function sizeAt(cfg: Config, path: string[]): { raw: string | null; bytes: number | null } {
  const v = valueAt(cfg, path);
  if (typeof v !== 'string') return { raw: null, bytes: null };
  const r = parseSize(v);
  return { raw: v, bytes: r.ok ? r.bytes : null };
}

/** Whether the config runs with EDMM (0.30.1+: feature.enable_edmm; ENABLE_EDMM at build is not seen here). */
export function edmmOn(cfg: Config, version: VersionId): boolean {
  return atLeast(version, '0.30.1') && valueAt(cfg, ['feature', 'enable_edmm']) === true;
}

interface SizeRule {
  path: string[];
  need: number;
  rec: number;
  measured: string;
  margin: string;
  reason: string;
  tooSmall: string;
  /** EPC cost of a too-large value applies (non-EDMM static reservations). */
  costly: string | null;
  /** Keep the current value when it is at least the recommendation (unmeasured fields). */
  keepIfEnough?: boolean;
}

function sizeField(cfg: Config, r: SizeRule): FieldRecommendation {
  const cur = sizeAt(cfg, r.path);
  let verdict: Verdict = 'ok';
  let consequence: string | undefined;
  if (cur.raw === null) verdict = 'missing';
  else if (cur.bytes === null || cur.bytes < r.need) {
    verdict = 'too-small';
    consequence = r.tooSmall;
  } else if (r.costly && cur.bytes >= r.rec * TOO_LARGE_FACTOR && cur.bytes - r.rec >= TOO_LARGE_MIN_BYTES) {
    verdict = 'too-large';
    consequence = `${r.costly}: ${mb(cur.bytes - r.rec)} more than needed`;
  }
  const keep = r.keepIfEnough && cur.bytes !== null && cur.bytes >= r.rec;
  const bytes = keep ? cur.bytes! : r.rec;
  const value = keep ? cur.raw! : formatSize(bytes);
  return {
    path: r.path,
    value,
    bytes,
    current: cur.raw,
    measured: r.measured,
    margin: r.margin,
    reason: r.reason,
    verdict,
    ...(consequence ? { consequence } : {}),
    change: value !== cur.raw,
  };
}

/** A process's mappings besides its heap, main stack and default thread stacks, at their largest. */
function ownPeak(p: Measurement['processPeaks'][number]): number {
  // VmPeak is the kernel's exact figure, but it includes the run's oversized thread stacks.
  return p.threadStacks ? (p.otherPeak ?? 0) : Math.max(0, p.vmPeak - p.heap - p.stack, p.otherPeak ?? 0);
}

/**
 * The user-space need: every process alive at once, each with Occlum's fixed heap and stack,
 * and every glibc thread with a default_stack_size stack (glibc takes its threads' default stack
 * size from RLIMIT_STACK, which Occlum sets to default_stack_size).
 */
export function userSpaceNeed(m: Measurement, heap: number, stack: number): number {
  let need = 0;
  for (const f of m.frontier) {
    need = Math.max(need, f.mappedOther + f.processes * (heap + stack) + (f.threadStacks ?? 0) * stack);
  }
  for (const p of m.processPeaks) need = Math.max(need, ownPeak(p) + heap + stack + (p.threadStacks ?? 0) * stack);
  return need;
}

/** G1's largest region size: a JVM's heap reservation is aligned to it. */
const JVM_HEAP_ALIGN = 32 * MB;

/** The JVM's default heap in Occlum with this user space, rounded up to G1's alignment. */
function jvmHeapAt(userSpace: number): number {
  return Math.ceil(jvmErgonomicHeap(userSpace) / JVM_HEAP_ALIGN) * JVM_HEAP_ALIGN;
}

/**
 * The smallest whole-MB user space that holds the margin over `rest` plus the default heap a JVM
 * takes with that user space (a quarter of it, see jvm.ts): the JVM grows with the value itself.
 */
function jvmUserSpace(rest: number): number {
  let user = withMargin(rest);
  while (user < withMargin(rest) + jvmHeapAt(user)) user = withMargin(rest) + jvmHeapAt(user);
  return user;
}

/** The user space a program will see in Occlum under this config (sysinfo's total RAM). */
function effectiveUserSpace(cfg: Config, version: VersionId): number | null {
  const max = sizeAt(cfg, ['resource_limits', 'user_space_max_size']).bytes;
  const size = sizeAt(cfg, ['resource_limits', 'user_space_size']).bytes;
  // EDMM: the user space is reserved up to max(user_space_max_size, 16GB) (spec 2.6).
  if (edmmOn(cfg, version)) return Math.max(max ?? 0, size ?? 0, 16 * 1024 * MB);
  if (atLeast(version, '0.30.0') && max !== null) return Math.max(max, size ?? 0);
  return size;
}

/**
 * For a `java` launcher run without a maximum heap: the heap it would take in Occlum under the
 * current config, to measure it with (jvm.ts); null otherwise.
 */
export function jvmMeasureHeap(path: string, args: string[], configText: string, version: VersionId): number | null {
  const parsed = parse(configText, [], { allowTrailingComma: true });
  const cfg: Config = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Config) : {};
  const env = valueAt(cfg, ['env', 'default']);
  const envDefault = Array.isArray(env) ? env.filter((x): x is string => typeof x === 'string') : [];
  const user = effectiveUserSpace(cfg, version) ?? 300 * MB;
  const proc = (k: string) => sizeAt(cfg, ['process', k]).bytes;
  const rlimitAs = occlumRlimitAs(proc('default_heap_size'), proc('default_stack_size'), proc('default_mmap_size'));
  return jvmDefaultHeap(path, args, envDefault, user, rlimitAs);
}

export function recommend(m: Measurement, configText: string, version: VersionId): Recommendation {
  const parsed = parse(configText, [], { allowTrailingComma: true });
  const cfg: Config = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Config) : {};
  const edmm = edmmOn(cfg, version);
  const staticCost = edmm ? null : 'a non-EDMM enclave commits it all at load (EPC and load time)';
  const fields: FieldRecommendation[] = [];
  const margin = `×${MEMORY_MARGIN}, whole MB`;

  // process.*: per-process reservations inside user space.
  const threadStacks = m.threadStacksPeak ?? 0;
  const stack = Math.max(FLOOR.stack, withMargin(m.stackPeak));
  fields.push(
    sizeField(cfg, {
      path: ['process', 'default_stack_size'],
      need: m.stackPeak,
      rec: stack,
      margin: `${margin}, ≥ 1MB`,
      measured:
        `main-thread stack peak ${mb(m.stackPeak)}` +
        (threadStacks ? `; ${threadStacks} glibc thread(s) get it too` : ''),
      reason:
        'every process gets this fixed main-thread stack in user space, and every glibc thread without a stack ' +
        'size of its own gets one as large (glibc sizes them by RLIMIT_STACK, which Occlum sets to this)',
      tooSmall: ERR.stack,
      costly: null,
    }),
  );
  const heap = Math.max(FLOOR.heap, withMargin(m.heapGrowth));
  fields.push(
    sizeField(cfg, {
      path: ['process', 'default_heap_size'],
      need: m.heapGrowth,
      rec: heap,
      margin: `${margin}, ≥ 1MB`,
      measured: `brk heap growth ${mb(m.heapGrowth)}`,
      reason: 'every process reserves this brk heap in user space, used or not',
      tooSmall: ERR.heap,
      costly: null,
    }),
  );
  // A JVM measured with its Occlum default heap (jvm.ts) takes another with the recommended user space.
  const jvmHeap = m.jvmMaxHeap ?? 0;
  const userNeed = userSpaceNeed(m, heap, stack);
  const user = Math.max(FLOOR.userSpace, jvmHeap ? jvmUserSpace(userNeed - jvmHeap) : withMargin(userNeed));
  const jvmHeapThen = jvmHeap ? jvmHeapAt(user) : 0;
  const otherPeak = m.processPeaks.reduce((x, p) => Math.max(x, ownPeak(p) + (p.threadStacks ?? 0) * stack), 0);
  const processOther = otherPeak - jvmHeap + jvmHeapThen;
  const mmap = Math.max(FLOOR.mmap, withMargin(processOther - jvmHeapThen) + jvmHeapThen);
  fields.push(
    sizeField(cfg, {
      path: ['process', 'default_mmap_size'],
      // Not enforced by the LibOS (src/libos/src/vm/mod.rs): nothing fails when it is smaller.
      need: 0,
      rec: mmap,
      margin: `${margin}, ≥ 1MB`,
      measured:
        `largest process's mappings besides heap and main stack ${mb(processOther)} ` +
        `(largest single mapping ${mb(m.largestMapping)})`,
      reason:
        'not enforced by the LibOS; it only sets the RLIMIT_AS that getrlimit reports (heap + stack + this), ' +
        'and a JVM without -Xmx caps its default heap at half of that',
      tooSmall: '',
      costly: null,
    }),
  );

  // resource_limits: the enclave.
  const stacksNote = threadStacks ? ` + ${threadStacks} glibc thread stack(s) of ${formatSize(stack)}` : '';
  const first = m.jvmFirstRun;
  const measuredWith = first
    ? `, the heap the recommended config gives it (with ${formatSize(first.maxHeap)}, its default in Occlum ` +
      `under the current config, it failed with status ${first.status})`
    : ' (its default in Occlum under the current config)';
  const jvmNote = jvmHeap
    ? `; a JVM without -Xmx: measured with -XX:MaxHeapSize=${formatSize(jvmHeap)}${measuredWith}, and with ` +
      `this user space it reserves ${formatSize(jvmHeapThen)} (a quarter of ` +
      'the user space, which Occlum reports as the RAM): pass -Xmx to fix it'
    : '';
  const userMeasured =
    `peak mapped ${mb(m.peakVm)} over ${m.processesPeak || 1} process(es) at once, with Occlum's ` +
    `per-process heap ${formatSize(heap)} + stack ${formatSize(stack)}${stacksNote}: ${mb(userNeed)}${jvmNote}`;
  const present = (key: string) => valueAt(cfg, ['resource_limits', key]) !== undefined;
  const hasUserMax = atLeast(version, '0.30.0') && present('user_space_max_size');
  if (!edmm && hasUserMax) {
    // Non-EDMM: user_space_max_size replaces user_space_size, which must not exceed it.
    fields.push(
      sizeField(cfg, {
        path: ['resource_limits', 'user_space_max_size'],
        need: userNeed,
        rec: user,
        margin,
        measured: userMeasured,
        reason: 'non-EDMM: replaces user_space_size as the static user-space reservation',
        tooSmall: ERR.userSpace,
        costly: staticCost,
      }),
    );
    const us = sizeAt(cfg, ['resource_limits', 'user_space_size']);
    const keep = us.bytes !== null && us.bytes <= user;
    fields.push({
      path: ['resource_limits', 'user_space_size'],
      value: keep ? us.raw! : formatSize(user),
      bytes: keep ? us.bytes : user,
      current: us.raw,
      measured: userMeasured,
      margin: 'none',
      verdict: us.raw === null ? 'missing' : 'ok',
      reason: 'non-EDMM: unused while user_space_max_size is set, but must not exceed it',
      change: !keep,
    });
  } else {
    fields.push(
      sizeField(cfg, {
        path: ['resource_limits', 'user_space_size'],
        need: userNeed,
        rec: user,
        margin,
        measured: userMeasured,
        reason: edmm
          ? 'EDMM: committed at load, so the measured need is there without page faults'
          : 'total user memory of all processes (SDK reserved memory)',
        tooSmall: ERR.userSpace,
        costly: staticCost,
      }),
    );
    if (edmm && atLeast(version, '0.30.0')) {
      const cur = sizeAt(cfg, ['resource_limits', 'user_space_max_size']);
      const low = cur.bytes !== null && cur.bytes < user;
      fields.push({
        path: ['resource_limits', 'user_space_max_size'],
        value: low ? formatSize(user) : (cur.raw ?? formatSize(user)),
        bytes: low || cur.bytes === null ? user : cur.bytes,
        current: cur.raw,
        measured: userMeasured,
        margin,
        reason: 'EDMM: the ceiling is max(this, 16GB); it must not be below user_space_size',
        verdict: low ? 'too-small' : cur.raw === null ? 'missing' : 'ok',
        ...(low ? { consequence: 'the build stops: "wrong configuration"' } : {}),
        change: low || cur.raw === null,
      });
    }
  }

  const kernelMeasured = 'not measurable on the host (LibOS kernel objects, RamFS files, SEFS caches)';
  const hasHeapMax = atLeast(version, '0.29.4') && present('kernel_space_heap_max_size');
  const heapRule = (path: string[], reason: string): FieldRecommendation =>
    sizeField(cfg, {
      path,
      need: TEMPLATE.kernelHeap,
      rec: TEMPLATE.kernelHeap,
      margin: 'none, the template value is the floor',
      keepIfEnough: true,
      measured: kernelMeasured,
      reason,
      tooSmall: ERR.kernelHeap,
      costly: staticCost,
    });
  if (hasHeapMax && !edmm) {
    const why = 'non-EDMM: replaces kernel_space_heap_size as the static kernel heap';
    fields.push(heapRule(['resource_limits', 'kernel_space_heap_max_size'], why));
  }
  const heapWhy = edmm ? 'EDMM: the initial kernel heap' : 'the LibOS kernel heap';
  fields.push(heapRule(['resource_limits', 'kernel_space_heap_size'], heapWhy));

  fields.push(
    sizeField(cfg, {
      path: ['resource_limits', 'kernel_space_stack_size'],
      need: 8 * 1024,
      rec: TEMPLATE.kernelStack,
      margin: 'none, the template value is the floor',
      keepIfEnough: true,
      measured: 'not measurable on the host (the LibOS stack of each TCS)',
      reason: 'per-TCS kernel stack; SGX error 0x1009 in "Failed to enter the enclave" means raise it',
      tooSmall: 'sgx_sign refuses below 8KB; too small a stack gives SGX error 0x1009',
      costly: null,
    }),
  );

  fields.push(threadsField(cfg, m, edmm));
  return { version, edmm, fields };
}

function threadsField(cfg: Config, m: Measurement, edmm: boolean): FieldRecommendation {
  const need = Math.max(1, m.threadsPeak);
  const init = valueAt(cfg, ['resource_limits', 'init_num_of_threads']);
  const rec = Math.max(Math.ceil(need * THREAD_MARGIN), need + 2, typeof init === 'number' ? init : 0);
  const v = valueAt(cfg, ['resource_limits', 'max_num_of_threads']);
  const cur = typeof v === 'number' ? v : null;
  let verdict: Verdict = 'ok';
  let consequence: string | undefined;
  if (v === undefined) verdict = 'missing';
  else if (cur === null || cur < need) {
    verdict = 'too-small';
    consequence = ERR.threads;
  } else if (!edmm && cur >= rec * TOO_LARGE_FACTOR && cur - rec >= 32) {
    verdict = 'too-large';
    consequence = `every TCS costs its kernel_space_stack_size and SSA/TLS pages of EPC: ${cur - rec} TCS more than needed`;
  }
  return {
    path: ['resource_limits', 'max_num_of_threads'],
    value: rec,
    bytes: null,
    current: v === undefined ? null : (v as number),
    measured:
      `${need} thread(s) of all processes at once (${m.threadsSource})` +
      (m.cpus ? ` on ${m.cpus} CPU(s): the JVM and Go start threads per CPU, so size on the target's CPU count` : ''),
    margin: `×${THREAD_MARGIN}, at least 2 spare`,
    reason: 'one TCS per LibOS thread, over all processes together',
    verdict,
    ...(consequence ? { consequence } : {}),
    change: rec !== v,
  };
}
