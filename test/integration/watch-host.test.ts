// The dev loop on the real host backend: a random storm of file operations ends with a secure
// image whose tree equals image/ exactly (checked with `occlum-studio fs diff`), and the
// `watch` command's NDJSON events through the built CLI: first build and run, rebuild and rerun
// on a change, a config failure with its field, Ctrl-C.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { HostWatchBackend } from '../../src/core/watch/host-backend.ts';
import { DevLoop } from '../../src/core/watch/loop.ts';
import { loadSettings } from '../../src/core/watch/settings.ts';
import type { BuildRecord } from '../../src/core/watch/types.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { watchJson } from '../helpers/watch-json.ts';
import { waitFor } from '../helpers/wait.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(dirname(d), { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Settled: no build running and nothing new for a while (incl. the trailing reconcile). */
async function settled(loop: DevLoop, builds: BuildRecord[]): Promise<void> {
  let quietSince = Date.now();
  let seen = -1;
  while (Date.now() - quietSince < loop.reconcileDelayMs + 600) {
    await sleep(25);
    if (loop.queue.busy || seen !== builds.length) {
      seen = builds.length;
      quietSince = Date.now();
    }
  }
}

test('random storm on the host backend: the final secure image equals image/ (fs diff)', async () => {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  writeFileSync(join(dir, '.occlum-studio.json'), JSON.stringify({ debounceMs: 60 }));
  const first = await new HostBackend(dir).build();
  assert.ok(first.ok, first.errors.join('\n'));
  const loop = await DevLoop.open({ instanceDir: dir, backend: new HostWatchBackend(), settings: loadSettings(dir) });
  const builds: BuildRecord[] = [];
  let sets = 0;
  loop.on('change-set', () => sets++);
  loop.queue.on('build-end', (r) => builds.push(r));
  const seed = Number(process.env.WATCH_SEED ?? Date.now() % 100000);
  let a = seed;
  const rand = () => (a = (a * 1103515245 + 12345) % 2147483648) / 2147483648;
  // The storm stays out of /bin (the entry point): the build's loader preflight checks programs there.
  const data = join(dir, 'image', 'data');
  mkdirSync(data);
  const files: string[] = [];
  const subdirs: string[] = [data];
  try {
    for (let op = 0; op < 150; op++) {
      const r = rand();
      if (r < 0.35 || files.length < 4) {
        const d = subdirs[Math.floor(rand() * subdirs.length)]!;
        const p = join(d, `f${op}.txt`);
        writeFileSync(p, `v${op}\n`.repeat(1 + Math.floor(rand() * 50)));
        files.push(p);
      } else if (r < 0.6) {
        appendFileSync(files[Math.floor(rand() * files.length)]!, `edit ${op}\n`);
      } else if (r < 0.72) {
        const i = Math.floor(rand() * files.length);
        const to = join(subdirs[Math.floor(rand() * subdirs.length)]!, `r${op}.txt`);
        renameSync(files[i]!, to);
        files[i] = to;
      } else if (r < 0.82) {
        const i = Math.floor(rand() * files.length);
        rmSync(files[i]!);
        files.splice(i, 1);
      } else if (r < 0.9) {
        const d = join(subdirs[Math.floor(rand() * subdirs.length)]!, `d${op}`);
        mkdirSync(d);
        subdirs.push(d);
      } else {
        const d = join(data, `burst${op}`);
        mkdirSync(d);
        subdirs.push(d);
        for (let i = 0; i < 30; i++) {
          writeFileSync(join(d, `b${i}`), Buffer.alloc(512 * (i + 1), i));
          files.push(join(d, `b${i}`));
        }
      }
      if (rand() < 0.08) await sleep(100 + Math.floor(rand() * 150));
    }
    await settled(loop, builds);
    await loop.queue.whenIdle();
    console.log(
      `# host storm seed ${seed}: ${sets} change sets, ${builds.length} builds, ${loop.recovered} recovered by reconcile`,
    );
    assert.ok(builds.length >= 1);
    assert.equal(builds.at(-1)!.outcome, 'ok', JSON.stringify(builds.at(-1)!.cause));
    const diff = runCli(['fs', 'diff', '-C', dir]);
    assert.equal(diff.status, 0, `seed ${seed}: fs diff:\n${diff.stdout}${diff.stderr}`);
    assert.match(diff.stdout, /^image matches /);
  } finally {
    await loop.close();
  }
});

test('a cp -r of 1000 files into a host instance costs at most 2 builds and packs all of them', async () => {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  const first = await new HostBackend(dir).build();
  assert.ok(first.ok, first.errors.join('\n'));
  const src = join(dirname(dir), 'burst-src');
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(src, `d${d}`, `f${i}`), `file ${d}/${i}\n`.repeat(20));
  }
  const loop = await DevLoop.open({ instanceDir: dir, backend: new HostWatchBackend(), settings: loadSettings(dir) });
  const builds: BuildRecord[] = [];
  loop.queue.on('build-end', (r) => builds.push(r));
  try {
    const cp = spawn('cp', ['-r', src, join(dir, 'image', 'data')]);
    assert.equal(await new Promise((r) => cp.on('exit', r)), 0);
    await settled(loop, builds);
    assert.ok(builds.length >= 1 && builds.length <= 2, `${builds.length} builds`);
    assert.ok(builds.every((b) => b.outcome === 'ok'));
    assert.equal(
      builds.reduce((n, b) => n + (b.repacked ?? 0), 0),
      1000,
    );
    const diff = runCli(['fs', 'diff', '-C', dir]);
    assert.equal(diff.status, 0, diff.stdout + diff.stderr);
  } finally {
    await loop.close();
  }
});

test('sources with a prebuild: a saved .c file is compiled, built once and rerun; a compile error leaves the program running', async () => {
  const dir = makeInstance([]);
  dirs.push(dir);
  mkdirSync(join(dir, 'src'));
  const app = (v: string) =>
    `#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("app ${v}\\n"); fflush(stdout); sleep(60); return 0; }\n`;
  writeFileSync(join(dir, 'src', 'app.c'), app('v1'));
  writeFileSync(
    join(dir, '.occlum-studio.json'),
    JSON.stringify({
      prebuild: 'musl-gcc -fPIE -pie -o image/bin/app src/app.c',
      watch: ['src/**/*.c'],
      debounceMs: 60,
    }),
  );
  const loop = await DevLoop.open({ instanceDir: dir, backend: new HostWatchBackend(), settings: loadSettings(dir) });
  const builds: BuildRecord[] = [];
  let out = '';
  loop.queue.on('build-end', (r) => builds.push(r));
  loop.queue.on('run-output', (e) => (out += e.chunk));
  loop.queue.lastRun = { path: '/bin/app', args: [] };
  try {
    loop.queue.buildNow('initial');
    await waitFor(
      () => out.includes('app v1'),
      `the first run (builds: ${JSON.stringify(builds.map((b) => b.cause))})`,
    );
    assert.equal(builds[0]!.prebuildRan, true);

    writeFileSync(join(dir, 'src', 'app.c'), app('v2'));
    await waitFor(() => out.includes('app v2'), 'the rerun of the recompiled program');
    await sleep(loop.reconcileDelayMs + 300);
    await loop.queue.whenIdle();
    assert.equal(builds.length, 2, 'one build per save: the compiler output counts toward it');
    const rels = builds[1]!.changes.map((c) => c.rel);
    assert.ok(rels.includes(join('src', 'app.c')) && rels.includes(join('image', 'bin', 'app')), rels.join(', '));

    const running = loop.queue.runningProcess;
    assert.ok(running);
    writeFileSync(join(dir, 'src', 'app.c'), 'int main(void) { return }\n');
    await waitFor(() => builds.length === 3, 'the failed build');
    assert.equal(builds[2]!.outcome, 'failed');
    assert.equal(builds[2]!.cause?.stage, 'prebuild');
    assert.match(builds[2]!.cause!.line ?? '', /error/);
    assert.equal(loop.queue.runningProcess, running, 'the program keeps running');
  } finally {
    await loop.close();
  }
});

test('watch --json: build, run, rebuild and rerun on a change, config failure with its field, Ctrl-C', async () => {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  ensureBuilt();
  const { child, events, exited, stderr } = watchJson([dir, '--json', '--run', '/bin/hello', 'one']);
  const of = (name: string) => events.filter((e) => e.event === name);
  try {
    await waitFor(
      () => of('run-exit').length >= 1,
      `the first run (events: ${events.map((e) => e.event).join(',')}; stderr: ${stderr()})`,
    );
    assert.equal(of('ready')[0]!.dir, dir);
    assert.equal(of('build-end')[0]!.outcome, 'ok');
    assert.equal(of('build-end')[0]!.trigger, 'initial');
    assert.match(
      of('run-output')
        .map((e) => e.text)
        .join(''),
      /Hello from \/bin\/hello\narg: one\n/,
    );
    assert.equal(of('run-exit')[0]!.status, 0);

    writeFileSync(join(dir, 'image', 'etc', 'greeting'), 'hi\n');
    await waitFor(() => of('run-exit').length >= 2, 'the rerun');
    const set = of('change-set')[0]!;
    assert.deepEqual(set.entries, [{ path: join('image', 'etc', 'greeting'), kind: 'added', area: 'image' }]);
    const second = of('build-end')[1]!;
    assert.equal(second.outcome, 'ok');
    assert.equal(second.repacked, 1);
    assert.match(second.imageMac, /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/);
    assert.ok(of('build-output').some((e) => e.id === second.id));

    const cfgPath = join(dir, 'Occlum.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    cfg.resource_limits.max_num_of_threads = 0;
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 4));
    await waitFor(() => of('build-end').length >= 3, 'the failing build');
    const failed = of('build-end')[2]!;
    assert.equal(failed.outcome, 'failed');
    assert.equal(failed.cause.stage, 'config');
    assert.equal(failed.cause.configField, 'resource_limits.max_num_of_threads');
    assert.equal(of('run-start').length, 2, 'no rerun after a failed build');
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, stderr());
  assert.equal(events.at(-1)!.event, 'stopping');
  assert.ok(readdirSync(join(dir, 'build')).length > 0);
});

test('watch: usage and instance errors', () => {
  const noPath = runCli(['watch', '--run']);
  assert.equal(noPath.status, 2);
  assert.match(noPath.stderr, /--run needs the program path inside the image/);
  // Input errors exit 2 (README "Exit status").
  const missing = runCli(['watch', '/nonexistent-dir']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /\/nonexistent-dir: no such directory/);
  const dir = makeInstance([]);
  dirs.push(dir);
  const notInstance = runCli(['watch', '-C', join(dir, 'image')]);
  assert.equal(notInstance.status, 2);
  assert.match(notInstance.stderr, /is not an Occlum instance \(no Occlum\.json\)/);
  writeFileSync(join(dir, '.occlum-studio.json'), '{ "autoBuild": 1 }');
  const bad = runCli(['watch', dir]);
  assert.equal(bad.status, 2);
  assert.match(
    bad.stderr,
    /invalid settings: .*\.occlum-studio\.json:1:16: "autoBuild" must be true or false, not number 1/,
  );
});
