// Samples the memory, threads and files of a sandboxed process tree from /proc. The kernel keeps
// each process's own peaks (VmPeak, VmHWM; the stack VMA never shrinks), so a process needs to
// be seen only once before it exits for its peaks to be exact; what sampling adds is the sum
// over processes alive at the same time (Occlum's user space is shared by all of them).
import { readdirSync, readFileSync } from 'node:fs';

/** One program process as last seen, with its own peaks. */
export interface ProcessPeaks {
  pid: number;
  name: string;
  /** VmPeak: largest virtual size. */
  vmPeak: number;
  /** VmHWM: largest resident size. */
  rssPeak: number;
  /** Largest brk heap ([heap] mapping) seen. */
  heap: number;
  /** Main-thread stack (VmStk: the stack VMA only grows). */
  stack: number;
  /** Largest single mapping seen. */
  largestMapping: number;
  threads: number;
  openFiles: number;
  /** Most glibc default thread stacks (see TreeSampler) seen at once. */
  threadStacks: number;
  /** Largest VmSize − heap − main stack − those thread stacks seen. */
  otherPeak: number;
}

/** A moment of the whole tree: mapped memory without brk heaps and main stacks, and processes. */
export interface TreeSample {
  /** Σ (VmSize − heap − stack − default thread stacks) over the processes alive. */
  mappedOther: number;
  processes: number;
  /** glibc threads with the default stack (Occlum gives each default_stack_size). */
  threadStacks: number;
}

export interface SamplerResult {
  processes: ProcessPeaks[];
  /** Samples where the tree's sum could not be reached by another (Pareto frontier). */
  frontier: TreeSample[];
  peakTreeRss: number;
  peakTreeVm: number;
  peakTreeThreads: number;
  peakTreeOpenFiles: number;
  peakConcurrentProcesses: number;
  samples: number;
  /** CPU time the sampling itself took (this process), ms. */
  cpuMs: number;
}

const KB = 1024;
/** How long the sampler runs at 2 ms before slowing to its interval. */
export const STARTUP_MS = 100;
/** The longest pause between samples, in sampling intervals, while nothing changes. */
export const MAX_BACKOFF = 16;

function statusFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

const kb = (v: string | undefined): number => (v ? Number.parseInt(v, 10) * KB || 0 : 0);

/**
 * [heap] size, the largest mapping and the writable mappings of exactly `threadStack` bytes, from
 * /proc/<pid>/maps. glibc gives a thread without its own stack size a stack of RLIMIT_STACK's soft
 * limit (below a PROT_NONE guard page, so it never merges with the next stack): under the sizing
 * run's odd limit, these mappings are those stacks.
 */
export function mapsSummary(text: string, threadStack = 0): { heap: number; largest: number; threadStacks: number } {
  let heap = 0;
  let largest = 0;
  let threadStacks = 0;
  for (const line of text.split('\n')) {
    const dash = line.indexOf('-');
    const sp = line.indexOf(' ');
    if (dash <= 0 || sp <= dash) continue;
    const size = Number.parseInt(line.slice(dash + 1, sp), 16) - Number.parseInt(line.slice(0, dash), 16);
    if (line.endsWith('[heap]')) heap = size;
    else if (size === threadStack && line.slice(sp + 1, sp + 3) === 'rw') threadStacks++;
    // [vsyscall] is the kernel's, not the program's.
    if (size > largest && !line.endsWith('[vsyscall]')) largest = size;
  }
  return { heap, largest, threadStacks };
}

/** CPU time of this process since `t0` (process.cpuUsage()), µs. */
function cpuSince(t0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(t0);
  return d.user + d.system;
}

/** Depth of this process's PID namespace: sandboxed programs sit in a deeper one. */
function nsDepth(status: Map<string, string>): number {
  return (status.get('NSpid') ?? '').split(/\s+/).filter(Boolean).length;
}

/** The pid in the innermost PID namespace. */
function nsPid(status: Map<string, string>): number {
  return Number((status.get('NSpid') ?? '').split(/\s+/).filter(Boolean).pop());
}

export class TreeSampler {
  private readonly procs = new Map<number, ProcessPeaks>();
  private frontier: TreeSample[] = [];
  private peakTreeRss = 0;
  private peakTreeVm = 0;
  private peakTreeThreads = 0;
  private peakTreeOpenFiles = 0;
  private peakConcurrent = 0;
  private samples = 0;
  private cpuUs = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly ownDepth: number;
  /** Launcher and bwrap monitor/init pids: not read again (a run is too short for pid reuse). */
  private readonly skip = new Set<number>();
  /** The last maps read and the VmSize then: maps change only when the size does. */
  private readonly lastMaps = new Map<number, { size: number; heap: number; largest: number; threadStacks: number }>();

  /**
   * `pidsOf` lists the candidate pids (the run's cgroup, or the launcher's descendants);
   * `threadStack` is the run's RLIMIT_STACK soft limit, glibc's default thread stack size.
   */
  constructor(
    private readonly pidsOf: () => number[],
    private readonly threadStack = 0,
  ) {
    let depth = 1;
    try {
      depth = nsDepth(statusFields(readFileSync('/proc/self/status', 'utf8')));
    } catch {
      /* no /proc/self: depth 1 */
    }
    this.ownDepth = depth;
  }

  /** The program's processes now (not the launcher, not bwrap's monitor or init): what a stop ends first. */
  programs(): number[] {
    return this.pidsOf().filter((pid) => {
      try {
        const status = statusFields(readFileSync(`/proc/${pid}/status`, 'utf8'));
        return nsDepth(status) > this.ownDepth && status.get('Name') !== 'bwrap';
      } catch {
        return false; // gone
      }
    });
  }

  /**
   * Samples every 2 ms until the program's first process is seen and for STARTUP_MS after (a
   * short program can be gone before a slower tick sees it; the sandbox's own setup before it
   * takes 100–400 ms), then every `intervalMs`; each sample that finds nothing new (no new
   * process, no peak risen) doubles the pause up to MAX_BACKOFF × `intervalMs`, and news resets
   * it. A steady program is then woken for only a few samples a second: on a busy machine each
   * wake-up costs the program a time slice, more than the sample's own CPU time (docs/sizing.md).
   */
  start(intervalMs: number): void {
    this.sample();
    let seenAt: number | null = null;
    const fast = Math.min(2, intervalMs);
    let pause = intervalMs;
    const tick = (): void => {
      const news = this.sample();
      const now = performance.now();
      if (seenAt === null && this.procs.size > 0) seenAt = now;
      const startup = seenAt === null || now - seenAt <= STARTUP_MS;
      pause = news ? intervalMs : Math.min(pause * 2, intervalMs * MAX_BACKOFF);
      this.timer = setTimeout(tick, startup ? fast : pause);
    };
    this.timer = setTimeout(tick, fast);
  }

  /** Takes one more sample (the tree may have grown since the last tick) and stops. */
  stop(): SamplerResult {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.sample();
    return {
      processes: [...this.procs.values()],
      frontier: this.frontier,
      peakTreeRss: this.peakTreeRss,
      peakTreeVm: this.peakTreeVm,
      peakTreeThreads: this.peakTreeThreads,
      peakTreeOpenFiles: this.peakTreeOpenFiles,
      peakConcurrentProcesses: this.peakConcurrent,
      samples: this.samples,
      cpuMs: this.cpuUs / 1000,
    };
  }

  /** One sample; true when it found something new (a process, or a peak risen). */
  sample(): boolean {
    const t0 = process.cpuUsage();
    let news = false;
    let rss = 0;
    let vm = 0;
    let threads = 0;
    let files = 0;
    let other = 0;
    let count = 0;
    let stacks = 0;
    const pids = this.pidsOf().filter((p) => !this.skip.has(p));
    if (pids.length === 0 && this.procs.size === 0) {
      // Only the launcher so far (the sandbox is being set up): nothing to read.
      this.cpuUs += cpuSince(t0);
      return false;
    }
    for (const pid of pids) {
      let status: Map<string, string>;
      try {
        status = statusFields(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        continue; // exited between listing and reading
      }
      // The launcher and bwrap's monitor stay in the studio's PID namespace; bwrap's init is PID 1
      // of the sandbox's. Another bwrap-named task is the program's process before its execve:
      // left out of this sample only.
      const depth = nsDepth(status);
      if (depth <= this.ownDepth || (status.get('Name') === 'bwrap' && nsPid(status) === 1)) {
        this.skip.add(pid);
        continue;
      }
      if (status.get('Name') === 'bwrap') continue;
      if (!status.has('VmSize')) continue; // a zombie: its memory is gone
      const size = kb(status.get('VmSize'));
      const known = this.procs.get(pid);
      let last = this.lastMaps.get(pid);
      if (last?.size !== size) {
        try {
          last = { size, ...mapsSummary(readFileSync(`/proc/${pid}/maps`, 'utf8'), this.threadStack) };
        } catch {
          continue;
        }
        this.lastMaps.set(pid, last);
      }
      const { heap, largest, threadStacks } = last;
      let fds = 0;
      try {
        fds = readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        /* exited */
      }
      const stack = kb(status.get('VmStk'));
      const t = Number(status.get('Threads') ?? 1);
      if (!known) news = true;
      const p = known ?? {
        pid,
        name: status.get('Name') ?? '?',
        vmPeak: 0,
        rssPeak: 0,
        heap: 0,
        stack: 0,
        largestMapping: 0,
        threads: 0,
        openFiles: 0,
        threadStacks: 0,
        otherPeak: 0,
      };
      const own = Math.max(0, size - heap - stack - threadStacks * this.threadStack);
      const before = p.vmPeak + p.rssPeak + p.heap + p.stack + p.largestMapping + p.threads + p.openFiles;
      const beforeStacks = p.threadStacks + p.otherPeak;
      p.vmPeak = Math.max(p.vmPeak, kb(status.get('VmPeak')), size);
      p.rssPeak = Math.max(p.rssPeak, kb(status.get('VmHWM')));
      p.heap = Math.max(p.heap, heap);
      p.stack = Math.max(p.stack, stack);
      p.largestMapping = Math.max(p.largestMapping, largest);
      p.threads = Math.max(p.threads, t);
      p.openFiles = Math.max(p.openFiles, fds);
      p.threadStacks = Math.max(p.threadStacks, threadStacks);
      p.otherPeak = Math.max(p.otherPeak, own);
      if (p.vmPeak + p.rssPeak + p.heap + p.stack + p.largestMapping + p.threads + p.openFiles > before) news = true;
      if (p.threadStacks + p.otherPeak > beforeStacks) news = true;
      this.procs.set(pid, p);
      rss += kb(status.get('VmRSS'));
      vm += size;
      threads += t;
      files += fds;
      other += own;
      stacks += threadStacks;
      count++;
    }
    this.samples++;
    const treeBefore = this.peakTreeRss + this.peakTreeVm + this.peakTreeThreads + this.peakTreeOpenFiles;
    this.peakTreeRss = Math.max(this.peakTreeRss, rss);
    this.peakTreeVm = Math.max(this.peakTreeVm, vm);
    this.peakTreeThreads = Math.max(this.peakTreeThreads, threads);
    this.peakTreeOpenFiles = Math.max(this.peakTreeOpenFiles, files);
    this.peakConcurrent = Math.max(this.peakConcurrent, count);
    if (this.peakTreeRss + this.peakTreeVm + this.peakTreeThreads + this.peakTreeOpenFiles > treeBefore) news = true;
    if (count > 0 && this.addToFrontier({ mappedOther: other, processes: count, threadStacks: stacks })) news = true;
    this.cpuUs += cpuSince(t0);
    return news;
  }

  /** Adds a sample no other one dominates; false when it added nothing. */
  private addToFrontier(s: TreeSample): boolean {
    const covers = (a: TreeSample, b: TreeSample) =>
      a.mappedOther >= b.mappedOther && a.processes >= b.processes && a.threadStacks >= b.threadStacks;
    if (this.frontier.some((f) => covers(f, s))) return false;
    const dominated = (f: TreeSample) => covers(s, f);
    this.frontier = [...this.frontier.filter((f) => !dominated(f)), s];
    return true;
  }
}

/** Descendants of a pid through /proc/<pid>/task/<tid>/children (no scan of all of /proc). */
export function treeOf(root: number): number[] {
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ');
        for (const c of children) if (c.trim()) stack.push(Number(c));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}
