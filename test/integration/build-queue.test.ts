// Build queue semantics on real files and real processes: one build at a time, exactly one
// follow-up, failures keep the last good image and the running process, success stops and reruns,
// prebuild and settings failures stop the build with their cause. The backend is the stand-in
// test double (test/helpers/watch-stand-in-backend.ts) until the host backend lands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildQueue } from '../../src/core/watch/queue.ts';
import { DevLoop } from '../../src/core/watch/loop.ts';
import { loadSettings } from '../../src/core/watch/settings.ts';
import type { BuildRecord, ChangeSet } from '../../src/core/watch/types.ts';
import { StandInBackend } from '../helpers/watch-stand-in-backend.ts';
import { waitFor } from '../helpers/wait.ts';

function instance(): string {
  const dir = mkdtempSync(join(tmpdir(), 'build-queue-'));
  mkdirSync(join(dir, 'image', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'Occlum.json'), '{}\n');
  writeApp(dir, 'v1');
  return dir;
}

/** image/bin/app: a real program that prints its version and then waits until stopped. */
function writeApp(dir: string, version: string): void {
  const p = join(dir, 'image', 'bin', 'app');
  writeFileSync(p, `#!/bin/sh\necho "app ${version}"\nexec sleep 30\n`);
  chmodSync(p, 0o755);
}

function set(dir: string, rel: string, area: ChangeSet['entries'][0]['area'] = 'image'): ChangeSet {
  const now = Date.now();
  return {
    entries: [{ path: join(dir, rel), rel, area, kind: 'changed', isDir: false }],
    events: 1,
    firstEventAt: now,
    lastEventAt: now,
  };
}

function collect(q: BuildQueue) {
  const ended: BuildRecord[] = [];
  const runOutput: string[] = [];
  q.on('build-end', (r) => ended.push(r));
  q.on('run-output', (o) => runOutput.push(o.chunk));
  return { ended, runOutput };
}

test('changes during a build schedule exactly one follow-up with the merged change sets', async () => {
  const dir = instance();
  const backend = new StandInBackend(dir);
  backend.buildDelayMs = 300;
  const q = new BuildQueue({ instanceDir: dir, backend, settings: loadSettings(dir) });
  const { ended } = collect(q);
  try {
    q.onChanges(set(dir, 'image/a'));
    await waitFor(() => backend.builds.length === 0 && q.busy, 'first build to start');
    for (const n of ['b', 'c', 'd', 'e']) q.onChanges(set(dir, `image/${n}`));
    await q.whenIdle();
    assert.equal(ended.length, 2);
    assert.deepEqual(
      ended[0]!.changes.map((e) => e.rel),
      ['image/a'],
    );
    assert.deepEqual(
      ended[1]!.changes.map((e) => e.rel),
      ['image/b', 'image/c', 'image/d', 'image/e'],
    );
    assert.ok(ended.every((r) => r.outcome === 'ok'));
    // Never two at once.
    assert.ok(backend.builds[1]!.startedAt >= backend.builds[0]!.endedAt);
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed build keeps the last good image and the running process; a good one stops and reruns', async () => {
  const dir = instance();
  const backend = new StandInBackend(dir);
  const q = new BuildQueue({ instanceDir: dir, backend, settings: loadSettings(dir) });
  const { ended, runOutput } = collect(q);
  try {
    q.buildNow('initial');
    await q.whenIdle();
    assert.equal(ended[0]!.outcome, 'ok');
    assert.match(ended[0]!.imageMac ?? '', /^([0-9a-f]{2}-){15}[0-9a-f]{2}$/);
    const first = await q.run({ path: '/bin/app', args: [] });
    await waitFor(() => runOutput.join('').includes('app v1'), 'first run output');

    // A failing build: the process keeps running, the snapshot keeps v1, the cause is mapped.
    writeApp(dir, 'v2');
    backend.failNext = ['The user_space_size "30XB" is not correct.', 'Error happened while signing the enclave.'];
    q.onChanges(set(dir, 'image/bin/app'));
    await q.whenIdle();
    const failed = ended[1]!;
    assert.equal(failed.outcome, 'failed');
    assert.deepEqual(failed.cause?.configPath, ['resource_limits', 'user_space_size']);
    assert.match(failed.cause!.message, /user_space_size "30XB" is not a valid size/);
    assert.equal(q.runningProcess, first, 'the running process is left alone');
    assert.match(readFileSync(join(backend.snapshot, 'bin', 'app'), 'utf8'), /app v1/);
    assert.equal(backend.stops, 1, 'only the initial build stopped (nothing was running then)');

    // The next good build stops the old process and reruns the last command on the new image.
    q.onChanges(set(dir, 'image/bin/app'));
    await q.whenIdle();
    assert.equal(ended[2]!.outcome, 'ok');
    assert.equal(ended[2]!.repacked, 1);
    assert.ok((ended[2]!.reused ?? 0) >= 1);
    assert.notEqual(ended[2]!.imageMac, ended[0]!.imageMac);
    assert.notEqual(await first.exited, 0, 'the old process was stopped');
    await waitFor(() => runOutput.join('').includes('app v2'), 'rerun output');
    assert.notEqual(q.runningProcess, first);

    // Auto-rerun off: a good build stops the process and does not rerun.
    q.setAutoRerun(false);
    const second = q.runningProcess!;
    q.onChanges(set(dir, 'image/bin/app'));
    await q.whenIdle();
    await second.exited;
    assert.equal(q.runningProcess, null);
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed prebuild stops the build with its cause; the backend is not called', async () => {
  const dir = instance();
  writeFileSync(
    join(dir, '.occlum-studio.json'),
    '{ "prebuild": "echo compiling; echo \'app.c:3: error: expected ;\' >&2; exit 2", "watch": ["src/*.c"] }',
  );
  const backend = new StandInBackend(dir);
  const q = new BuildQueue({ instanceDir: dir, backend, settings: loadSettings(dir) });
  const { ended } = collect(q);
  try {
    q.onChanges(set(dir, 'src/app.c', 'source'));
    await q.whenIdle();
    const r = ended[0]!;
    assert.equal(r.outcome, 'failed');
    assert.equal(r.cause?.stage, 'prebuild');
    assert.match(r.cause!.message, /exited with status 2/);
    assert.equal(r.cause!.line, 'app.c:3: error: expected ;');
    assert.ok(r.output.some((l) => l.stream === 'prebuild' && l.text === 'compiling'));
    assert.equal(backend.builds.length, 0);
    // An image-only change does not need the prebuild.
    q.onChanges(set(dir, 'image/bin/app'));
    await q.whenIdle();
    assert.equal(ended[1]!.outcome, 'ok');
    assert.equal(ended[1]!.prebuildRan, false);
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a malformed settings file stops the build with its location; fixing it resumes', async () => {
  const dir = instance();
  const backend = new StandInBackend(dir);
  const q = new BuildQueue({ instanceDir: dir, backend, settings: loadSettings(dir) });
  const { ended } = collect(q);
  try {
    writeFileSync(join(dir, '.occlum-studio.json'), '{\n  "autoRerun": "yes"\n}\n');
    q.onChanges(set(dir, '.occlum-studio.json', 'settings'));
    await q.whenIdle();
    assert.equal(ended[0]!.outcome, 'failed');
    assert.equal(ended[0]!.cause?.stage, 'settings');
    assert.match(ended[0]!.cause!.message, /\.occlum-studio\.json:2:16: "autoRerun" must be true or false/);
    assert.equal(backend.builds.length, 0);
    writeFileSync(join(dir, '.occlum-studio.json'), '{ "autoRerun": false, "debounceMs": 40 }\n');
    q.onChanges(set(dir, '.occlum-studio.json', 'settings'));
    await q.whenIdle();
    assert.equal(ended[1]!.outcome, 'ok');
    assert.equal(q.settings.autoRerun, false);
    assert.equal(q.settings.debounceMs, 40);
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('auto-build off holds change sets until a manual build', async () => {
  const dir = instance();
  const backend = new StandInBackend(dir);
  const q = new BuildQueue({ instanceDir: dir, backend, settings: loadSettings(dir) });
  const { ended } = collect(q);
  const deferred: number[] = [];
  q.on('deferred', (e) => deferred.push(e.length));
  try {
    q.setAutoBuild(false);
    q.onChanges(set(dir, 'image/a'));
    q.onChanges(set(dir, 'image/b'));
    assert.deepEqual(deferred, [1, 2]);
    assert.equal(q.busy, false);
    q.buildNow();
    await q.whenIdle();
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.trigger, 'manual');
    assert.deepEqual(
      ended[0]!.changes.map((e) => e.rel),
      ['image/a', 'image/b'],
    );
    // With auto-build off, a settings edit still applies at once, and may turn it back on.
    q.onChanges(set(dir, 'image/c'));
    writeFileSync(join(dir, '.occlum-studio.json'), '{ "autoBuild": true, "autoRerun": false }');
    q.onChanges(set(dir, '.occlum-studio.json', 'settings'));
    await q.whenIdle();
    assert.equal(q.settings.autoBuild, true);
    assert.equal(ended.length, 2);
    assert.deepEqual(
      ended[1]!.changes.map((e) => e.rel),
      ['.occlum-studio.json', 'image/c'],
    );
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files the prebuild writes into image/ count toward the same build (no second build)', async () => {
  const dir = instance();
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'app.c'), 'int main(){}\n');
  // The "compiler": copies the source into the image, as `occlum-gcc -o image/bin/app app.c` would.
  writeFileSync(
    join(dir, '.occlum-studio.json'),
    '{ "prebuild": "cp src/app.c image/bin/app.c && touch image/bin/app", "watch": ["src/**/*.c"], "debounceMs": 60 }',
  );
  const backend = new StandInBackend(dir);
  const loop = await DevLoop.open({ instanceDir: dir, backend, settings: loadSettings(dir) });
  const { ended } = collect(loop.queue);
  try {
    writeFileSync(join(dir, 'src', 'app.c'), 'int main(){return 1;}\n');
    await waitFor(() => ended.length >= 1, 'a build');
    await new Promise((r) => setTimeout(r, 400)); // room for a (wrong) second build
    await loop.queue.whenIdle();
    assert.equal(ended.length, 1, `builds: ${ended.map((r) => r.changes.map((c) => c.rel).join(',')).join(' | ')}`);
    const rels = ended[0]!.changes.map((e) => e.rel);
    assert.ok(rels.includes(join('src', 'app.c')));
    assert.ok(rels.includes(join('image', 'bin', 'app.c')), rels.join(','));
    assert.equal(readFileSync(join(backend.snapshot, 'bin', 'app.c'), 'utf8'), 'int main(){return 1;}\n');
  } finally {
    await loop.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a build that overlapped file writes is superseded: it stops the program but only its follow-up reruns', async () => {
  const dir = instance();
  const backend = new StandInBackend(dir);
  // Events still settling when a build ends: a real change (a follow-up build) or nothing.
  let late: 'change' | 'nothing' | null = null;
  const absorber = {
    hold() {},
    release() {},
    settle: async () => {
      const what = late;
      late = null;
      return what === 'change' ? set(dir, 'image/bin/app') : null;
    },
    get pending() {
      return late !== null;
    },
  };
  const q = new BuildQueue({ instanceDir: dir, backend, settings: loadSettings(dir), absorber });
  const { ended, runOutput } = collect(q);
  const starts: number[] = [];
  q.on('run-start', (e) => starts.push(e.at));
  try {
    q.buildNow('initial');
    await q.whenIdle();
    const first = await q.run({ path: '/bin/app', args: [] });
    await waitFor(() => runOutput.join('').includes('app v1'), 'first run output');
    late = 'change'; // files are still changing when this build ends
    q.onChanges(set(dir, 'image/bin/app'));
    await q.whenIdle();
    await first.exited;
    assert.deepEqual(
      ended.map((r) => r.outcome),
      ['ok', 'ok', 'ok'],
      'the superseded build and its follow-up',
    );
    assert.equal(starts.length, 2, 'only the follow-up reruns');
    // Events that net to nothing (a temporary file come and gone): no follow-up, the rerun now.
    late = 'nothing';
    q.onChanges(set(dir, 'image/bin/app'));
    await q.whenIdle();
    assert.equal(ended.length, 4);
    await waitFor(() => starts.length === 3, 'the rerun after the build');
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
