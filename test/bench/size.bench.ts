// Overhead of `size` (cgroup counters + adaptive /proc sampling) against a plain host-backend
// `run` of the same program, measured in the same run with the two interleaved: a CPU-bound
// program and one that allocates and frees in a loop. Goal: size ≤ 1.05x run (wall time,
// median). The load average is printed with each series: on a shared machine it decides the noise.
import { loadavg } from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { measureRun } from '../../src/core/sizing/index.ts';
import type { TreeUsage } from '../../src/core/sandbox/cgroup.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { ROOT } from '../helpers/paths.ts';
import { median, report } from './helpers.ts';

const PAIRS = 15;

const dir = makeInstance([]);
for (const name of ['spin', 'churn']) {
  const out = join(dir, 'image', 'bin', name);
  execFileSync('musl-gcc', ['-O2', '-fPIE', '-pie', '-o', out, join(ROOT, 'fixtures', 'c', `${name}.c`)]);
  chmodSync(out, 0o755);
}
const b = new HostBackend(dir);
const built = await b.build();
if (!built.ok) throw new Error(built.errors.join('\n'));

/** CPU time of the program's whole tree (its cgroup's cpuacct), ms. */
const treeCpu = (u: TreeUsage | null | undefined): number => (u?.userMs ?? NaN) + (u?.sysMs ?? NaN);

/** A plain run: the run path (prepareRun, spawn, finish) exactly as `run` takes it, no sampler. */
async function timeRun(path: string, args: string[]): Promise<{ ms: number; treeCpu: number }> {
  const t = performance.now();
  const prep = await b.prepareRun(path, args);
  const child = spawn(prep.file, prep.args, { env: prep.env, stdio: 'ignore' });
  if (child.pid) prep.started?.(child.pid);
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.on('close', (c, s) => r([c, s])),
  );
  const cpu = treeCpu(prep.cgroup?.usage());
  const exit = prep.finish(code, sig);
  if (exit.status !== 0) throw new Error(`${path}: ${exit.meaning}`);
  return { ms: performance.now() - t, treeCpu: cpu };
}

async function timeSize(path: string, args: string[]) {
  const t = performance.now();
  const m = await measureRun(b, path, args, { stdio: 'ignore' });
  if (m.status !== 0) throw new Error(`${path}: status ${m.status}`);
  const o = m.overhead;
  return { ms: performance.now() - t, treeCpu: treeCpu(m.usage), sampler: o.samplerCpuMs, samples: o.samples };
}

for (const [label, path, args] of [
  ['CPU-bound (spin)', '/bin/spin', ['300']],
  ['alloc/free loop (churn)', '/bin/churn', ['200']],
] as const) {
  await timeRun(path, [...args]);
  await timeSize(path, [...args]);
  const run: number[] = [];
  const size: number[] = [];
  const sampler: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let samples = 0;
  const loadBefore = loadavg()[0]!;
  for (let i = 0; i < PAIRS; i++) {
    // Alternate the order so drift in machine load hits both alike.
    const first = i % 2 ? await timeRun(path, [...args]) : null;
    const s = await timeSize(path, [...args]);
    const r = first ?? (await timeRun(path, [...args]));
    run.push(r.ms);
    size.push(s.ms);
    sampler.push(s.sampler);
    samples = s.samples;
    ratios.push(s.ms / r.ms);
    cpuRatios.push((s.treeCpu + s.sampler) / r.treeCpu);
  }
  const load = `load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} (2 cores)`;
  console.log(`-- ${label}, ${PAIRS} pairs, ${load}`);
  const base = { name: 'plain run', value: median(run) };
  report('plain run (host backend)', median(run), 'ms');
  report('size (cgroup counters + adaptive /proc sampling)', median(size), 'ms', base, '≤ 1.05x');
  const each = [...ratios].sort((x, y) => x - y).map((r) => r.toFixed(2));
  console.log(`  median of the per-pair wall-time ratios: ${median(ratios).toFixed(2)}x (${each.join(' ')})`);
  // Less load-sensitive: CPU spent by the program's tree plus the sampler, against the tree's in the run.
  console.log(`  median of the per-pair CPU ratios (tree + sampler / tree): ${median(cpuRatios).toFixed(3)}x`);
  report(`  sampler CPU (${samples} samples)`, median(sampler), 'ms');
}
