// Overhead of `size` (cgroup counters + adaptive /proc sampling) against a plain host-backend
// `run` of the same program, measured in the same run with the two interleaved: a CPU-bound
// program and one that allocates and frees in a loop. Goal: size ≤ 1.05x run (wall time,
// median). The load average is printed with each series: on a shared machine it decides the noise.
import { loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { measureRun } from '../../src/core/sizing/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { ROOT } from '../helpers/paths.ts';
import { median, report } from './helpers.ts';

const PAIRS = 9;

const dir = makeInstance([]);
for (const name of ['spin', 'churn']) {
  const out = join(dir, 'image', 'bin', name);
  execFileSync('musl-gcc', ['-O2', '-fPIE', '-pie', '-o', out, join(ROOT, 'fixtures', 'c', `${name}.c`)]);
  chmodSync(out, 0o755);
}
const b = new HostBackend(dir);
const built = await b.build();
if (!built.ok) throw new Error(built.errors.join('\n'));

async function timeRun(path: string, args: string[]): Promise<number> {
  const t = performance.now();
  const exit = await b.run(path, args, { stdio: 'pipe' });
  if (exit.status !== 0) throw new Error(`${path}: ${exit.meaning}`);
  return performance.now() - t;
}

async function timeSize(path: string, args: string[]): Promise<{ ms: number; cpu: number; samples: number }> {
  const t = performance.now();
  const m = await measureRun(b, path, args, { stdio: 'ignore' });
  if (m.status !== 0) throw new Error(`${path}: status ${m.status}`);
  return { ms: performance.now() - t, cpu: m.overhead.samplerCpuMs, samples: m.overhead.samples };
}

for (const [label, path, args] of [
  ['CPU-bound (spin)', '/bin/spin', ['300']],
  ['alloc/free loop (churn)', '/bin/churn', ['200']],
] as const) {
  await timeRun(path, [...args]);
  await timeSize(path, [...args]);
  const run: number[] = [];
  const size: number[] = [];
  const cpu: number[] = [];
  const ratios: number[] = [];
  let samples = 0;
  const loadBefore = loadavg()[0]!;
  for (let i = 0; i < PAIRS; i++) {
    // Alternate the order so drift in machine load hits both alike.
    if (i % 2) run.push(await timeRun(path, [...args]));
    const s = await timeSize(path, [...args]);
    size.push(s.ms);
    cpu.push(s.cpu);
    samples = s.samples;
    if (!(i % 2)) run.push(await timeRun(path, [...args]));
    ratios.push(s.ms / run.at(-1)!);
  }
  const load = `load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} (2 cores)`;
  console.log(`-- ${label}, ${PAIRS} pairs, ${load}`);
  const base = { name: 'plain run', value: median(run) };
  report('plain run (host backend)', median(run), 'ms');
  report('size (cgroup + /proc sampling)', median(size), 'ms', base, '≤ 1.05x');
  console.log(`  median of the per-pair ratios: ${median(ratios).toFixed(2)}x`);
  report(`  sampler CPU (${samples} samples)`, median(cpu), 'ms');
}
