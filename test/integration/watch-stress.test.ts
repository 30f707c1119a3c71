// The watcher on real files with real chokidar: a seeded random storm of creates, edits, renames,
// deletes and bursts ends with change sets that cover every changed path and a last build equal
// to image/; a 1000-file `cp -r` costs at most 2 builds; a slowly written file is never packed
// half-written; build/, run/ and editor temp files trigger nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { DevLoop } from '../../src/core/watch/loop.ts';
import { loadSettings } from '../../src/core/watch/settings.ts';
import type { BuildRecord, ChangeSet } from '../../src/core/watch/types.ts';
import { listTree, StandInBackend } from '../helpers/watch-stand-in-backend.ts';
import { rng } from '../helpers/rng.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function instance(debounceMs = 100): string {
  const dir = mkdtempSync(join(tmpdir(), 'watch-stress-'));
  mkdirSync(join(dir, 'image', 'bin'), { recursive: true });
  mkdirSync(join(dir, 'initfs'), { recursive: true });
  writeFileSync(join(dir, 'Occlum.json'), '{}\n');
  writeFileSync(join(dir, '.occlum-studio.json'), JSON.stringify({ debounceMs }));
  return dir;
}

async function openLoop(dir: string) {
  const backend = new StandInBackend(dir);
  const loop = await DevLoop.open({ instanceDir: dir, backend, settings: loadSettings(dir) });
  const sets: ChangeSet[] = [];
  const builds: BuildRecord[] = [];
  loop.on('change-set', (s) => sets.push(s));
  loop.queue.on('build-end', (r) => builds.push(r));
  /** Waits until the loop has been idle (no pending events, no build) for a while. */
  const quiesce = async () => {
    let quietSince = Date.now();
    while (Date.now() - quietSince < loop.reconcileDelayMs + loop.debounceMs * 3 + 200) {
      await sleep(20);
      if (loop.queue.busy || sets.length !== seen) {
        seen = sets.length;
        quietSince = Date.now();
      }
    }
    await loop.queue.whenIdle();
  };
  let seen = 0;
  return { backend, loop, sets, builds, quiesce };
}

function walk(root: string, dirs: string[], files: string[]): void {
  for (const d of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, d.name);
    if (d.isDirectory()) {
      dirs.push(p);
      walk(p, dirs, files);
    } else files.push(p);
  }
}

test('random storm: change sets cover every changed path and the last build equals image/', async () => {
  const seed = Number(process.env.WATCH_SEED ?? Date.now() % 100000);
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(rand() * xs.length)];
  const dir = instance(60);
  const image = join(dir, 'image');
  const { loop, sets, builds, backend, quiesce } = await openLoop(dir);
  // Paths the storm touched directly (must appear themselves) or through a directory operation
  // (covered by an ancestor entry too). Paths created and deleted within a few ms may never be
  // seen by any watcher; they leave no trace in the tree, so they are not required.
  const direct = new Map<string, number>();
  const viaDir = new Set<string>();
  const touch = (p: string) => direct.set(relative(dir, p), Date.now());
  let n = 0;
  try {
    for (let op = 0; op < 250; op++) {
      const dirs: string[] = [image];
      const files: string[] = [];
      walk(image, dirs, files);
      const r = rand();
      if (r < 0.3 || files.length < 5) {
        const p = join(pick(dirs)!, `f${n++}.txt`);
        writeFileSync(p, `created ${op}\n`);
        touch(p);
      } else if (r < 0.5) {
        const p = pick(files)!;
        appendFileSync(p, `edit ${op}\n`);
        touch(p);
      } else if (r < 0.6) {
        const p = pick(files)!;
        const q = join(pick(dirs)!, `r${n++}.txt`);
        renameSync(p, q);
        touch(p);
        touch(q);
      } else if (r < 0.7) {
        const p = pick(files)!;
        rmSync(p);
        const createdAt = direct.get(relative(dir, p));
        if (createdAt !== undefined && Date.now() - createdAt < 15) direct.delete(relative(dir, p));
        else touch(p);
      } else if (r < 0.78) {
        const p = join(pick(dirs)!, `d${n++}`);
        mkdirSync(p);
        touch(p);
      } else if (r < 0.84 && dirs.length > 1) {
        const victim = pick(dirs.slice(1))!;
        const inner: string[] = [];
        walk(victim, inner, inner);
        rmSync(victim, { recursive: true });
        touch(victim);
        for (const x of inner) viaDir.add(relative(dir, x));
      } else if (r < 0.88 && dirs.length > 1) {
        const victim = pick(dirs.slice(1))!;
        const target = join(image, `moved${n++}`);
        const inner: string[] = [];
        walk(victim, inner, inner);
        renameSync(victim, target);
        touch(victim);
        touch(target);
        for (const x of inner) {
          viaDir.add(relative(dir, x));
          viaDir.add(relative(dir, join(target, relative(victim, x))));
        }
      } else {
        // A burst: 20–60 files in one new directory, as fast as possible.
        const b = join(image, `burst${n++}`);
        mkdirSync(b);
        touch(b);
        const count = 20 + Math.floor(rand() * 40);
        for (let i = 0; i < count; i++) {
          const p = join(b, `b${i}.bin`);
          writeFileSync(p, Buffer.alloc(100 + i, i));
          touch(p);
        }
      }
      // Mostly short pauses (one change set), sometimes long enough for a build to start mid-storm.
      const pause = rand();
      if (pause < 0.1) await sleep(80 + Math.floor(rand() * 120));
      else if (pause < 0.4) await sleep(Math.floor(rand() * 10));
    }
    await quiesce();

    // 1. Every touched path that exists at the end is in a change set (itself, or for the
    //    contents of a moved directory, the directory). Paths that existed only for moments
    //    (created, then removed or moved away) may never reach any watcher and leave no trace.
    const finalDirs: string[] = [];
    const finalFiles: string[] = [];
    walk(image, finalDirs, finalFiles);
    const finalTree = new Set([...finalDirs, ...finalFiles].map((p) => relative(dir, p)));
    const seenPaths = new Set(sets.flatMap((s) => s.entries.map((e) => e.rel)));
    const covered = (rel: string) => {
      for (let p = rel; p !== '.' && p !== ''; p = dirname(p)) if (seenPaths.has(p)) return true;
      return false;
    };
    const missedDirect = [...direct.keys()].filter((p) => finalTree.has(p) && !seenPaths.has(p));
    assert.deepEqual(missedDirect, [], `seed ${seed}: paths changed but in no change set`);
    const missedViaDir = [...viaDir].filter((p) => finalTree.has(p) && !covered(p));
    assert.deepEqual(missedViaDir, [], `seed ${seed}: paths below moved dirs not covered`);

    // 2. Replaying the change sets in order gives exactly the final tree: no add, and no
    //    removal, was missed.
    const replay = new Set<string>();
    for (const s of sets) {
      for (const e of s.entries) {
        if (e.kind === 'removed') {
          replay.delete(e.rel);
          for (const p of [...replay]) if (p.startsWith(e.rel + sep)) replay.delete(p);
        } else replay.add(e.rel);
      }
    }
    const image0 = relative(dir, image);
    replay.delete(image0);
    const extra = [...replay].filter((p) => !finalTree.has(p));
    const missing = [...finalTree].filter((p) => !replay.has(p) && p !== join(image0, 'bin'));
    assert.deepEqual(
      { extra, missing },
      { extra: [], missing: [] },
      `seed ${seed}: replayed change sets differ from image/`,
    );

    // The last build saw the final tree exactly.
    assert.ok(builds.length >= 1);
    assert.equal(builds.at(-1)!.outcome, 'ok');
    assert.deepEqual(listTree(backend.snapshot), listTree(image), `seed ${seed}: last build differs from image/`);
    console.log(
      `# storm seed ${seed}: 250 operations, ${sets.length} change sets, ${builds.length} builds, ${loop.recovered} changes recovered by reconcile`,
    );
    // Coalescing: far fewer builds than operations.
    assert.ok(builds.length < 100, `seed ${seed}: ${builds.length} builds for 250 operations`);
  } finally {
    await loop.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cp -r of 1000 files costs at most 2 builds', async () => {
  const dir = instance(100);
  const src = mkdtempSync(join(tmpdir(), 'watch-burst-src-'));
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(src, `d${d}`));
    for (let i = 0; i < 100; i++) writeFileSync(join(src, `d${d}`, `f${i}`), Buffer.alloc(2048, i));
  }
  const { loop, sets, builds, quiesce } = await openLoop(dir);
  try {
    const r = spawnSync('cp', ['-r', src, join(dir, 'image', 'data')]);
    assert.equal(r.status, 0, String(r.stderr));
    await quiesce();
    assert.ok(builds.length >= 1 && builds.length <= 2, `${builds.length} builds`);
    const files = new Set(sets.flatMap((s) => s.entries.filter((e) => !e.isDir).map((e) => e.rel)));
    assert.equal(files.size, 1000);
  } finally {
    await loop.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(src, { recursive: true, force: true });
  }
});

/** Writes image/bin/big.bin in `chunks` chunks `pauseMs` apart, held open; no build may pack it half-written. */
async function writeSlowly(chunks: number, pauseMs: number): Promise<void> {
  const dir = instance(100);
  const { loop, builds, backend, quiesce } = await openLoop(dir);
  const rel = join('bin', 'big.bin');
  const chunk = Buffer.alloc(256 * 1024, 7);
  try {
    const fd = openSync(join(dir, 'image', rel), 'w');
    for (let i = 0; i < chunks; i++) {
      writeSync(fd, chunk);
      await sleep(pauseMs);
    }
    closeSync(fd);
    await quiesce();
    assert.ok(backend.builds.length >= 1);
    for (const b of backend.builds) {
      const size = b.sizes.get(rel);
      if (size !== undefined) assert.equal(size, chunk.length * chunks, 'a build packed the file half-written');
    }
    assert.equal(builds.at(-1)!.outcome, 'ok');
    assert.equal(statSync(join(backend.snapshot, rel)).size, chunk.length * chunks);
  } finally {
    await loop.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a file written slowly (pauses below the debounce) is never packed half-written', () => writeSlowly(10, 40));

// A writer that pauses longer than the debounce (a slow copy; any writer on a loaded machine) with
// the file still open: the quiet set is held while the file is open for writing (a read lease probe).
test('a file held open through pauses longer than the debounce is not packed until it is closed', () =>
  writeSlowly(3, 350));

test('build/, run/, unrelated files and editor temp files trigger no build; Occlum.json and initfs/ do', async () => {
  const dir = instance(60);
  const { loop, sets, builds, quiesce } = await openLoop(dir);
  try {
    mkdirSync(join(dir, 'build', 'mount'), { recursive: true });
    writeFileSync(join(dir, 'build', 'mount', 'x'), 'x');
    mkdirSync(join(dir, 'run', 'mount'), { recursive: true });
    writeFileSync(join(dir, 'run', 'mount', 'y'), 'y');
    writeFileSync(join(dir, 'notes.txt'), 'n');
    for (const name of ['.app.c.swp', '4913', 'app.c~', '.#app.c', '#app.c#'])
      writeFileSync(join(dir, 'image', 'bin', name), 't');
    await quiesce();
    assert.equal(
      builds.length,
      0,
      `unexpected change sets: ${sets.flatMap((s) => s.entries.map((e) => e.rel)).join(', ')}`,
    );

    writeFileSync(join(dir, 'Occlum.json'), '{ "a": 1 }\n');
    writeFileSync(join(dir, 'initfs', 'hosts'), '127.0.0.1 localhost\n');
    await quiesce();
    // One build, or two when a loaded machine lets the debounce settle between the two writes.
    assert.ok(builds.length >= 1 && builds.length <= 2, `${builds.length} builds`);
    assert.deepEqual(
      sets.flatMap((s) => s.entries.map((e) => [e.rel, e.area])),
      [
        ['Occlum.json', 'config'],
        [`initfs${sep}hosts`, 'initfs'],
      ],
    );
    assert.ok(!existsSync(join(dir, 'image', 'bin', 'nothing')));
  } finally {
    await loop.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** inotify watches this process holds (every inotify instance's). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    try {
      n += (readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^inotify /gm) ?? []).length;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

// A Python image is 59,000 files: a watch per file (with the build guard's) ran out of the user's
// inotify watches. Only directories are watched; a file's edit and chmod still come through its
// directory's watch.
test('the loop watches directories, not files, and still sees a file edited and chmodded', async () => {
  const dir = instance(60);
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(dir, 'image', 'lib', `d${d}`), { recursive: true });
    for (let f = 0; f < 50; f++) writeFileSync(join(dir, 'image', 'lib', `d${d}`, `f${f}.py`), 'x');
  }
  const before = inotifyWatches();
  const { loop, sets, quiesce } = await openLoop(dir);
  try {
    const watches = inotifyWatches() - before;
    assert.ok(watches < 100, `${watches} inotify watches for 24 directories and 1000 files`);
    writeFileSync(join(dir, 'image', 'lib', 'd3', 'f7.py'), 'edited');
    await quiesce();
    chmodSync(join(dir, 'image', 'lib', 'd4', 'f8.py'), 0o600);
    await quiesce();
    const seen = sets.flatMap((s) => s.entries.map((e) => [e.rel, e.kind]));
    assert.deepEqual(seen, [
      [join('image', 'lib', 'd3', 'f7.py'), 'changed'],
      [join('image', 'lib', 'd4', 'f8.py'), 'changed'],
    ]);
    assert.equal(loop.recovered, 0, 'seen by their events, not by the reconcile');
  } finally {
    await loop.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
