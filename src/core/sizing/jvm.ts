// A JVM without an explicit maximum heap sizes it from the machine's RAM, and inside Occlum the
// RAM it sees is the user space: sysinfo() and /proc/meminfo report user_space_size (LibOS
// misc/sysinfo.rs, fs/procfs/meminfo.rs). It also caps that default at half of RLIMIT_AS, which
// Occlum sets to default_heap_size + default_stack_size + default_mmap_size (misc/rlimit.rs).
// Measured on the host, the same JVM reserves a quarter of the host's RAM (6 GB on a 24 GB
// machine), so `size` measures it with the heap it would take in Occlum and sizes the user
// space for the heap it will take there with the recommended size.
import { basename } from 'node:path';
import { MB } from '../config/sizes.ts';

/** HotSpot's default MaxHeapSize (126 MB on 64-bit; OpenJDK 17 -XX:+PrintFlagsFinal). */
const DEFAULT_MAX_HEAP = 126 * MB;

/**
 * HotSpot's ergonomic maximum heap for `ram` bytes of RAM (Arguments::set_heap_size, defaults
 * MaxRAMPercentage 25, MinRAMPercentage 50): a quarter, at least 126 MB, at most half. Checked
 * against OpenJDK 17's -XX:MaxRAM=… -XX:+PrintFlagsFinal from 100 MB to 4 GB.
 */
export function jvmErgonomicHeap(ram: number): number {
  return Math.min(ram / 2, Math.max(ram / 4, DEFAULT_MAX_HEAP));
}

/** The default heap a JVM takes in Occlum: from the user space, and at most half of RLIMIT_AS. */
export function jvmOcclumHeap(userSpace: number, rlimitAs: number): number {
  const heap = Math.min(jvmErgonomicHeap(userSpace), rlimitAs / 2);
  return Math.max(MB, Math.floor(heap / MB) * MB);
}

/** Launcher options that take a value as the next argument (before the main class or jar). */
const WITH_VALUE = new Set([
  '-cp',
  '-classpath',
  '--class-path',
  '-p',
  '--module-path',
  '--upgrade-module-path',
  '--add-modules',
  '--limit-modules',
]);

/** Options that set the maximum heap, or the RAM it is derived from. */
const HEAP_OPTION = /^(-Xmx|-XX:MaxHeapSize=|-XX:MaxRAM=|-XX:MaxRAMPercentage=|-XX:MaxRAMFraction=)/;

/**
 * The option that fixes the JVM's maximum heap, from the launcher's arguments (up to the main
 * class or jar) or the options variables the JVM reads from Occlum.json's env.default; null when
 * the JVM will choose its heap from the RAM it sees.
 */
export function jvmHeapOption(args: string[], envDefault: string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (HEAP_OPTION.test(a)) return a;
    if (WITH_VALUE.has(a)) i++;
    else if (a === '-jar' || a === '-m' || a === '--module' || !a.startsWith('-')) break;
  }
  for (const kv of envDefault) {
    const m = /^(JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS)=(.*)$/s.exec(kv);
    const found = m?.[2]!.split(/\s+/).find((o) => HEAP_OPTION.test(o));
    if (found) return `${m![1]}: ${found}`;
  }
  return null;
}

/** Whether `path` (inside the image) is the `java` launcher. */
export function isJavaLauncher(path: string): boolean {
  return basename(path) === 'java';
}

/** Occlum's RLIMIT_AS: default heap + stack + mmap, each with the LibOS default when absent. */
export function occlumRlimitAs(heap: number | null, stack: number | null, mmap: number | null): number {
  return (heap ?? 32 * MB) + (stack ?? 4 * MB) + (mmap ?? 100 * MB);
}

/**
 * The heap a `java` launcher run without a maximum heap takes in Occlum with this user space and
 * RLIMIT_AS, to give it as -XX:MaxHeapSize; null for other programs and for a JVM given one.
 */
export function jvmDefaultHeap(
  path: string,
  args: string[],
  envDefault: string[],
  userSpace: number,
  rlimitAs: number,
): number | null {
  if (!isJavaLauncher(path) || jvmHeapOption(args, envDefault) !== null) return null;
  return jvmOcclumHeap(userSpace, rlimitAs);
}
