// A measurement in words, for the CLI and the panes.
import type { Measurement } from './types.ts';

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;

export function formatMeasurement(m: Measurement): string[] {
  const o = m.overhead;
  return [
    `run time           ${(m.runMs / 1000).toFixed(2)} s, exit status ${m.status}`,
    `peak resident      ${mb(m.peakRss)} (${m.peakRssSource === 'cgroup' ? 'cgroup peak, whole tree' : 'sampled sum'})`,
    `peak mapped        ${mb(m.peakVm)} (sampled sum); largest process ${mb(m.maxProcessVm)}`,
    `heap (brk) growth  ${mb(m.heapGrowth)}`,
    `main stack peak    ${mb(m.stackPeak)}`,
    `largest mapping    ${mb(m.largestMapping)}`,
    `threads at once    ${m.threadsPeak} (${m.threadsSource === 'cgroup' ? 'cgroup pids.peak' : 'sampled'})`,
    `processes          ${m.processes} seen, ${m.processesPeak} at once`,
    `open files at once ${m.openFilesPeak}`,
    `measurement        ${o.samples} samples every ${o.intervalMs} ms, ${o.samplerCpuMs.toFixed(1)} ms CPU (${(o.share * 100).toFixed(2)}% of the run time)`,
  ];
}
