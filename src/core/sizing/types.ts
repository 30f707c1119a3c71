// What a sizing run measured and what it recommends (bytes unless named otherwise).
import type { JsonPath } from '../config/types.ts';
import type { TreeSample } from './sampler.ts';
import type { TreeUsage } from '../sandbox/cgroup.ts';
import type { ForkAttempts } from '../sandbox/fork-watch.ts';

export interface Measurement {
  /** Program path inside the image, then its arguments. */
  command: string[];
  /** Exit status as `occlum run` reports it. */
  status: number;
  /**
   * What ended the run from outside, when something did: the TUI's stop, or a signal the CLI got
   * (Ctrl-C's SIGINT, SIGTERM, SIGHUP). A server is sized this way: the figures cover what it did
   * until then, and its status (130, 143) is not a failure.
   */
  stoppedBy?: 'stop' | NodeJS.Signals;
  /** fork() calls the sandbox refused (host backend's fork watch), when any: a forking program is sized short. */
  forks?: ForkAttempts;
  runMs: number;
  /** Resident memory of the whole tree at its peak. */
  peakRss: number;
  /** Where peakRss came from: a kernel counter ("cgroup v1 memory.max_usage_in_bytes") or sampling. */
  peakRssSource: string;
  /** Mapped (virtual) memory of the whole tree at its peak (sampled sum). */
  peakVm: number;
  /** Largest virtual size of a single process (its VmPeak). */
  maxProcessVm: number;
  /** Largest brk heap of a process. */
  heapGrowth: number;
  /** Largest main-thread stack of a process. */
  stackPeak: number;
  largestMapping: number;
  /** Threads of all processes at once. */
  threadsPeak: number;
  /** Where threadsPeak came from: "cgroup v2 pids.peak", "cgroup v1 pids.peak" or sampling. */
  threadsSource: string;
  /** Program processes seen (a process that lived less than a sampling period can be missed). */
  processes: number;
  processesPeak: number;
  openFilesPeak: number;
  /**
   * glibc threads with the default stack at once, over the tree. glibc sizes them by
   * RLIMIT_STACK, which Occlum sets to default_stack_size: each costs that much user space there.
   */
  threadStacksPeak?: number;
  /** The sizing run's RLIMIT_STACK, the size of those stacks here (left out of the mapped figures). */
  threadStackSize?: number;
  /** CPUs the program saw: the JVM and Go size their thread pools by it. */
  cpus?: number;
  /** A JVM measured with this -XX:MaxHeapSize (its Occlum default under the current config). */
  jvmMaxHeap?: number;
  /**
   * The JVM failed with its Occlum default under the current config (this heap, this status)
   * and was measured again with the one the recommended config gives it (size-program.ts).
   */
  jvmFirstRun?: { maxHeap: number; status: number };
  /**
   * Per process: VmPeak, brk heap, main stack, default thread stacks at once, and the largest
   * VmSize without the three (for the user-space sum).
   */
  processPeaks: { vmPeak: number; heap: number; stack: number; threadStacks?: number; otherPeak?: number }[];
  /** Tree samples that could set the user-space need (see sampler.ts). */
  frontier: TreeSample[];
  /** CPU time and page faults of the whole tree at exit (its cgroup), like an exit rusage. */
  usage: TreeUsage | null;
  usageSource: string | null;
  /** Samples taken, the base and the longest sampling period (adaptive), the sampler's CPU time. */
  overhead: { samples: number; intervalMs: number; maxIntervalMs: number; samplerCpuMs: number; share: number };
}

export type Verdict = 'ok' | 'too-small' | 'too-large' | 'missing';

/** One Occlum.json field: what to set, from what, and what is wrong with the current value. */
export interface FieldRecommendation {
  path: JsonPath;
  /** The value to write: a size string ("48MB") or a number (max_num_of_threads). */
  value: string | number;
  bytes: number | null;
  current: string | number | null;
  /** What was measured that this follows from, in words with the figure. */
  measured: string;
  /** The margin applied, in words ("×1.25, whole MB"). */
  margin: string;
  reason: string;
  verdict: Verdict;
  /** For too-small: the error Occlum would give; for too-large: the cost. */
  consequence?: string;
  /** false when the current value is kept (nothing measured it, or it is fine as it is). */
  change: boolean;
}

export interface Recommendation {
  version: string;
  edmm: boolean;
  fields: FieldRecommendation[];
}
