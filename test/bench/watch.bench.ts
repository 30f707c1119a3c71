// Save-to-first-output of the dev loop on the host backend: one changed file in a 200 MB image,
// from the write to the first byte the rerun program prints, p50 with the share of each stage:
// debounce (write → change set released: event latency + quiet period), queue (change set →
// build start), build (incremental), stop (build end → rerun start), launch (rerun start → first
// output). Baselines in the same run: a bare bubblewrap launch of the same program from the same
// image layer (the floor of a rerun), and the same loop with every build forced from scratch,
// which is what `occlum build` does on every change (re-zips the whole image). The launch is
// then taken apart: the rerun with the sandbox prepared once the loop is idle (the default), at the
// build's start, and without (cold), and the cold launch chain step by step, each step's spawn-to-exit cost from
// Node (docs/dev-loop.md, "Prepared sandbox").
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { WarmSandbox } from '../../src/core/backend/host/warm.ts';
import { inCgroups, type Launch } from '../../src/core/sandbox/launch.ts';
import { instancePaths } from '../../src/core/instance/layout.ts';
import { HostWatchBackend } from '../../src/core/watch/host-backend.ts';
import { DevLoop } from '../../src/core/watch/loop.ts';
import { loadSettings } from '../../src/core/watch/settings.ts';
import type { BackendBuildOptions, PrepareMoment } from '../../src/core/watch/types.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { median, percentile, report } from './helpers.ts';
import { lastTimes, type StageTimes } from '../../src/core/backend/host/timing.ts';

const IMAGE_MB = 200;
const RUNS = Number(process.env.WATCH_BENCH_RUNS ?? 9);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  total: number;
  debounce: number;
  queue: number;
  build: number;
  stop: number;
  launch: number;
  /** Inside the build and the run preparation (src/core/backend/host/timing.ts). */
  buildStages: StageTimes;
  runStages: StageTimes;
  /** Longest event-loop delay while the build ran. */
  maxLoopDelay: number;
  /** How the rerun was launched. */
  launchKind: 'prepared' | 'cold' | undefined;
}

/** Forces every build to start from scratch (no reuse), like `occlum build` after any change. */
class FullRebuild extends HostWatchBackend {
  override build(opts: BackendBuildOptions) {
    return super.build({ ...opts, force: true });
  }
}

/** When the rerun of a save gets its sandbox: prepared once the loop was idle, at its build's start, or cold. */
type Mode = 'idle' | 'build' | 'cold';
const MODES: Mode[] = ['idle', 'build', 'cold'];

/**
 * The three in turn, save after save, so a change of the machine's load hits all of them. A save
 * in `idle` mode gets a sandbox started after the previous save's rerun printed (or ended); one in
 * `build` mode gets it at its own build's start; a `cold` one none. Each sample also records how
 * its rerun was actually launched (RunningProcess.launch), which the report checks.
 */
class ThreeWay extends HostWatchBackend {
  saves = 0;
  static mode = (save: number): Mode => MODES[save % MODES.length]!;
  override prepareRerun(_dir: string, when: PrepareMoment): void {
    // 'idle' comes after this save's rerun printed: it is for the next save.
    if (ThreeWay.mode(when === 'idle' ? this.saves + 1 : this.saves) === when) this.startPrepared();
  }
}

async function measure(dir: string, backend: HostWatchBackend, runs: number, debounceMs: number): Promise<Sample[]> {
  writeFileSync(join(dir, '.occlum-studio.json'), JSON.stringify({ debounceMs }));
  const loop = await DevLoop.open({ instanceDir: dir, backend, settings: loadSettings(dir) });
  loop.queue.lastRun = { path: '/bin/hello', args: [] };
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < runs + 2; i++) {
      let released = 0;
      let buildStart = 0;
      let buildEnd = 0;
      let runStart = 0;
      const first = new Promise<number>((resolve) => {
        const onOut = (e: { at: number }) => {
          loop.queue.off('run-output', onOut);
          resolve(e.at);
        };
        loop.queue.on('run-output', onOut);
      });
      const onSet = () => (released = Date.now());
      // Event-loop responsiveness during the build: a 2 ms interval's longest gap between ticks.
      let probe: NodeJS.Timeout | undefined;
      let lastTick = 0;
      let maxGap = 0;
      const onStart = () => {
        buildStart = Date.now();
        lastTick = performance.now();
        probe = setInterval(() => {
          const now = performance.now();
          maxGap = Math.max(maxGap, now - lastTick);
          lastTick = now;
        }, 2);
      };
      const onEnd = () => {
        buildEnd = Date.now();
        clearInterval(probe);
        maxGap = Math.max(maxGap, performance.now() - lastTick);
      };
      const onRun = (e: { at: number }) => (runStart = e.at);
      let launchKind: Sample['launchKind'];
      const onExit = (e: { launch?: Sample['launchKind'] }) => (launchKind ??= e.launch);
      loop.queue.on('run-exit', onExit);
      loop.on('change-set', onSet);
      loop.queue.on('build-start', onStart);
      loop.queue.on('build-end', onEnd);
      loop.queue.on('run-start', onRun);
      if (backend instanceof ThreeWay) backend.saves = i;
      const t0 = Date.now();
      writeFileSync(join(dir, 'image', 'etc', 'app.conf'), `generation ${i}\n`);
      const out = await first;
      loop.off('change-set', onSet);
      loop.queue.off('build-start', onStart);
      loop.queue.off('build-end', onEnd);
      loop.queue.off('run-start', onRun);
      await loop.queue.whenIdle();
      await sleep(loop.reconcileDelayMs + 100); // let the trailing reconcile pass
      loop.queue.off('run-exit', onExit);
      if (i < 2) continue; // warm-up
      samples.push({
        total: out - t0,
        debounce: released - t0,
        queue: buildStart - released,
        build: buildEnd - buildStart,
        stop: runStart - buildEnd,
        launch: out - runStart,
        buildStages: { ...lastTimes.build },
        runStages: { ...lastTimes.run },
        maxLoopDelay: maxGap,
        launchKind,
      });
    }
  } finally {
    await loop.close();
  }
  return samples;
}

function stages(label: string, s: Sample[]): void {
  const p50 = median(s.map((x) => x.total));
  const parts = (['debounce', 'queue', 'build', 'stop', 'launch'] as const).map((k) => {
    const m = median(s.map((x) => x[k]));
    return `${k} ${m.toFixed(0)} ms (${((m / p50) * 100).toFixed(0)}%)`;
  });
  console.log(`${label}: stages (medians, share of p50): ${parts.join(', ')}`);
  console.log(`${label}:   inside the build: ${inner(s.map((x) => x.buildStages))}`);
  console.log(`${label}:   inside the launch (run preparation): ${inner(s.map((x) => x.runStages))}`);
  const delays = s.map((x) => x.maxLoopDelay);
  console.log(
    `${label}:   longest event-loop stall during a build (2 ms interval probe): p50 ${median(delays).toFixed(0)} ms, worst ${Math.max(...delays).toFixed(0)} ms`,
  );
}

function inner(all: StageTimes[]): string {
  const keys = [...new Set(all.flatMap((t) => Object.keys(t)))];
  return keys.map((k) => `${k} ${median(all.map((t) => t[k] ?? 0)).toFixed(1)}`).join(', ') + ' ms';
}

/** Spawn to first output of the program in a bare bwrap sandbox of the image layer (no checks, no overlay). */
async function bareLaunch(dir: string): Promise<number> {
  const rootfs = instancePaths(dir).hostRootfs;
  const t0 = performance.now();
  const args = ['--ro-bind', rootfs, '/', '--dev', '/dev', '--proc', '/proc', '--unshare-all', '/bin/hello'];
  const c = spawn('bwrap', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<number>((resolve, reject) => {
    c.stdout.once('data', () => resolve(performance.now() - t0));
    c.on('error', reject);
    c.on('exit', (code) => reject(new Error(`bare bwrap launch exited ${code} without output`)));
  });
  await new Promise((r) => c.on('close', r));
  return first;
}

/** Spawn of `launch` to its exit (or to its first output byte), in ms. */
async function timed(launch: Launch, untilOutput = false): Promise<number> {
  const t0 = performance.now();
  const c = spawn(launch.file, launch.args, { env: launch.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const at = new Promise<number>((resolve, reject) => {
    if (untilOutput) c.stdout.once('data', () => resolve(performance.now()));
    c.on('error', reject);
    c.on('close', (code) =>
      code === 0 || untilOutput ? resolve(performance.now()) : reject(new Error(`${launch.file}: ${code} ${err}`)),
    );
  });
  c.stdout.resume();
  const t = await at;
  await new Promise((r) => (c.exitCode !== null ? r(null) : c.on('close', r)));
  return t - t0;
}

/** The node-pty spawn of /bin/true to its exit, in ms (what the Run pane adds over a pipe spawn). */
async function ptyTrue(): Promise<number> {
  const pty = await import('node-pty');
  const t0 = performance.now();
  const p = pty.spawn('/bin/true', [], { cols: 80, rows: 24, env: {} });
  await new Promise((r) => p.onExit(r));
  return performance.now() - t0;
}

/**
 * Where the sandbox start goes, outside the loop (same instance): a cold launch cut after each
 * step (the step then execs /bin/true), spawn to exit from Node; the full launch to the program's
 * first output; the prepared sandbox from its go to the first output; a bare bwrap launch. Each
 * cut's fastest of `runs` (the least disturbed by the other work on the machine), and each step
 * as the difference of two cuts. Steps: Node's spawn of a process, the shell joining the run's
 * cgroups, the stager's set-up (`--now`: as root the mount namespace, idmap user namespace and
 * idmapped binds; then the program's user and mount namespaces, overlay, tmpfs, rlimits), bwrap
 * and the program.
 */
async function launchAnatomy(dir: string, runs: number): Promise<void> {
  const host = new HostBackend(dir);
  const cuts: Record<string, number[]> = {};
  const add = (k: string, v: number) => (cuts[k] ??= []).push(v);
  for (let i = 0; i < runs + 2; i++) {
    const prep = await host.prepareRun('/bin/hello', [], { stdio: 'pipe' });
    const procs = prep.cgroup!.procsFiles();
    // [sh -c <join cgroups> occlum-studio-launch] STAGER --now UID GID STAGE TOKEN... -- bwrap ...
    const chain = procs.length ? prep.args.slice(3) : [prep.file, ...prep.args];
    const setUp = [...chain.slice(0, chain.indexOf('--') + 1), '/bin/true'];
    const t = {
      spawn: await timed({ file: '/bin/true', args: [], env: prep.env }),
      cgroup: await timed(inCgroups({ file: '/bin/true', args: [], env: prep.env }, procs)),
      setUp: await timed(inCgroups({ file: setUp[0]!, args: setUp.slice(1), env: prep.env }, procs)),
      full: await timed({ file: prep.file, args: prep.args, env: prep.env }, true),
      pty: await ptyTrue(),
    };
    prep.finish(0, null);
    // The prepared sandbox: spawn to ready (off the critical path), then go to first output.
    const warm = WarmSandbox.start()!;
    const w = await host.prepareRun('/bin/hello', [], { stdio: 'pipe', warm });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const child = w.warm!.process;
    const first = new Promise<number>((r) => child.stdout!.once('data', () => r(performance.now())));
    child.stdin!.end(w.warm!.go);
    const go = (await first) - t0;
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('close', r)));
    w.finish(child.exitCode, child.signalCode);
    const bare = await bareLaunch(dir);
    if (i < 2) continue;
    for (const [k, v] of Object.entries({ ...t, warm: go, bare })) add(k, v);
  }
  const m = (k: string) => Math.min(...cuts[k]!);
  const full = m('full');
  const steps: [string, number][] = [
    ['Node spawn of a process (/bin/true)', m('spawn')],
    ['shell joining the cgroups', m('cgroup') - m('spawn')],
    ['stager set-up (namespaces, idmapped binds, overlay, tmpfs, rlimits)', m('setUp') - m('cgroup')],
    ['bwrap and the program to its first output', full - m('setUp')],
  ];
  console.log(`  cold launch, spawn to first output: ${full.toFixed(1)} ms; by step (fastest of ${runs} each):`);
  for (const [k, v] of steps) console.log(`    ${k}: ${v.toFixed(1)} ms (${((v / full) * 100).toFixed(0)}%)`);
  const bareBase = { name: 'bare bwrap launch, fastest of the same saves', value: m('bare') };
  report('  prepared sandbox, go to first output (fastest)', m('warm'), 'ms', bareBase);
  report('  cold launch, spawn to first output (fastest)', full, 'ms', bareBase);
  report('  prepared sandbox, go to first output (median)', median(cuts.warm!), 'ms', {
    name: 'bare bwrap launch, median',
    value: median(cuts.bare!),
  });
  console.log(
    `  node-pty spawn of /bin/true to exit: ${m('pty').toFixed(1)} ms (pipe spawn: ${m('spawn').toFixed(1)} ms)`,
  );
}

async function main() {
  const dir = makeInstance(['hello']);
  try {
    // 200 MB in 2000 files of 100 KiB in 20 directories: many files, as real images (libraries,
    // models, interpreters' standard libraries) have.
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(dir, 'image', 'data', `d${d}`), { recursive: true });
      for (let i = 0; i < IMAGE_MB / 2; i++)
        writeFileSync(join(dir, 'image', 'data', `d${d}`, `blob${i}`), randomBytes(100 * 1024));
    }
    const t0 = performance.now();
    const r = await new HostBackend(dir).build();
    if (!r.ok) throw new Error(r.errors.join('\n'));
    console.log(
      `first build of the ${IMAGE_MB} MB image: ${(performance.now() - t0).toFixed(0)} ms${r.rootMac ? '' : ' (secure image not packed)'}`,
    );

    const bare: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) bare.push(await bareLaunch(dir));
    const bareBase = { name: 'bare bwrap launch of the same program', value: median(bare.slice(2)) };
    const full = await measure(dir, new FullRebuild(), Math.max(3, Math.floor(RUNS / 3)), 100);
    const incr = await measure(dir, new HostWatchBackend(), RUNS, 100);
    const fast = await measure(dir, new HostWatchBackend(), RUNS, 30);
    // Saves 0, 1 are the warm-up: samples start at save 2, so sample k is save k + 2.
    const three = await measure(dir, new ThreeWay(), 3 * RUNS, 100);
    const byMode = (m: Mode) => three.filter((_, k) => ThreeWay.mode(k + 2) === m);
    const base = { name: 'full rebuild each change (what occlum build does)', value: median(full.map((x) => x.total)) };
    const p50 = median(incr.map((x) => x.total));
    report('save-to-first-output p50, incremental, debounce 100 ms', p50, 'ms', base, 'p50 ≤ 100 ms, p90 ≤ 150 ms');
    report('  the same p50', p50, 'ms', bareBase);
    const p90 = percentile(
      incr.map((x) => x.total),
      90,
    );
    report(`  p90 over ${incr.length} saves`, p90, 'ms', bareBase);
    stages('  incremental, debounce 100 ms', incr);
    const inPrepared = incr.filter((x) => x.launchKind === 'prepared').length;
    console.log(
      `  incremental, debounce 100 ms: ${inPrepared}/${incr.length} reruns in a prepared sandbox (the default)`,
    );
    report('save-to-first-output p50, incremental, debounce 30 ms', median(fast.map((x) => x.total)), 'ms', base);
    stages('  incremental, debounce 30 ms', fast);
    stages('  baseline (full rebuild)', full);
    const sandbox = (s: Sample[]) =>
      median(s.map((x) => x.launch - Object.values(x.runStages).reduce((a, b) => a + b, 0)));
    console.log(`when the rerun's sandbox is started (the three in turn, ${RUNS} saves each, debounce 100 ms):`);
    const coldP50 = { name: 'cold (none prepared), same run', value: median(byMode('cold').map((x) => x.total)) };
    for (const m of MODES) {
      const s = byMode(m);
      const label = { idle: 'prepared once idle', build: 'prepared at the build start', cold: 'cold' }[m];
      const got = s.filter((x) => x.launchKind === 'prepared').length;
      report(
        `save-to-first-output p50, ${label} (${got}/${s.length} in a prepared sandbox)`,
        median(s.map((x) => x.total)),
        'ms',
        coldP50,
      );
      report(
        `  p90`,
        percentile(
          s.map((x) => x.total),
          90,
        ),
        'ms',
        bareBase,
      );
      stages(`  ${label}`, s);
      report(`  launch minus its preparation (sandbox start to first output), ${label}`, sandbox(s), 'ms', bareBase);
    }
    console.log('launch anatomy (same instance, outside the loop):');
    await launchAnatomy(dir, Math.max(RUNS, 15));
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
}

await main();
