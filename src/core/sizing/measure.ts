// A sizing run: the program on the host backend's run path (same checks, verification and
// sandbox as `run`), with generous limits, its tree in a fresh cgroup, sampled from /proc.
import { spawn, type StdioOptions } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { HostBackend } from '../backend/host/index.ts';
import { signal as signalPids } from '../backend/host/procs.ts';
import { MEASURE_RLIMITS } from '../sandbox/rlimits.ts';
import { RUN_LAUNCHER_TASKS } from '../sandbox/tree-limits.ts';
import { MAX_BACKOFF, TreeSampler, treeOf } from './sampler.ts';
import type { Measurement } from './types.ts';

export interface MeasureOptions {
  /** Sampling period in ms (default 10). */
  intervalMs?: number;
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /**
   * A JVM launcher run without a maximum heap: measure it with this one (-XX:MaxHeapSize), the
   * heap it would take in Occlum, instead of a quarter of the host's RAM (see jvm.ts).
   */
  jvmMaxHeap?: number;
  /**
   * Stops the run: SIGTERM to the program's processes, SIGKILL to the whole tree after
   * STOP_GRACE_MS. The figures up to then are the measurement (`stoppedBy: 'stop'`): how a server
   * is sized. Stopped before a sample of its program was taken, the run throws SizingStopped.
   */
  signal?: AbortSignal;
}

/** A sizing run stopped before a sample of its program was taken: nothing measured. */
export class SizingStopped extends Error {
  constructor() {
    super('the sizing run was stopped before a sample of its program was taken');
    this.name = 'SizingStopped';
  }
}

/** How long a stopped program gets to exit on SIGTERM before its tree is killed. */
export const STOP_GRACE_MS = 2000;

export const DEFAULT_INTERVAL_MS = 10;

export async function measureRun(
  backend: HostBackend,
  path: string,
  args: string[],
  opts: MeasureOptions = {},
): Promise<Measurement> {
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  // A heap we chose must not hang the program when it is too small (size-program.ts).
  const jvm = opts.jvmMaxHeap ? [`-XX:MaxHeapSize=${opts.jvmMaxHeap}`, '-XX:+ExitOnOutOfMemoryError'] : [];
  const runArgs = [...jvm, ...args];
  const prep = await backend.prepareRun(path, runArgs, { measure: true, env: opts.env });
  const cg = prep.cgroup;
  const started = performance.now();
  const child = spawn(prep.file, prep.args, { env: prep.env, stdio: opts.stdio ?? 'inherit' });
  if (child.pid) prep.started?.(child.pid);
  const root = child.pid ?? -1;
  // The cgroup lists the tree directly; without one, walk the launcher's descendants.
  const threadStack = MEASURE_RLIMITS.stack ?? 0;
  const pidsOf = cg?.has('pids') || cg?.has('memory') ? () => cg.pids() : () => treeOf(root);
  const sampler = new TreeSampler(pidsOf, threadStack);
  sampler.start(intervalMs);
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    // What is left after the grace, the launcher chain and bwrap included, is killed (bwrap's
    // --die-with-parent takes the rest); at once while the sandbox is still being set up.
    // No pid ≤ 0: kill(-1) would reach every process of the user.
    const kill = () =>
      signalPids(
        [root, ...pidsOf()].filter((p) => p > 0),
        'SIGKILL',
      );
    const programs = sampler.programs();
    if (programs.length === 0) return kill();
    signalPids(programs, 'SIGTERM');
    killTimer = setTimeout(kill, STOP_GRACE_MS);
  };
  if (opts.signal?.aborted) stop();
  else opts.signal?.addEventListener('abort', stop, { once: true });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', () => resolve({ code: 127, signal: null }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(killTimer);
  opts.signal?.removeEventListener('abort', stop);
  const runMs = performance.now() - started;
  const s = sampler.stop();
  const peaks = cg?.peaks() ?? { tasks: null, memory: null };
  // Read before finish(), which removes the group.
  const usage = cg?.usage() ?? null;
  const { status, forks } = prep.finish(exit.code, exit.signal);
  const stopped = opts.signal?.aborted === true;
  // Nothing sampled: stopped during the sandbox's set-up. (No program left at the stop is not
  // that: Ctrl-C from the terminal may have ended it first.)
  if (stopped && s.processes.length === 0) throw new SizingStopped();
  const sampledRss = 'sampled /proc VmRSS sum';
  const sampledThreads = 'sampled /proc Threads sum';
  const maxOf = (f: (p: (typeof s.processes)[number]) => number) => s.processes.reduce((m, p) => Math.max(m, f(p)), 0);
  // pids.peak also counted the launcher's tasks; it is exact where sampling can miss a burst.
  const cgThreads = peaks.tasks !== null ? Math.max(0, peaks.tasks.value - RUN_LAUNCHER_TASKS) : null;
  const cgRss = peaks.memory?.value ?? null;
  return {
    command: [path, ...args],
    status,
    ...(stopped ? { stoppedBy: 'stop' as const } : {}),
    ...(forks ? { forks } : {}),
    runMs,
    peakRss: Math.max(s.peakTreeRss, cgRss ?? 0),
    peakRssSource: cgRss !== null && cgRss >= s.peakTreeRss ? peaks.memory!.source : sampledRss,
    peakVm: s.peakTreeVm,
    maxProcessVm: maxOf((p) => p.vmPeak),
    heapGrowth: maxOf((p) => p.heap),
    stackPeak: maxOf((p) => p.stack),
    largestMapping: maxOf((p) => p.largestMapping),
    threadsPeak: Math.max(cgThreads ?? 0, s.peakTreeThreads),
    threadsSource: cgThreads !== null && cgThreads >= s.peakTreeThreads ? peaks.tasks!.source : sampledThreads,
    processes: s.processes.length,
    processesPeak: s.peakConcurrentProcesses,
    openFilesPeak: s.peakTreeOpenFiles,
    threadStacksPeak: s.frontier.reduce((n, f) => Math.max(n, f.threadStacks), 0),
    threadStackSize: threadStack,
    cpus: availableParallelism(),
    ...(opts.jvmMaxHeap ? { jvmMaxHeap: opts.jvmMaxHeap } : {}),
    processPeaks: s.processes.map(({ vmPeak, heap, stack, threadStacks, otherPeak }) => ({
      vmPeak,
      heap,
      stack,
      threadStacks,
      otherPeak,
    })),
    frontier: s.frontier,
    usage,
    usageSource: cg?.usageSource() ?? null,
    overhead: {
      samples: s.samples,
      intervalMs,
      maxIntervalMs: intervalMs * MAX_BACKOFF,
      samplerCpuMs: s.cpuMs,
      share: runMs > 0 ? s.cpuMs / runMs : 0,
    },
  };
}
