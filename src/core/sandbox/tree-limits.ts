// Limits on the whole sandboxed tree, applied through the run's cgroup (cgroup.ts): Occlum
// counts threads and user memory over all processes of an instance, which per-process rlimits
// cannot express. docs/backends.md lists where this still differs from the enclave.
import type { RuntimeConfig } from './runtime-config.ts';

/** Tasks of a run's cgroup that are not the program's: bwrap's monitor and its PID-1 init. */
export const RUN_LAUNCHER_TASKS = 2;

export interface TreeLimits {
  /** pids.max: max_num_of_threads (one TCS per LibOS thread) plus the launcher's tasks. */
  tasks: number | null;
  /** memory cap: user space (all processes) plus the kernel heap, where ramfs files live. */
  memory: number | null;
}

export function treeLimitsFor(cfg: RuntimeConfig): TreeLimits {
  const { maxThreads, userSpace, kernelHeap } = cfg.limits;
  return {
    tasks: maxThreads !== null && maxThreads >= 1 ? maxThreads + RUN_LAUNCHER_TASKS : null,
    memory: userSpace !== null ? userSpace + (kernelHeap ?? 0) : null,
  };
}
