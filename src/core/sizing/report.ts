// A measurement in words, for the CLI and the panes.
import type { Measurement } from './types.ts';

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;

export function formatMeasurement(m: Measurement): string[] {
  const o = m.overhead;
  const every = `every ${o.intervalMs}–${o.maxIntervalMs} ms (adaptive)`;
  const stopped = m.stoppedBy ? ` (stopped by ${m.stoppedBy === 'stop' ? 'z/esc' : m.stoppedBy})` : '';
  return [
    `run time           ${(m.runMs / 1000).toFixed(2)} s, exit status ${m.status}${stopped}`,
    `peak resident      ${mb(m.peakRss)} (${m.peakRssSource}, whole tree)`,
    `peak mapped        ${mb(m.peakVm)} (sampled /proc VmSize sum); largest process ${mb(m.maxProcessVm)} ` +
      '(kernel VmPeak, sampled)',
    ...(m.threadStacksPeak
      ? [
          `thread stacks      ${m.threadStacksPeak} glibc default stack(s) at once, ${mb(m.threadStackSize ?? 0)} ` +
            "each here (the run's stack limit; counted at default_stack_size, as in Occlum)",
        ]
      : []),
    `heap (brk) growth  ${mb(m.heapGrowth)} (sampled /proc maps [heap])`,
    `main stack peak    ${mb(m.stackPeak)} (sampled /proc VmStk)`,
    `largest mapping    ${mb(m.largestMapping)} (sampled /proc maps)`,
    `threads at once    ${m.threadsPeak} (${m.threadsSource})`,
    `processes          ${m.processes} seen, ${m.processesPeak} at once (sampled)`,
    `open files at once ${m.openFilesPeak} (sampled /proc fd)`,
    `tree at exit       ${usageLine(m)}`,
    `measurement        ${o.samples} samples ${every}, ` +
      `${o.samplerCpuMs.toFixed(1)} ms CPU (${(o.share * 100).toFixed(2)}% of the run time)`,
  ];
}

/** The tree's CPU time and faults from its cgroup (bwrap's own share included, a few ms). */
function usageLine(m: Measurement): string {
  const u = m.usage;
  if (!u || (u.userMs === null && u.minorFaults === null)) return 'not available (no cgroup cpuacct/memory here)';
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const cpu = u.userMs !== null && u.sysMs !== null ? `CPU ${s(u.userMs)} s user + ${s(u.sysMs)} s system` : 'CPU n/a';
  const faults = u.minorFaults !== null ? `, ${u.minorFaults} page faults (${u.majorFaults ?? 0} major)` : '';
  return `${cpu}${faults} (${m.usageSource ?? 'cgroup'})`;
}
